"""The three timed models: config, model, optimizer wrapper, inputs.

SiameseIM from this repository's ViT-B/16 config, MAE and MoCo v3 from the
configs shipped inside mmpretrain (``mmpretrain::`` paths, resolved by
mmengine), optionally at the tiny test size
(:data:`~projects.study_bench.sizes.TINY_SIZES`); the optimizer wrapper of
each config built by mmengine's ``build_optim_wrapper`` with AMP in the
timed dtype; one batch as the dataloader would give it.
"""
import copy
from typing import Optional

import numpy as np
import torch

from ..config_files import load_config as load_config_file
from ..sizes import TINY_SIZES, apply_sizes, fp32_optim_wrapper

MODEL_NAMES = ('siameseim', 'mae', 'mocov3')
CONFIGS = dict(
    siameseim='configs/siameseim/'
    'siameseim_vit-base-p16_32xb128-amp-coslr-1600e_in1k.py',
    mae='mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py',
    mocov3='mmpretrain::mocov3/'
    'mocov3_vit-base-p16_16xb256-amp-coslr-300e_in1k.py')
DTYPES = dict(fp16='float16', bf16='bfloat16', fp32='float32')


def load_config(name: str, tiny: bool, cfg_options: Optional[dict] = None):
    """The config of ``name`` (ViT-B/16, or tiny), with overrides."""
    cfg = load_config_file(CONFIGS[name])
    if cfg.get('data_preprocessor') and \
            'data_preprocessor' not in cfg.model:
        cfg.model.data_preprocessor = cfg.data_preprocessor
    if tiny:
        apply_sizes(cfg, TINY_SIZES, model_key=dict(
            siameseim='model', mae='mae_model',
            mocov3='mocov3_model')[name])
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    return cfg


def build_model(name: str, cfg, device: torch.device) -> torch.nn.Module:
    """Build, initialise, revert SyncBN and move the model to ``device``."""
    from mmengine.model import revert_sync_batchnorm
    from mmpretrain.registry import MODELS
    model = MODELS.build(copy.deepcopy(cfg.model))
    model.init_weights()
    model = revert_sync_batchnorm(model)
    return model.to(device).train()


def build_optim_wrapper(model, cfg, dtype: str, device: torch.device,
                        fused_adamw: bool):
    """mmengine's ``build_optim_wrapper`` on the config's optimizer, with
    AMP in ``dtype`` on accelerators (bf16: loss scaling off) and a plain
    ``OptimWrapper`` in fp32 (or on the CPU)."""
    from mmengine.optim import build_optim_wrapper as build
    ow = copy.deepcopy(cfg.optim_wrapper)
    if device.type == 'cpu' or dtype == 'fp32':
        fp32_optim_wrapper(ow)
    else:
        ow.type = 'AmpOptimWrapper'
        ow.dtype = DTYPES[dtype]
        if dtype == 'bf16':
            ow.loss_scale = dict(enabled=False)
    if fused_adamw:
        ow.optimizer.fused = True
    return build(model, ow)


def siameseim_transforms(cfg) -> list:
    """The config's own SiameseIM transforms after image loading.

    ``SiameseIMViews`` (with its colour ops), the mask generator and
    ``PackInputs`` of ``train_dataloader.dataset.pipeline``; with ``--tiny``
    :func:`load_config` has already resized the view size and mask grid.
    """
    from mmpretrain.registry import TRANSFORMS
    return [
        TRANSFORMS.build(copy.deepcopy(t))
        for t in cfg.train_dataloader.dataset.pipeline
        if 'Load' not in t['type']  # the images are made here
    ]


def make_batch(name: str,
               batch: int,
               device: torch.device,
               cfg,
               seed: int = 0,
               model=None) -> dict:
    """A collated batch as the dataloader would give it.

    uint8 images of the config's input size already on ``device`` (no
    host-to-device copy is timed). SiameseIM's samples come from the
    config's own transforms (:func:`siameseim_transforms`: two views with
    their geometry, the mask, ``PackInputs``) run on random images and
    collated with ``default_collate``; ``model.check_data_pipeline`` checks
    them against the model first. MAE and MoCo-v3 take random images (their
    losses need no metadata).

    Args:
        name (str): One of :data:`MODEL_NAMES`.
        batch (int): Batch size.
        device (torch.device): Where the images go.
        cfg (Config): The model's config (:func:`load_config`).
        seed (int): Seed of the images and the transforms. Defaults to 0.
        model (SiameseIM, optional): The model (SiameseIM only).
    """
    from .flops import vit_sizes
    size = vit_sizes(cfg.model.backbone)['img']
    g = torch.Generator().manual_seed(seed)
    if name == 'siameseim':
        from mmcv.transforms import Compose
        from mmengine.dataset import default_collate
        transforms = siameseim_transforms(cfg)
        model.check_data_pipeline(transforms)
        pipeline = Compose(transforms)
        np.random.seed(seed)  # the transforms draw from NumPy's global RNG
        images = torch.randint(
            0, 256, (batch, size + size // 4, size + size // 2, 3),
            generator=g, dtype=torch.uint8).numpy()
        data = default_collate([pipeline(dict(img=img)) for img in images])
        data['inputs'] = [v.to(device) for v in data['inputs']]
        return data
    num_views = 1 if name == 'mae' else 2
    views = [
        torch.randint(0, 256, (batch, 3, size, size), generator=g,
                      dtype=torch.uint8).to(device)
        for _ in range(num_views)
    ]
    inputs = views[0] if name == 'mae' else views
    from mmpretrain.structures import DataSample
    return dict(
        inputs=inputs, data_samples=[DataSample() for _ in range(batch)])


def compile_model(model: torch.nn.Module,
                  target: str,
                  backend: str = 'inductor') -> torch.nn.Module:
    """``torch.compile`` the model.

    ``modules``: ``nn.Module.compile()`` (in place, state-dict keys kept) on
    ``backbone``, ``neck``, ``head`` and every momentum encoder's module; the
    loss, EMA update and optimizer stay eager. NumPy-scalar drop-path rates
    are turned into Python floats first (same value; avoids a graph break
    per block in mmpretrain's ViTs). ``train_step``: what
    mmengine's Runner does for ``cfg.compile = True``
    (``model.train_step = torch.compile(model.train_step)``).
    """
    from mmengine.model import BaseAveragedModel

    from mmsiameseim.models.utils import float_drop_path_rates

    # SiameseIMViT converts its own rates; do the same for MAE / MoCo-v3.
    float_drop_path_rates(model)
    if target == 'train_step':
        model.train_step = torch.compile(model.train_step, backend=backend)
        return model
    for name in ('backbone', 'neck', 'head'):
        module = getattr(model, name, None)
        if module is not None:
            module.compile(backend=backend)
    for module in model.modules():
        if isinstance(module, BaseAveragedModel):
            module.module.compile(backend=backend)
    return model
