"""The offline probes (projects/study_bench/probes/) and their command
lines (tools/benchmarks/{knn_eval,linear_probe,dense_probe}.py)."""
import json
import math
import os
import os.path as osp
import runpy
import struct
import sys

import numpy as np
import pytest
import torch
from tool_modules import load_tool

from mmsiameseim.evaluation import backbone_tokens
from projects.study_bench.probes.dense_probe import (dataset_iou,
                                                     warmup_cosine_schedulers)
from projects.study_bench.probes.frozen_encoder import (FrozenEncoder,
                                                        build_frozen_encoder)
from projects.study_bench.probes.linear import linear_probe_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'benchmarks')
EMBED = 32

PREPROCESSOR = dict(
    type='SelfSupDataPreprocessor', mean=[72.94] * 3, std=[90.] * 3)
ARCH = dict(
    embed_dims=EMBED, num_layers=2, num_heads=2, feedforward_channels=64)
BACKBONES = dict(
    siameseim=dict(
        type='SiameseIM',
        backbone=dict(
            type='SiameseIMViT', arch=ARCH, img_size=32, patch_size=8)),
    mae=dict(
        type='MAE',
        backbone=dict(
            type='MAEViT', arch=ARCH, img_size=32, patch_size=8,
            mask_ratio=0.75)),
    mocov3=dict(
        type='MoCoV3',
        backbone=dict(
            type='MoCoV3ViT', arch=ARCH, img_size=32, patch_size=8,
            out_type='cls_token')),
)


def write_config(tmp_path, name='siameseim'):
    model = dict(BACKBONES[name], data_preprocessor=PREPROCESSOR)
    path = osp.join(str(tmp_path), f'tiny_{name}.py')
    with open(path, 'w') as f:
        f.write("custom_imports = dict(imports=['mmsiameseim'], "
                'allow_failed_imports=False)\n')
        f.write(f'model = {model!r}\n')
    return path


def fake_images(n, seed):
    """Class c: a bright bar whose place and direction depend on c."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 10
    images = rng.integers(0, 30, size=(n, 28, 28)).astype(np.uint8)
    for img, c in zip(images, labels):
        pos = 3 + 4 * (c % 5)
        if c < 5:
            img[pos:pos + 4, 4:24] = rng.integers(180, 256)
        else:
            img[4:24, pos:pos + 4] = rng.integers(180, 256)
    return images, labels


def write_idx(root, prefix, images, labels):
    with open(osp.join(root, f'{prefix}-images-idx3-ubyte'), 'wb') as f:
        f.write(struct.pack('>IIII', 0x0803, *images.shape))
        f.write(images.tobytes())
    with open(osp.join(root, f'{prefix}-labels-idx1-ubyte'), 'wb') as f:
        f.write(struct.pack('>II', 0x0801, len(labels)))
        f.write(labels.astype(np.uint8).tobytes())


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('fmnist'))
    write_idx(root, 'train', *fake_images(80, seed=0))
    write_idx(root, 't10k', *fake_images(40, seed=1))
    return root


@pytest.fixture(autouse=True)
def one_thread():
    """The CI machine has two shared cores: avoid oversubscription."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def load_bench(name):
    return load_tool(osp.join(TOOLS, f'{name}.py'))


def read_lines(path):
    with open(path) as f:
        return [json.loads(line) for line in f.read().splitlines()]


# ---------------------------------------------------------------- mIoU


def test_miou_toy_known_answer():
    target = torch.tensor([[[0, 0, 1, 1], [0, 0, 1, 1]]])
    pred = torch.tensor([[[0, 1, 1, 1], [0, 1, 1, 1]]])
    res = dataset_iou(pred, target, num_classes=3)
    # class 0: 2 / (2 + 2); class 1: 4 / (4 + 2); class 2 absent: left out
    assert res['miou'] == pytest.approx((0.5 + 4 / 6) / 2 * 100)
    assert res['aacc'] == pytest.approx(75.)
    assert res['iou'][2] is None and res['num_classes_present'] == 2
    # A class that is only predicted counts, with IoU 0.
    pred2 = pred.clone()
    pred2[0, 0, 0] = 2
    res2 = dataset_iou(pred2, target, 3)
    assert res2['iou'][2] == 0. and res2['num_classes_present'] == 3
    assert res2['miou'] == pytest.approx((1 / 4 + 4 / 6 + 0) / 3 * 100)
    assert dataset_iou(target, target, 3)['miou'] == pytest.approx(100.)


def test_miou_counts_the_whole_dataset_against_a_loop():
    """Areas add over maps before the ratio (not a mean of per-map IoUs)."""
    g = torch.Generator().manual_seed(0)
    target = torch.randint(0, 5, (3, 7, 9), generator=g)
    pred = torch.randint(0, 5, (3, 7, 9), generator=g)
    inter, union = np.zeros(5), np.zeros(5)
    for t, p in zip(target.flatten().tolist(), pred.flatten().tolist()):
        inter[t] += t == p
        union[t] += 1
        union[p] += t != p
    res = dataset_iou(pred, target, 5)
    assert res['iou'] == pytest.approx(list(100 * inter / union))
    assert res['miou'] == pytest.approx(100 * np.mean(inter / union))


@pytest.mark.parametrize('warmup,total', [(1, 3), (4, 10), (5, 5), (3, 4)])
def test_dense_probe_schedule_is_warmup_then_cosine(warmup, total):
    """mmengine's schedulers give the closed form, step by step: linear
    from 0 to the peak at step ``warmup``, then half a cosine to 0."""
    base = 1e-2
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)],
                                lr=base)
    schedulers = warmup_cosine_schedulers(optimizer, warmup, total)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    expected = [
        base * t / warmup if t < warmup else base * 0.5 *
        (1 + math.cos(math.pi * (t - warmup) / max(1, total - warmup)))
        for t in range(total)
    ]
    assert lrs == pytest.approx(expected, rel=1e-9, abs=1e-13)


# ---------------------------------------------------------------- encoder


@pytest.mark.parametrize('name', ['siameseim', 'mae', 'mocov3'])
def test_encoder_of_each_backbone(tmp_path, name):
    enc, info = build_frozen_encoder(write_config(tmp_path, name), 'none')
    assert isinstance(enc, FrozenEncoder) and not enc.training
    assert not any(p.requires_grad for p in enc.parameters())
    enc.train()
    assert not enc.training and not enc.backbone.training
    # the config's normalisation
    x = enc.preprocess(torch.full((2, 3, 32, 32), 162.94))
    torch.testing.assert_close(x, torch.ones(2, 3, 32, 32))
    # the dense probe's 64 px canvases: the position embedding is resized
    cls, big = backbone_tokens(enc.backbone, enc.preprocess(
        torch.zeros(2, 3, 64, 64)))
    assert cls.shape == (2, EMBED) and big.shape == (2, 8, 8, EMBED)
    assert info['img_size'] == 32 and info['patch_size'] == 8
    assert info['embed_dims'] == EMBED and not info['checkpoint_loaded']


def test_checkpoint_loading(tmp_path):
    from mmpretrain.registry import MODELS
    config = write_config(tmp_path)
    torch.manual_seed(123)
    backbone = MODELS.build(BACKBONES['siameseim']['backbone'])
    for p in backbone.parameters():
        p.data.normal_()
    state = {f'backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['target.extra'] = torch.zeros(1)  # not the backbone: dropped
    state['backbone.bogus'] = torch.zeros(1)  # counted as unexpected
    plain = osp.join(str(tmp_path), 'plain.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=1)), plain)
    enc, info = build_frozen_encoder(config, plain)
    assert info['checkpoint_loaded'] and info['unexpected_keys'] == 1
    for k, v in backbone.state_dict().items():
        assert torch.equal(enc.backbone.state_dict()[k], v), k
    rand, _ = build_frozen_encoder(config, 'none')
    assert not torch.equal(rand.backbone.layers[0].attn.qkv.weight,
                           backbone.layers[0].attn.qkv.weight)
    # A checkpoint with pickled objects (as mmengine writes) needs trust:
    # the flag, or the run's manifest; a work-dir look-alike is not enough.
    from mmengine.logging import HistoryBuffer

    from mmsiameseim.checkpoints import record_run_checkpoint
    run_dir = osp.join(str(tmp_path), 'run')
    os.makedirs(run_dir)
    pickled = osp.join(run_dir, 'epoch_1.pth')
    torch.save(dict(state_dict=state, meta=dict(loss=HistoryBuffer())),
               pickled)
    with pytest.raises(ValueError, match='--trusted'):
        build_frozen_encoder(config, pickled)
    build_frozen_encoder(config, pickled, trusted=True)
    with open(osp.join(run_dir, 'last_checkpoint'), 'w') as f:
        f.write(pickled)
    with pytest.raises(ValueError, match='epoch_1.pth'):
        build_frozen_encoder(config, pickled)
    record_run_checkpoint(pickled)  # what SafeResumeRunner does on save
    enc2, _ = build_frozen_encoder(config, pickled)
    assert torch.equal(enc2.backbone.cls_token, backbone.cls_token)
    # Missing backbone weights are an error, not a silent random init.
    partial = osp.join(str(tmp_path), 'partial.pth')
    torch.save({k: v for k, v in state.items() if 'layers.1' not in k},
               partial)
    with pytest.raises(ValueError, match='lacks'):
        build_frozen_encoder(config, partial)


def test_checkpoint_loading_compares_what_arrived(tmp_path, monkeypatch):
    """A load that silently leaves a tensor as it was (a pre-hook, a
    strict=False path) is caught by comparing tensors, not keys."""
    from mmpretrain.registry import MODELS
    config = write_config(tmp_path)
    backbone = MODELS.build(BACKBONES['siameseim']['backbone'])
    for p in backbone.parameters():
        p.data.normal_()
    path = osp.join(str(tmp_path), 'enc.pth')
    torch.save({f'backbone.{k}': v
                for k, v in backbone.state_dict().items()}, path)
    real_load = torch.nn.Module.load_state_dict

    def drop_one_tensor(module, state_dict, strict=True, **kwargs):
        state_dict = dict(state_dict)
        key = 'layers.0.attn.qkv.weight'
        if key in state_dict:  # the key stays, the value is not copied
            state_dict[key] = module.state_dict()[key].clone()
        return real_load(module, state_dict, strict=strict, **kwargs)

    monkeypatch.setattr(torch.nn.Module, 'load_state_dict', drop_one_tensor)
    with pytest.raises(ValueError, match=r'layers\.0\.attn\.qkv\.weight'):
        build_frozen_encoder(config, path)


# ---------------------------------------------------------------- tools

COMMON_KEYS = {
    'tool', 'config', 'checkpoint', 'metric', 'value', 'train_size',
    'test_size', 'seconds', 'device', 'img_size', 'backbone'
}


def test_knn_tool(tmp_path, data_root):
    tool = load_bench('knn_eval')
    out = osp.join(str(tmp_path), 'sub', 'results.jsonl')
    config = write_config(tmp_path)
    argv = [
        config, 'none', '--data-root', data_root, '--device', 'cpu',
        '--train-size', '60', '--test-size', '30', '--img-size', '32',
        '--out', out, '--pool', 'avg'
    ]
    record = tool.main(argv)
    lines = read_lines(out)
    assert lines == [record]
    assert COMMON_KEYS <= set(record)
    assert record['tool'] == 'knn_eval' and record['metric'] == 'knn_top1'
    assert record['train_size'] == 60 and record['test_size'] == 30
    assert record['k'] == 20 and record['temperature'] == 0.07
    assert record['device'] == 'cpu' and record['checkpoint'] == 'none'
    # Bars are easy: even random features beat chance (10%) by far.
    assert 40. <= record['value'] <= 100.
    tool.main(argv[:-2] + ['--pool', 'cls'])
    assert len(read_lines(out)) == 2 and read_lines(out)[1]['pool'] == 'cls'


def test_knn_tool_with_mae_config(tmp_path, data_root):
    tool = load_bench('knn_eval')
    record = tool.main([
        write_config(tmp_path, 'mae'), 'none', '--data-root', data_root,
        '--device', 'cpu', '--train-size', '40', '--test-size', '20'
    ])
    assert record['backbone'] == 'MAEViT' and record['img_size'] == 32
    assert 0. <= record['value'] <= 100.


def test_linear_probe_runs_the_config_on_an_mae_encoder(tmp_path,
                                                        data_root):
    """The one linear probe route: the linear-probing config, pointed at an
    mmpretrain MAE checkpoint, trained by the Runner; the load check of the
    config passes only if every encoder tensor arrived."""
    from mmpretrain.registry import MODELS

    from projects.study_bench.probes.common import ProbeRun
    config = write_config(tmp_path, 'mae')
    torch.manual_seed(1)
    mae = MODELS.build(BACKBONES['mae']['backbone'])
    ckpt = osp.join(str(tmp_path), 'mae.pth')
    torch.save(dict(state_dict={f'backbone.{k}': v
                                for k, v in mae.state_dict().items()}), ckpt)
    cfg = linear_probe_config(
        ProbeRun(config, ckpt, data_root=data_root, train_size=80),
        str(tmp_path))
    backbone = cfg.model.backbone
    assert (backbone.type, backbone.final_norm, backbone.frozen_stages,
            backbone.arch.embed_dims) == ('SiameseIMViT', True, 2, EMBED)
    assert cfg.model.head.in_channels == cfg.model.neck.input_features == 32
    assert cfg.model.data_preprocessor.mean == PREPROCESSOR['mean']
    assert 'PretrainedLoadCheckHook' in [h.type for h in cfg.custom_hooks]
    assert cfg.train_dataloader.dataset.indices == 80
    assert cfg.val_dataloader.dataset.indices is None  # all test images
    out = osp.join(str(tmp_path), 'results.jsonl')
    record = load_bench('linear_probe').main([
        config, ckpt, '--data-root', data_root, '--device', 'cpu',
        '--train-size', '80', '--test-size', '40', '--out', out,
        '--epochs', '3'
    ])
    assert read_lines(out) == [record]
    assert COMMON_KEYS <= set(record)
    assert record['metric'] == 'linear_top1' and record['optimizer'] == 'LARS'
    assert record['checkpoint_loaded'] and record['backbone'] == 'MAEViT'
    assert (record['epochs'], record['warmup_epochs'], record['steps']) == \
        (3, 1, 3)  # batch 256 > 80 images: one step an epoch
    assert (record['train_size'], record['test_size']) == (80, 40)
    assert 0. <= record['value'] <= 100.


def test_dense_probe_tool(tmp_path, data_root):
    tool = load_bench('dense_probe')
    out = osp.join(str(tmp_path), 'results.jsonl')
    dump = osp.join(str(tmp_path), 'scenes')
    record = tool.main([
        write_config(tmp_path), 'none', '--data-root', data_root,
        '--device', 'cpu', '--train-size', '16', '--test-size', '6',
        '--img-size', '32', '--out', out, '--epochs', '3',
        '--dump-scenes', dump, '--num-dump', '2'
    ])
    assert read_lines(out) == [record]
    assert COMMON_KEYS <= set(record)
    assert record['metric'] == 'miou' and record['num_classes'] == 11
    assert record['canvas'] == 64 and record['patch_grid'] == [8, 8]
    assert (record['min_size'], record['max_size']) == (20, 40)
    assert 0. < record['value'] <= 100. and len(record['iou']) == 11
    assert sorted(os.listdir(osp.join(dump, 'images'))) == [
        '00000.png', '00001.png'
    ]


def test_tool_runs_as_a_script(tmp_path, data_root, monkeypatch, capsys):
    """The ``__main__`` entry point, as the command line calls it."""
    out = osp.join(str(tmp_path), 'results.jsonl')
    monkeypatch.setattr(sys, 'argv', [
        'knn_eval.py',
        write_config(tmp_path), 'none', '--data-root', data_root,
        '--device', 'cpu', '--train-size', '20', '--test-size', '10',
        '--out', out
    ])
    monkeypatch.chdir(str(tmp_path))
    with pytest.raises(SystemExit) as status:
        runpy.run_path(osp.join(TOOLS, 'knn_eval.py'), run_name='__main__')
    assert status.value.code == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert read_lines(out) == [printed]
    assert printed['train_size'] == 20 and printed['test_size'] == 10
