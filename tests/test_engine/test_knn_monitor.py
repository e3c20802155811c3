"""KNNMonitorHook inside a real mmengine Runner, against a numpy oracle."""
import copy
import glob
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn
from dist_utils import run_distributed
from mmengine.dataset import BaseDataset, DefaultSampler
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmpretrain.registry import DATASETS, MODELS

from mmsiameseim.engine.hooks import KNNMonitorHook
from mmsiameseim.engine.hooks.knn_monitor import gather_features

NUM_CLASSES = 3
IMG, PATCH, DIM = 8, 4, 6
PER_CLASS = dict(train=8, test=6)
TARGET_GAIN = [4.0, 0.05, 1.0, 0.05, 3.0, 0.05]
K, T = 5, 0.1


def toy_split(split):
    """Class-coloured 8x8 uint8 images with heavy noise, and labels."""
    centres = np.random.default_rng(0).uniform(60, 196,
                                               (NUM_CLASSES, IMG, IMG, 3))
    rng = np.random.default_rng(1 if split == 'train' else 2)
    labels = np.repeat(np.arange(NUM_CLASSES), PER_CLASS[split])
    imgs = centres[labels] + rng.normal(0, 55, (len(labels), IMG, IMG, 3))
    return np.clip(imgs, 0, 255).astype(np.uint8), labels


@DATASETS.register_module(name='KNNMonitorToyDataset', force=True)
class KNNMonitorToyDataset(BaseDataset):

    def __init__(self, split='train', **kwargs):
        self.split = split
        super().__init__(ann_file='', serialize_data=False, **kwargs)

    def load_data_list(self):
        imgs, labels = toy_split(self.split)
        return [dict(img=img, gt_label=int(y)) for img, y in zip(imgs, labels)]


def projection():
    return torch.randn(
        3 * PATCH * PATCH, DIM, generator=torch.Generator().manual_seed(7))


class ToyTokenBackbone(nn.Module):
    """Fixed patch projection times a learnable per-channel gain.

    Returns ``(pooled, raw)`` with raw tokens ``(B, 1 + 4, DIM)``; the cls
    token is a constant 50, so including it in the average would change the
    kNN answer.
    """

    def __init__(self):
        super().__init__()
        self.register_buffer('proj', projection())
        self.gain = nn.Parameter(torch.ones(DIM))

    def forward(self, x):
        B = x.shape[0]
        patches = x.unfold(2, PATCH, PATCH).unfold(3, PATCH, PATCH)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(B, -1, 48)
        tokens = patches @ self.proj * self.gain
        cls = torch.full_like(tokens[:, :1], 50.)
        return (tokens.mean(1), torch.cat([cls, tokens], 1))


@MODELS.register_module(name='KNNMonitorToyModel', force=True)
class KNNMonitorToyModel(BaseModel):
    """Its loss pulls the backbone gain towards ``TARGET_GAIN``."""

    def __init__(self, data_preprocessor):
        super().__init__(data_preprocessor=data_preprocessor)
        self.backbone = ToyTokenBackbone()
        self.register_buffer('target', torch.tensor(TARGET_GAIN))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        if mode == 'loss':
            assert inputs.shape[1:] == (3, IMG, IMG)
            gain = self.backbone.gain
            return dict(loss=((gain - self.target)**2).sum())
        return self.backbone(inputs)


class GainRecorder(Hook):
    """Stores the backbone gain wherever the kNN hook evaluates."""

    priority = 'LOWEST'

    def __init__(self):
        self.gains = []

    def _record(self, runner):
        self.gains.append(runner.model.backbone.gain.detach().clone())

    def before_train(self, runner):
        self._record(runner)

    def after_train_epoch(self, runner):
        self._record(runner)


def oracle_top1(gain):
    """Features and weighted kNN re-done in numpy, loop by loop."""
    proj = projection().double().numpy()
    gain = gain.double().numpy()

    def feats(split):
        imgs, labels = toy_split(split)
        x = (imgs.astype(np.float64) - 127.5) / 127.5
        x = x.transpose(0, 3, 1, 2)
        out = []
        for img in x:
            tokens = [
                img[:, i:i + PATCH, j:j + PATCH].reshape(-1) @ proj * gain
                for i in (0, PATCH) for j in (0, PATCH)
            ]
            f = np.mean(tokens, axis=0)
            out.append(f / np.linalg.norm(f))
        return np.array(out), labels

    bank, bank_labels = feats('train')
    query, query_labels = feats('test')
    correct = 0
    for q, y in zip(query, query_labels):
        sims = bank @ q
        votes = np.zeros(NUM_CLASSES)
        for i in np.argsort(-sims)[:K]:
            votes[bank_labels[i]] += math.exp(sims[i] / T)
        correct += int(np.argmax(votes) == y)
    return 100. * correct / len(query)


def loader(split, batch_size):
    return dict(
        batch_size=batch_size,
        num_workers=0,
        dataset=dict(
            type='KNNMonitorToyDataset',
            split=split,
            pipeline=[dict(type='PackInputs')]))


def make_runner(tmp_path, hook, extra_hooks=(), max_epochs=2):
    train_loader = loader('train', 8)
    train_loader['sampler'] = dict(type='DefaultSampler', shuffle=True)
    train_loader['collate_fn'] = dict(type='default_collate')
    return Runner(
        model=dict(
            type='KNNMonitorToyModel',
            data_preprocessor=dict(
                type='SelfSupDataPreprocessor',
                mean=[127.5] * 3,
                std=[127.5] * 3)),
        work_dir=str(tmp_path),
        experiment_name=f'knn_monitor_{tmp_path.name}',
        train_dataloader=train_loader,
        train_cfg=dict(by_epoch=True, max_epochs=max_epochs),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1)),
        default_hooks=dict(checkpoint=None),
        custom_hooks=[hook, *extra_hooks],
        default_scope='mmpretrain',
        log_level='WARNING',
        randomness=dict(seed=0))


def knn_hook_cfg(**kwargs):
    cfg = dict(
        type='KNNMonitorHook',
        train_dataloader=loader('train', 10),
        val_dataloader=loader('test', 7),
        k=K,
        temperature=T)
    cfg.update(kwargs)
    return cfg


def find_hook(runner):
    hooks = [h for h in runner.hooks if isinstance(h, KNNMonitorHook)]
    assert len(hooks) == 1
    return hooks[0]


def test_hook_logs_oracle_accuracy_every_epoch(tmp_path):
    recorder = GainRecorder()
    runner = make_runner(tmp_path, knn_hook_cfg(), [recorder])
    runner.train()
    hook = find_hook(runner)

    # evaluated before training and after each of the 2 epochs
    assert [step for step, _ in hook.history] == [0, 1, 2]
    assert len(recorder.gains) == 3
    assert torch.equal(recorder.gains[0], torch.ones(DIM))
    assert not torch.allclose(recorder.gains[1], recorder.gains[2])
    expected = [oracle_top1(g) for g in recorder.gains]
    got = [result['knn/top1'] for _, result in hook.history]
    assert got == pytest.approx(expected)
    assert len(set(expected)) > 1  # training changed the answer
    assert hook.last_result == hook.history[-1][1]
    for _, result in hook.history:
        assert set(result) == {
            'knn/top1', 'knn/top5', 'collapse/feat_std',
            'collapse/feat_std_ratio'
        }
        assert result['knn/top5'] == 100.0  # 3 classes
        ratio = result['collapse/feat_std'] * math.sqrt(DIM)
        assert result['collapse/feat_std_ratio'] == pytest.approx(ratio)
        assert 0 < ratio < 1

    # the message hub holds the whole series
    values = runner.message_hub.get_scalar('knn/top1').data[0]
    assert list(values) == pytest.approx(expected)
    assert runner.message_hub.get_scalar(
        'collapse/feat_std_ratio').current() == pytest.approx(
            hook.last_result['collapse/feat_std_ratio'])

    # and the visualizer backend wrote them with the epoch as step
    files = glob.glob(osp.join(str(tmp_path), '*', 'vis_data', 'scalars.json'))
    assert len(files) == 1
    with open(files[0]) as f:
        lines = [json.loads(line) for line in f]
    knn_lines = [line for line in lines if 'knn/top1' in line]
    assert [line['step'] for line in knn_lines] == [0, 1, 2]
    assert [line['knn/top1'] for line in knn_lines] == pytest.approx(expected)
    assert all('collapse/feat_std' in line for line in knn_lines)

    # the model is back in train mode
    assert runner.model.training and runner.model.backbone.training


def test_hook_by_iteration(tmp_path):
    # 24 images / batch 8 = 3 iterations per epoch, 6 in all: interval 4
    # evaluates at iterations 4 and 6 (the last); before_train disabled.
    runner = make_runner(
        tmp_path,
        knn_hook_cfg(
            by_epoch=False,
            interval=4,
            before_train=False,
            collapse_signal=False))
    runner.train()
    hook = find_hook(runner)
    assert [step for step, _ in hook.history] == [4, 6]
    assert set(hook.last_result) == {'knn/top1', 'knn/top5'}
    final_gain = runner.model.backbone.gain.detach()
    assert hook.last_result['knn/top1'] == pytest.approx(
        oracle_top1(final_gain))


def test_hook_pool_cls_sees_constant_feature(tmp_path):
    # with pool='cls' every image has the same feature: the collapse signal
    # is 0 and every query gets the same votes, hence the same class; the
    # test split is balanced, so top-1 is exactly 1/3.
    runner = make_runner(
        tmp_path, knn_hook_cfg(pool='cls', interval=5), max_epochs=1)
    runner.train()
    hook = find_hook(runner)
    assert [step for step, _ in hook.history] == [0, 1]
    assert hook.last_result['collapse/feat_std_ratio'] == pytest.approx(
        0, abs=1e-6)
    assert hook.last_result['knn/top1'] == pytest.approx(100 / 3)


@pytest.mark.parametrize('kwargs, error, match', [
    (dict(pool='max'), ValueError, 'pool must be one of'),
    (dict(interval=0), ValueError, 'interval must be'),
    (dict(k=0), ValueError, 'k must be'),
    (dict(temperature=-1.), ValueError, 'temperature must be'),
    (dict(val_dataloader=dict(batch_size=2)), ValueError,
     "val_dataloader needs a 'dataset'"),
    (dict(train_dataloader=[1, 2]), TypeError, 'train_dataloader must be'),
])
def test_hook_bad_arguments(kwargs, error, match):
    cfg = knn_hook_cfg(**kwargs)
    cfg.pop('type')
    with pytest.raises(error, match=match):
        KNNMonitorHook(**cfg)


def test_hook_does_not_mutate_configs():
    cfg = knn_hook_cfg()
    cfg.pop('type')
    original = copy.deepcopy(cfg)
    KNNMonitorHook(**cfg)
    assert cfg == original


def _gather_shards(rank, world_size, size):
    """Each rank holds its DefaultSampler shard; rank 0 gets all rows."""
    sampler = DefaultSampler(list(range(size)), shuffle=False)
    index = torch.tensor(list(sampler))
    feats = torch.stack([index.float(), -index.float()], 1)
    return gather_features(feats, index * 10, size)


def test_gather_features_in_dataset_order():
    # 5 samples on 2 ranks: rank 0 holds 0, 2, 4, rank 1 holds 1, 3, 0
    # (padding); the gathered rows must be 0..4 in order.
    results = run_distributed(_gather_shards, 2, 5)
    feats, labels = results[0]
    assert feats[:, 0].tolist() == [0, 1, 2, 3, 4]
    assert feats[:, 1].tolist() == [0, -1, -2, -3, -4]
    assert labels.tolist() == [0, 10, 20, 30, 40]
    assert results[1] is None
