"""A tiny SiameseIM for tests: 32 px images, 8 px patches, 4x4 grid."""
import copy

import numpy as np
import torch
from mmpretrain.registry import MODELS
from mmpretrain.structures import DataSample

import mmsiameseim  # noqa: F401  registration

EMBED = 32
GRID = 4

TINY = dict(
    type='SiameseIM',
    backbone=dict(
        type='SiameseIMViT',
        arch=dict(
            embed_dims=EMBED,
            num_layers=2,
            num_heads=2,
            feedforward_channels=64),
        img_size=32,
        patch_size=8),
    neck=dict(
        type='SiameseIMProjector',
        in_channels=EMBED,
        embed_dims=EMBED,
        depth=1,
        num_heads=2),
    head=dict(
        type='SiameseIMPredictor',
        embed_dims=EMBED,
        depth=1,
        num_heads=2,
        grid_size=GRID,
        loss=dict(type='UniGradDenseLoss', lambda_neg=0.02)),
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor', mean=[0, 0, 0], std=[1, 1, 1]))


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
