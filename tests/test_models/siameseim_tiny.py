"""A tiny SiameseIM for tests: 32 px images, 8 px patches, 4x4 grid."""
import copy
import os.path as osp

import numpy as np
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmsiameseim  # noqa: F401  registration
from projects.study_bench.sizes import TINY_SIZES, apply_sizes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tiny_model():
    """The ViT-B/16 model config at the tiny test sizes (one source:
    projects/study_bench/configs/_base_/sizes/tiny.py), with no fixed mask
    count (tests vary it) and an identity data preprocessor."""
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'siameseim', '_base_',
                 'siameseim_vit-base-p16.py'))
    cfg.train_dataloader = dict(dataset=dict(pipeline=[]))
    apply_sizes(cfg, osp.join(ROOT, TINY_SIZES))
    model = cfg.model.to_dict()
    model['backbone']['num_masked'] = None
    model['data_preprocessor'] = dict(
        type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1])
    return model


TINY = _tiny_model()
EMBED = TINY['backbone']['arch']['embed_dims']
GRID = TINY['backbone']['img_size'] // TINY['backbone']['patch_size']


def build_tiny(**overrides):
    cfg = copy.deepcopy(TINY)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(cfg.get(key), dict):
            cfg[key].update(value)
        else:
            cfg[key] = value
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def make_batch(batch=3, num_masked=9, seed=0, identity=False):
    """Two random views, exact-count random masks and random geometry."""
    g = torch.Generator().manual_seed(seed)
    views = [torch.randn(batch, 3, 32, 32, generator=g) for _ in range(2)]
    samples = []
    rng = np.random.default_rng(seed)
    for _ in range(batch):
        mask = np.zeros(GRID * GRID, dtype=bool)
        mask[rng.choice(GRID * GRID, num_masked, replace=False)] = True
        if identity:
            rel = np.array([0, 0, 1, 1, 0, 1], dtype=np.float32)
        else:
            rel = np.array([
                rng.uniform(-1, 1),
                rng.uniform(-1, 1),
                rng.uniform(0.5, 2),
                rng.uniform(0.5, 2),
                float(rng.integers(2)),
                rng.uniform(0, 2)
            ], dtype=np.float32)
        sample = DataSample()
        sample.set_mask(torch.from_numpy(mask.reshape(GRID, GRID)))
        sample.set_field(rel, 'rel_pos')
        samples.append(sample)
    return views, samples
