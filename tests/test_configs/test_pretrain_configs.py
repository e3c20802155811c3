"""Every SiameseIM pretraining config loads, says what it claims, and trains.

Each config is resized to the tiny test sizes
(projects/study_bench/configs/_base_/sizes/tiny.py: 32 px inputs, 4x4 patch
grid, tiny widths), its own training pipeline (minus the file loading) runs
on real Fashion-MNIST images, and the model takes two optimiser steps.
"""
import copy
import glob
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmengine.logging import MessageHub
from mmengine.optim import OptimWrapper
from mmpretrain.registry import MODELS, TRANSFORMS

import mmsiameseim  # noqa: F401  registration
from mmpretrain.datasets import FashionMNIST
from projects.study_bench.sizes import TINY_SIZES, apply_sizes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA_ROOT = osp.join(ROOT, 'data', 'fashion-mnist')
MAIN = sorted(glob.glob(osp.join(ROOT, 'configs', 'siameseim', '*.py')))
ABLATIONS = sorted(
    glob.glob(osp.join(ROOT, 'configs', 'siameseim', 'ablations', '*.py')))
DEMO = sorted(glob.glob(osp.join(ROOT, 'configs', 'demo', '*.py')))


def _name(path):
    return osp.basename(path)[:-3]


def _row(path):
    """Ablation row letter from ``siameseim-abl-<row>-...``."""
    return _name(path).split('-')[2]


def tiny_pipeline(pipeline_cfg):
    """The config's own (already resized) transforms, without file loading."""
    return [
        TRANSFORMS.build(t) for t in copy.deepcopy(pipeline_cfg)
        if t['type'] not in ('LoadImageFromFile', 'RobustLoadImageFromFile')
    ]


def real_batch(pipeline_cfg, n=4):
    dataset = FashionMNIST(
        data_root=DATA_ROOT, split='train', download=False, indices=n,
        pipeline=[])
    transforms = tiny_pipeline(pipeline_cfg)
    samples = []
    for i in range(n):
        results = dict(img=dataset[i]['img'])
        for t in transforms:
            results = t(results)
        samples.append(results)
    return default_collate(samples)


def train_two_steps(cfg):
    torch.manual_seed(0)
    np.random.seed(0)
    MessageHub.get_current_instance().update_info('max_iters', 10)
    model = MODELS.build(cfg.model)
    model.init_weights()
    wrapper = OptimWrapper(
        torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-3))
    data = real_batch(cfg.train_dataloader.dataset.pipeline)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = [model.train_step(data, wrapper)['loss'] for _ in range(2)]
    return model, before, losses


@pytest.mark.parametrize('path', MAIN + ABLATIONS + DEMO, ids=_name)
def test_config_trains_two_steps(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['mmsiameseim']
    assert cfg.custom_imports['allow_failed_imports'] is False
    apply_sizes(cfg, osp.join(ROOT, TINY_SIZES))
    assert cfg.model.backbone.img_size == 32  # tiny, every switch kept
    model, before, losses = train_two_steps(cfg)
    assert all(math.isfinite(float(loss)) for loss in losses)
    after = model.state_dict()
    assert not torch.equal(before['neck.proj.weight'],
                           after['neck.proj.weight'])
    # the patch embedding is frozen in pretraining
    key = 'backbone.patch_embed.projection.weight'
    assert torch.equal(before[key], after[key])
    if cfg.model.get('target_type', 'feature') == 'feature':
        tkey = 'target_encoder.module.1.proj.weight'
        assert not torch.equal(before[tkey], after[tkey])  # EMA moved
        for p in model.target_encoder.parameters():
            assert p.grad is None


def _views(cfg):
    pipe = cfg.train_dataloader.dataset.pipeline
    return next(t for t in pipe if t['type'] == 'SiameseIMViews')


def _mask_type(cfg):
    pipe = cfg.train_dataloader.dataset.pipeline
    return next(t['type'] for t in pipe if 'MaskGenerator' in t['type'])


def _colour(cfg):
    views = _views(cfg)
    return bool(views['online_pipeline'] or views['target_pipeline'])


def _norm(cfg):
    norm = cfg.model.neck.get('norm_cfg', dict(type='TokenBN'))['type']
    assert cfg.model.head.get('norm_cfg', dict(type='TokenBN'))['type'] == norm
    return 'LN' if norm == 'LN' else 'BN'


def _loss(cfg):
    loss = cfg.model.head.loss
    lam = loss.get('lambda_neg', 0.02)
    norm = {
        ('ln', None): 'MAE',
        ('l2', 'l2'): 'MoCo'
    }[(loss.get('target_norm', 'ln'), loss.get('pred_norm'))]
    return norm, 'UniGrad' if lam > 0 else 'L2'


# The paper's ablation table: target, different views, colour aug, mask,
# proj/dec norm, loss norm, loss type, loss form.
TABLE = {
    'a': ('pixel', False, False, 'random', 'LN', 'MAE', 'dense', 'L2'),
    'b': ('feature', False, False, 'random', 'LN', 'MoCo', 'dense',
          'UniGrad'),
    'c': ('pixel', False, True, 'random', 'LN', 'MAE', 'dense', 'L2'),
    'd': ('pixel', True, False, 'random', 'LN', 'MAE', 'dense', 'L2'),
    'e': ('feature', True, False, 'random', 'LN', 'MoCo', 'dense',
          'UniGrad'),
    'f': ('feature', True, True, 'random', 'LN', 'MoCo', 'dense', 'UniGrad'),
    'g': ('feature', True, True, 'random', 'BN', 'MoCo', 'dense', 'UniGrad'),
    'h': ('feature', True, True, 'blockwise', 'BN', 'MoCo', 'dense',
          'UniGrad'),
    'i': ('feature', True, True, 'blockwise', 'BN', 'MAE', 'dense',
          'UniGrad'),
    'j': ('feature', True, True, 'blockwise', 'BN', 'MAE', 'dense', 'L2'),
    'k': ('feature', True, True, 'random', 'BN', 'MoCo', 'global',
          'UniGrad'),
}


def test_every_ablation_row_has_a_config():
    assert sorted(_row(p) for p in ABLATIONS) == sorted(TABLE)


@pytest.mark.parametrize('path', ABLATIONS, ids=_row)
def test_ablation_config_matches_its_table_row(path):
    cfg = Config.fromfile(path)
    model = cfg.model
    got = (
        model.get('target_type', 'feature'),
        not _views(cfg).get('same_crop', False),
        _colour(cfg),
        {
            'RandomPatchMaskGenerator': 'random',
            'BlockwiseMaskGenerator': 'blockwise'
        }[_mask_type(cfg)],
        _norm(cfg),
        *_loss(cfg)[:1],
        model.get('loss_type', 'dense'),
        _loss(cfg)[1],
    )
    assert got == TABLE[_row(path)]
    # same-view pixel rows reconstruct only the masked patches (MAE)
    if got[0] == 'pixel' and not got[1]:
        assert model.loss_tokens == 'masked'
    # ViT-B/16, 400 epochs at batch 4096
    assert model.backbone.arch == 'b'
    assert cfg.train_cfg.max_epochs == 400
    assert cfg.train_dataloader.batch_size * 16 == 4096


@pytest.mark.parametrize('path', MAIN, ids=_name)
def test_main_configs_follow_the_recipe(path):
    """docs/method.md §5: batch 4096, lr 6.25e-5 x 4096/256, AdamW."""
    cfg = Config.fromfile(path)
    name = _name(path)
    gpus, batch = name.split('_')[2].split('-')[0].split('xb')
    assert int(gpus) * int(batch) == 4096
    assert cfg.train_dataloader.batch_size == int(batch)
    assert cfg.auto_scale_lr.base_batch_size == 4096
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert opt.optimizer.type == 'AdamW'
    assert opt.optimizer.betas == (0.9, 0.95)
    assert opt.optimizer.lr == pytest.approx(6.25e-5 * 16)
    assert opt.clip_grad.max_norm == 1.0
    epochs = int(name.split('-')[-1].split('e_')[0])
    assert cfg.train_cfg.max_epochs == epochs
    warmup, cosine = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 40)
    assert (cosine.type, cosine.begin, cosine.end) == ('CosineAnnealingLR',
                                                       40, epochs)
    size = name.split('_')[1].split('-')[1]
    arch = {'small': 'deit-small', 'base': 'b', 'large': 'l'}[size]
    assert cfg.model.backbone.arch == arch
    # 14 x 14 patches (the predictor's grid follows), 118 masked
    backbone = cfg.model.backbone
    assert backbone.img_size // backbone.patch_size == 14
    assert cfg.model.head.get('grid_size', 14) == 14
    assert backbone.num_masked == 118
    mask = next(t for t in cfg.train_dataloader.dataset.pipeline
                if t['type'] == 'BlockwiseMaskGenerator')
    assert (mask.input_size, mask.num_masking_patches) == (14, 118)


def test_metafile_lists_every_config():
    import yaml
    meta_path = osp.join(ROOT, 'configs', 'siameseim', 'metafile.yml')
    with open(meta_path) as f:
        meta = yaml.safe_load(f)
    listed = {m['Config'] for m in meta['Models']}
    on_disk = {osp.relpath(p, ROOT) for p in MAIN + ABLATIONS}
    assert listed == on_disk
    for model in meta['Models']:
        assert model['Name'] == _name(model['Config'])
        assert model['In Collection'] == 'SiameseIM'
        cfg = Config.fromfile(osp.join(ROOT, model['Config']))
        epochs = model['Metadata']['Epochs']
        assert cfg.train_cfg.max_epochs == epochs


def test_every_config_is_in_a_metafile_with_a_readme():
    import yaml
    listed = set()
    for meta_path in glob.glob(
            osp.join(ROOT, 'configs', '**', 'metafile.yml'), recursive=True):
        with open(meta_path) as f:
            meta = yaml.safe_load(f)
        for collection in meta['Collections']:
            assert osp.isfile(osp.join(ROOT, collection['README']))
        for model in meta['Models']:
            assert osp.isfile(osp.join(ROOT, model['Config']))
            assert model['Name'] == _name(model['Config'])
            listed.add(model['Config'])
    on_disk = {
        osp.relpath(p, ROOT)
        for p in glob.glob(
            osp.join(ROOT, 'configs', '**', '*.py'), recursive=True)
        if '_base_' not in p
    }
    assert on_disk == listed
    folders = {osp.dirname(p) for p in on_disk}
    for folder in folders:
        assert osp.isfile(osp.join(ROOT, folder, 'README.md')), folder
