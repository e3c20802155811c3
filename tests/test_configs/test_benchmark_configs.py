"""Every evaluation config of configs/siameseim/benchmarks/ runs.

Each config keeps its pipelines, optimiser, schedule, hooks and metric;
only the ViT is shrunk (32 wide, 2 blocks) and the data points at tiny
folders made here (ImageNet layout with ``meta/*.txt``, the ImageNet-A/-R/
-Sketch/-C layouts) or at a few real Fashion-MNIST images. Training configs
run 2 iterations and one evaluation from a SiameseIM pretraining checkpoint
converted by ``tools/model_converters/siameseim_to_backbone.py``; test
configs evaluate a classifier whose predictions are fixed by its head bias,
so the expected numbers are known.
"""
import copy
import glob
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import RUNNERS
from mmpretrain.registry import MODELS
from PIL import Image
from test_configs.config_pins import config_path
from tool_modules import load_tool

from mmsiameseim.checkpoints import check_backbone_load
from mmsiameseim.datasets import (IMAGENET_A_WNIDS, IMAGENET_C_CORRUPTIONS,
                                  IMAGENET_R_WNIDS, IMAGENET_WNIDS)
from mmsiameseim.evaluation.metrics.corruption_error import ALEXNET_MEAN_ERRORS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(ROOT, 'configs', 'siameseim', 'benchmarks')
DEMO = osp.join(ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')
FASHION_ROOT = osp.join(ROOT, 'data', 'fashion-mnist')
EMBED, LAYERS = 32, 2


def _config(name):
    return Config.fromfile(config_path(name))


def _load_converter():
    path = osp.join(ROOT, 'tools', 'model_converters',
                    'siameseim_to_backbone.py')
    return load_tool(path)


def shrink(cfg):
    """A 32-wide, 2-block ViT; everything else as configured."""
    backbone = cfg.model.backbone
    backbone.arch = dict(
        embed_dims=EMBED,
        num_layers=LAYERS,
        num_heads=2,
        feedforward_channels=64)
    if backbone.get('frozen_stages', -1) > 0:
        backbone.frozen_stages = LAYERS
    if cfg.model.get('neck'):
        cfg.model.neck.input_features = EMBED
    cfg.model.head.in_channels = EMBED
    return cfg


def cpu_runtime(cfg, work_dir, batch=2):
    """Small batches, no workers, fp32 (AMP needs a GPU), quiet logs."""
    cfg.work_dir = str(work_dir)
    cfg.log_level = 'WARNING'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(key) is None:
            continue
        loader = cfg[key]
        loader.batch_size = batch
        loader.num_workers = 0
        loader.persistent_workers = False
    if cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'OptimWrapper'
        cfg.optim_wrapper.pop('loss_scale', None)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    return cfg


def _write_image(path, seed, size=64):
    rng = np.random.default_rng(seed)
    os.makedirs(osp.dirname(path), exist_ok=True)
    Image.fromarray(rng.integers(0, 256, (size, size, 3),
                                 dtype=np.uint8)).save(path)


@pytest.fixture(scope='module')
def imagenet(tmp_path_factory):
    """ImageNet in mmpretrain's layout: class folders + meta/*.txt."""
    root = str(tmp_path_factory.mktemp('imagenet'))
    wnids = IMAGENET_WNIDS[:2]
    lines = dict(train=[], val=[])
    for split, per_class in (('train', 2), ('val', 1)):
        for label, wnid in enumerate(wnids):
            for i in range(per_class):
                name = f'{wnid}/{wnid}_{i}.JPEG'
                _write_image(
                    osp.join(root, split, name), seed=len(lines[split]))
                lines[split].append(f'{name} {label}')
    os.makedirs(osp.join(root, 'meta'))
    for split, rows in lines.items():
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(rows) + '\n')
    return root


def _pretraining_checkpoint(model_cfg, folder, name):
    """A SiameseIM pretraining checkpoint (as the Runner stores the model
    weights) and its backbone file made by the converter."""
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(model_cfg))
    model.init_weights()
    for p in model.parameters():  # distinct from any init of the classifier
        p.data.normal_()
    state = model.state_dict()
    src = osp.join(folder, f'{name}_pretrain.pth')
    dst = osp.join(folder, f'{name}_backbone.pth')
    torch.save(dict(state_dict=state, meta=dict(epoch=4)), src)
    assert _load_converter().main([src, dst]) == 0
    return state, dst


@pytest.fixture(scope='module')
def vit16_pretrain(tmp_path_factory):
    """Tiny SiameseIM at 224 px, patch 16 (the ImageNet configs' grid)."""
    from test_models.siameseim_tiny import TINY
    cfg = copy.deepcopy(TINY)
    cfg['backbone'].update(img_size=224, patch_size=16)
    cfg['head'].update(grid_size=14)
    return _pretraining_checkpoint(
        cfg, str(tmp_path_factory.mktemp('pretrain16')), 'tiny16')


@pytest.fixture(scope='module')
def demo_pretrain(tmp_path_factory):
    """A pretraining checkpoint of the CPU demo's own model."""
    cfg = Config.fromfile(DEMO).model.to_dict()
    return _pretraining_checkpoint(
        cfg, str(tmp_path_factory.mktemp('pretrain_demo')), 'demo')


class ModeRecorder(Hook):
    """Records the backbone's train/eval flags at every training step."""

    def __init__(self):
        self.flags = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        backbone = runner.model.backbone
        self.flags.append({m.training for m in backbone.modules()})


TRAIN_CONFIGS = {
    'vit-base-p16_8xb128-coslr-100e_in1k.py': 'finetune',
    'vit-large-p16_8xb128-coslr-50e_in1k.py': 'finetune',
    'vit-base-p16_8xb2048-linear-coslr-90e_in1k.py': 'linear',
}
HEAD_KEYS = {'head.fc.weight', 'head.fc.bias'}
LN2_KEYS = {'backbone.ln2.weight', 'backbone.ln2.bias'}
BN_BUFFERS = {
    'neck.bn.running_mean', 'neck.bn.running_var',
    'neck.bn.num_batches_tracked'
}


def _run_training(cfg, pretrain, tmp_path):
    state, backbone_file = pretrain
    cfg.model.backbone.init_cfg.checkpoint = backbone_file
    recorder = ModeRecorder()
    runner = RUNNERS.build(cfg)
    runner.register_hook(recorder)
    model = runner.model
    # the checkpoint's keys against the classifier, before any training
    own = set(model.state_dict())
    converted = torch.load(backbone_file, weights_only=True)['state_dict']
    linear = cfg.model.get('neck') is not None
    missing = LN2_KEYS | HEAD_KEYS | (BN_BUFFERS if linear else set())
    assert own - set(converted) == missing
    assert set(converted) - own == set()
    # the unconverted pretraining checkpoint (load_from): same missing
    # keys, and exactly its non-encoder keys unexpected
    assert own - set(state) == missing
    assert set(state) - own == {
        k for k in state if not k.startswith('backbone.')}
    runner.train()
    return runner, recorder, state


@pytest.mark.parametrize('name', sorted(TRAIN_CONFIGS))
def test_imagenet_training_config(name, imagenet, vit16_pretrain, tmp_path):
    cfg = cpu_runtime(shrink(_config(name)), tmp_path)
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].dataset.data_root = imagenet
    cfg.train_cfg.max_epochs = 1  # 4 images at batch 2: 2 iterations
    runner, recorder, state = _run_training(cfg, vit16_pretrain, tmp_path)
    assert len(recorder.flags) == 2
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 2 and np.isfinite(losses).all()
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert top1 in (0., 50., 100.)  # 2 validation images
    backbone = runner.model.backbone
    trained = {
        k: v
        for k, v in backbone.state_dict().items()
        if not k.startswith('ln2')
    }
    if TRAIN_CONFIGS[name] == 'linear':
        # every backbone tensor bit-identical, the backbone in eval mode
        # at every step; the head and the BN statistics trained
        for key, value in trained.items():
            assert torch.equal(value, state['backbone.' + key]), key
        assert all(flags == {False} for flags in recorder.flags)
        trainable = {
            n
            for n, p in runner.model.named_parameters() if p.requires_grad
        }
        assert trainable == HEAD_KEYS
        assert runner.model.neck.bn.num_batches_tracked.item() == 2
    else:
        # fine-tuning: the encoder moves, the sin-cos table does not
        assert torch.equal(backbone.pos_embed, state['backbone.pos_embed'])
        assert not torch.equal(backbone.layers[0].attn.qkv.weight,
                               state['backbone.layers.0.attn.qkv.weight'])
        assert not torch.equal(
            backbone.patch_embed.projection.weight,
            state['backbone.patch_embed.projection.weight'])


def test_pretrained_load_check_fails_loudly(vit16_pretrain, tmp_path):
    """A backbone file missing a layer does not train silently."""
    cfg = shrink(_config('vit-base-p16_8xb128-coslr-100e_in1k.py'))
    state, backbone_file = vit16_pretrain
    data = torch.load(backbone_file, weights_only=True)
    partial = {
        k: v
        for k, v in data['state_dict'].items()
        if not k.startswith('backbone.layers.1.')
    }
    bad = osp.join(str(tmp_path), 'partial.pth')
    torch.save(dict(state_dict=partial), bad)
    for path, ok in ((backbone_file, True), (bad, False)):
        cfg.model.backbone.init_cfg.checkpoint = path
        model = MODELS.build(cfg.model)
        model.init_weights()
        report = check_backbone_load(model.backbone)
        assert report.ok is ok
        assert sorted(report.fresh) == ['ln2.bias', 'ln2.weight']
        if not ok:
            assert all(k.startswith('layers.1.')
                       for k in report.unexpected_fresh)
            assert len(report.unexpected_fresh) == 12
            with pytest.raises(RuntimeError, match='load check failed'):
                report.raise_if_failed()


FASHION = {
    'vit-mini-p4_1xb64-coslr-2e_fashion-mnist.py': 'finetune',
    'vit-mini-p4_1xb256-linear-coslr-10e_fashion-mnist.py': 'linear',
}


@pytest.mark.parametrize('name', sorted(FASHION))
def test_fashion_mnist_config(name, demo_pretrain, tmp_path):
    """The demo-size configs on real Fashion-MNIST images: the converted
    demo checkpoint loads with only ln2 (and the head) fresh."""
    cfg = cpu_runtime(_config(name), tmp_path)
    cfg.train_dataloader.dataset.update(data_root=FASHION_ROOT, indices=4)
    cfg.val_dataloader.dataset.update(data_root=FASHION_ROOT, indices=6)
    cfg.train_cfg.max_epochs = 1
    cfg.train_cfg.val_interval = 1
    runner, recorder, state = _run_training(cfg, demo_pretrain, tmp_path)
    assert len(recorder.flags) == 2
    top1 = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert 0. <= top1 <= 100. and round(top1 * 6 / 100) == top1 * 6 / 100
    if FASHION[name] == 'linear':
        assert all(flags == {False} for flags in recorder.flags)
        for key, value in runner.model.backbone.state_dict().items():
            if not key.startswith('ln2'):
                assert torch.equal(value, state['backbone.' + key]), key


def test_eval_study_selects_the_lr_on_held_out_training_images(tmp_path):
    """The lr stage validates on train[50000:52000]: mmpretrain's
    FashionMNIST reads the split named by ``test_mode``, so the val loader's
    ``test_mode=True`` must go with the split."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS

    from projects.study_bench.fashion_mnist import load_split
    from projects.study_bench.studies.eval_study import (FINETUNE, HELDOUT,
                                                         study_config)
    cfg = study_config(FINETUNE, str(tmp_path), FASHION_ROOT, None,
                       heldout=True)
    assert cfg.model.backbone.init_cfg is None and cfg.custom_hooks == []
    init_default_scope('mmpretrain')
    dataset = DATASETS.build(cfg.val_dataloader.dataset)
    images, labels = load_split(FASHION_ROOT, 'train')
    assert len(dataset) == len(HELDOUT) == 2000
    for i, index in ((0, 50000), (1999, 51999)):
        info = dataset.get_data_info(i)
        assert np.array_equal(np.asarray(info['img']), images[index])
        assert int(info['gt_label']) == labels[index]


# ---------------------------------------------------------------- test sets


def _fixed_classifier(cfg, tmp_path, favourites):
    """A checkpoint whose logits are its head bias, whatever the image:
    ``favourites`` = ``{imagenet index: logit}``, every other logit 0."""
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model.head.fc.weight.data.zero_()
    model.head.fc.bias.data.zero_()
    for index, logit in favourites.items():
        model.head.fc.bias.data[index] = logit
    path = osp.join(str(tmp_path), 'finetuned.pth')
    torch.save(dict(state_dict=model.state_dict()), path)
    return path


def _run_test(name, tmp_path, data_root, favourites, **dataset):
    cfg = cpu_runtime(shrink(_config(name)), tmp_path, batch=4)
    assert cfg.model.backbone.init_cfg is None and cfg.custom_hooks == []
    cfg.test_dataloader.dataset.update(data_root=data_root, **dataset)
    cfg.load_from = _fixed_classifier(cfg, tmp_path, favourites)
    runner = RUNNERS.build(cfg)
    return runner.test()


def _class_folders(root, wnids, with_images, size=64):
    for wnid in wnids:
        os.makedirs(osp.join(root, wnid), exist_ok=True)
    for i, wnid in enumerate(with_images):
        _write_image(osp.join(root, wnid, f'img{i}.JPEG'), i, size)


# the first ImageNet class is in neither 200-class subset: a plain arg-max
# picks it for every image, the subset arg-max never does
OUTSIDE = 0
assert IMAGENET_WNIDS[OUTSIDE] not in IMAGENET_A_WNIDS + IMAGENET_R_WNIDS


@pytest.mark.parametrize('subset,wnids', [('a', IMAGENET_A_WNIDS),
                                          ('r', IMAGENET_R_WNIDS)])
def test_subset_test_configs(subset, wnids, tmp_path):
    root = osp.join(str(tmp_path), f'imagenet-{subset}')
    index = {w: i for i, w in enumerate(IMAGENET_WNIDS)}
    first, second = sorted(wnids)[:2]
    _class_folders(root, wnids, [first, second])
    metrics = _run_test(
        f'vit-base-p16_8xb128-robustness_imagenet-{subset}.py', tmp_path,
        root, {
            OUTSIDE: 10.,
            index[first]: 5.,
            index[second]: 4.
        })
    # restricted to the 200 classes: `first` wins, `second` is 2nd
    assert metrics['subset/top1'] == pytest.approx(50.)
    assert metrics['subset/top5'] == pytest.approx(100.)


def test_sketch_test_config(tmp_path):
    root = osp.join(str(tmp_path), 'imagenet-sketch')
    _class_folders(root, IMAGENET_WNIDS, IMAGENET_WNIDS[:3])
    metrics = _run_test('vit-base-p16_8xb128-robustness_imagenet-sketch.py',
                        tmp_path, root, {OUTSIDE: 10., 2: 9., 1: -5.})
    assert metrics['accuracy/top1'] == pytest.approx(100. / 3)
    assert metrics['accuracy/top5'] == pytest.approx(200. / 3)


def test_imagenet_c_test_config(tmp_path):
    """Predictions always class 0; at severities 1-2 the image is of class
    0 (right), at 3-5 of class 1 (wrong): error 0.6 for every corruption."""
    root = osp.join(str(tmp_path), 'imagenet-c')
    for corruption in IMAGENET_C_CORRUPTIONS:
        for severity in range(1, 6):
            wnid = IMAGENET_WNIDS[0 if severity <= 2 else 1]
            _write_image(
                osp.join(root, corruption, str(severity), wnid, 'x.JPEG'),
                severity)
    # 64 px images (CenterCrop 224 keeps them whole; the ViT resizes its
    # position table). strict=False: 1 of the 1000 class folders each
    metrics = _run_test('vit-base-p16_8xb128-robustness_imagenet-c.py',
                        tmp_path, root, {OUTSIDE: 10.}, strict=False)
    mce = np.mean([0.6 / ALEXNET_MEAN_ERRORS[c]
                   for c in IMAGENET_C_CORRUPTIONS]) * 100
    assert metrics['imagenet-c/mCE'] == pytest.approx(mce)
    assert metrics['imagenet-c/1-mCE'] == pytest.approx(100 - mce)
    assert metrics['imagenet-c/error/fog/2'] == 0.
    assert metrics['imagenet-c/error/fog/3'] == 100.
    assert metrics['imagenet-c/CE/fog'] == pytest.approx(60. / 0.819324)


def test_every_benchmark_config_is_tested():
    tested = set(TRAIN_CONFIGS) | set(FASHION) | {
        f'vit-base-p16_8xb128-robustness_imagenet-{s}.py'
        for s in ('a', 'r', 'sketch', 'c')
    }
    on_disk = {osp.basename(p) for p in glob.glob(osp.join(BENCH, '*.py'))}
    on_disk |= {
        osp.basename(p)
        for p in glob.glob(osp.join(ROOT, 'projects', 'study_bench',
                                    'configs', 'evaluation', '*.py'))
    }
    assert on_disk == tested
