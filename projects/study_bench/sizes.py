"""The one way the bench makes a config small.

* :func:`apply_sizes`: a sizes file (the tiny test size of every model
  config, :data:`TINY_SIZES`; the demo size of MAE and MoCo v3,
  :data:`MINI_SIZES`) merged over a config's model and pipeline;
* :func:`demo_sized`: a pretraining config at the CPU demo's size and run
  (the mini sizes plus the demo's data, schedule and hooks);
* :func:`rescale_schedule`: a run of another length with the same schedule
  shape (the GPU study, the CPU segmentation and detection transfers);
* :func:`fp32_optim_wrapper`: the AMP wrapper of a config made a plain one
  (mmengine's AMP wrapper needs an accelerator);
* :func:`vit_arch`: the encoder sizes a ViT backbone config names.
"""
import copy
import os.path as osp
from typing import Optional

from mmengine.config import Config, ConfigDict

from .config_files import load_config

SIZES_DIR = osp.join(
    osp.dirname(osp.abspath(__file__)), 'configs', '_base_', 'sizes')
#: The test and smoke-run sizes of every model config.
TINY_SIZES = osp.join(SIZES_DIR, 'tiny.py')
#: The CPU demo's encoder for mmpretrain's MAE and MoCo v3.
MINI_SIZES = osp.join(SIZES_DIR, 'mini.py')
#: The CPU demo, whose data, schedule and hooks :func:`demo_sized` gives.
DEMO = 'configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py'
#: What a demo-sized config takes from the demo as it is.
DEMO_RUN_KEYS = ('param_scheduler', 'train_cfg', 'custom_hooks',
                 'default_hooks', 'visualizer', 'auto_scale_lr')


def apply_sizes(cfg: Config,
                sizes_path: str,
                model_key: str = 'model') -> Config:
    """Resize ``cfg`` to the sizes of ``sizes_path``, in place.

    The sizes file holds ``model`` (merged into ``cfg.model`` as a child
    config would: ``_delete_`` replaces) and ``transforms`` (type name ->
    options, set on every transform of that type in
    ``cfg.train_dataloader.dataset.pipeline``, nested view pipelines
    included). Whatever the file does not name stays the config's own; the
    sizes SiameseIM derives (projector / predictor widths, grid, pixel
    output width) follow the resized encoder.

    Args:
        cfg (Config): A SiameseIM training config.
        sizes_path (str): The sizes file, e.g. :data:`TINY_SIZES`.
        model_key (str): The entry of the sizes file merged into
            ``cfg.model`` (the tiny file also holds ``'mae_model'`` and
            ``'mocov3_model'`` for mmpretrain's MAE and MoCo v3). Defaults
            to ``'model'``.

    Returns:
        Config: ``cfg``.
    """
    sizes = Config.fromfile(sizes_path)
    merged = Config._merge_a_into_b(
        copy.deepcopy(sizes[model_key].to_dict()), cfg.model.to_dict())
    cfg.model = ConfigDict(merged)
    updates = sizes.get('transforms', {})

    def resize(transform):
        if isinstance(transform, (list, tuple)):
            for t in transform:
                resize(t)
        elif isinstance(transform, dict):
            transform.update(updates.get(transform.get('type'), {}))
            for value in transform.values():
                if isinstance(value, (list, tuple, dict)):
                    resize(value)

    if 'train_dataloader' in cfg:
        resize(cfg.train_dataloader.dataset.get('pipeline', []))
    return cfg


def vit_arch(backbone: dict) -> dict:
    """``embed_dims``, ``num_layers``, ``num_heads`` and
    ``feedforward_channels`` of an mmpretrain ViT backbone config (an arch
    name is looked up in its class's ``arch_zoo``)."""
    from mmpretrain.registry import MODELS
    arch = backbone['arch']
    if isinstance(arch, str):
        arch = MODELS.get(backbone['type']).arch_zoo[arch.lower()]
    keys = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels')
    return {key: arch[key] for key in keys}


def fp32_optim_wrapper(optim_wrapper: ConfigDict) -> ConfigDict:
    """Make an optimizer wrapper config a plain fp32 one, in place.

    ``AmpOptimWrapper`` becomes ``OptimWrapper`` without ``loss_scale`` and
    ``dtype``; the optimizer, clipping and decay rules stay.

    Returns:
        ConfigDict: ``optim_wrapper``.
    """
    optim_wrapper.type = 'OptimWrapper'
    optim_wrapper.pop('loss_scale', None)
    optim_wrapper.pop('dtype', None)
    return optim_wrapper


def demo_sized(config: str, model_key: str, demo: str = DEMO) -> Config:
    """A pretraining config at the CPU demo's size, run as the demo runs.

    The model gets the sizes of :data:`MINI_SIZES` (read from the demo's
    model) under ``model_key``; the config keeps its own pipeline and
    optimiser settings (in fp32) and takes the demo's data size, batch and
    loader and its :data:`DEMO_RUN_KEYS`. A config and the demo define
    the same keys, so mmengine (which refuses a key defined by two bases)
    cannot state this as a child config.

    Args:
        config (str): The pretraining config (e.g. a reproduction row).
        model_key (str): The entry of :data:`MINI_SIZES` for its model
            (``'mae_model'``, ``'mocov3_model'``).
        demo (str): The demo config. Defaults to :data:`DEMO`.

    Returns:
        Config: Ready for ``Runner.from_cfg`` (``work_dir`` unset).
    """
    demo_cfg = load_config(demo)
    cfg = apply_sizes(load_config(config), MINI_SIZES, model_key=model_key)
    pipeline = cfg.train_dataloader.dataset.pipeline
    cfg.train_dataloader = demo_cfg.train_dataloader
    cfg.train_dataloader.dataset.pipeline = pipeline
    cfg.pop('find_unused_parameters', None)
    fp32_optim_wrapper(cfg.optim_wrapper)
    for key in DEMO_RUN_KEYS:
        cfg[key] = demo_cfg[key]
    return cfg


def rescale_schedule(cfg: Config,
                     length: int,
                     warmup: Optional[int] = None) -> Config:
    """Give ``cfg`` a run of ``length`` with the same schedule, in place.

    ``length`` counts the train loop's unit (``max_epochs`` or
    ``max_iters``). When the first of several parameter schedulers starts
    at 0 and ends before the run does, it is the warm-up: it ends at
    ``warmup`` (default: its end scaled with the run, at least 1), and a
    scheduler that began where it ended begins there. Every other
    scheduler that ended with the run ends with the new run, a ``T_max``
    spans the scheduler's new range and ``milestones`` scale with the run.
    A checkpoint or validation interval equal to the old length follows
    the new one.

    Args:
        cfg (Config): A training config.
        length (int): Epochs or iterations of the new run.
        warmup (int, optional): Warm-up length. Defaults to None (scaled).

    Returns:
        Config: ``cfg``.

    Raises:
        ValueError: If the warm-up would not end inside the run.
    """
    unit = 'max_epochs' if 'max_epochs' in cfg.train_cfg else 'max_iters'
    old = cfg.train_cfg[unit]
    schedulers = cfg.param_scheduler
    first = schedulers[0] if isinstance(schedulers, list) else schedulers
    has_warmup = isinstance(schedulers, list) and len(schedulers) > 1 and \
        first.get('begin', 0) == 0 and first.get('end', old) < old
    old_warmup = first.end if has_warmup else 0
    if has_warmup:
        if warmup is None:
            warmup = max(1, old_warmup * length // old)
        if not 0 < warmup < length:
            raise ValueError(f'need 0 < warmup < length, got {warmup}, '
                             f'{length}')
        first.end = warmup
    for scheduler in (schedulers if isinstance(schedulers, list) else
                      [schedulers]):
        if has_warmup and scheduler is first:
            continue
        span = (scheduler.get('begin', 0), scheduler.get('end'))
        if has_warmup and span[0] == old_warmup:
            scheduler.begin = warmup
        if span[1] == old:
            scheduler.end = length
        if 'T_max' in scheduler and \
                span != (scheduler.get('begin', 0), scheduler.get('end')):
            scheduler.T_max = scheduler.end - scheduler.get('begin', 0)
        if 'milestones' in scheduler:
            scheduler.milestones = [
                m * length // old for m in scheduler.milestones
            ]
    cfg.train_cfg[unit] = length
    if cfg.train_cfg.get('val_interval') == old:
        cfg.train_cfg.val_interval = length
    checkpoint = cfg.get('default_hooks', {}).get('checkpoint')
    if checkpoint is not None and checkpoint.get('interval') == old:
        checkpoint.interval = length
    return cfg
