"""The short GPU study's plan: methods, sizes, the worker split, and each
method's reproduction config at the study's size.

Each method of :data:`METHODS` trains its reproduction config (mmpretrain's
own MAE and MoCo v3 algorithms; the 192-wide, 6-block ViT at 32 px) for a
fixed number of epochs (:data:`SIZES`: 8 epochs of the 60k Fashion-MNIST
train images at batch 256 = 1872 steps), at one learning rate per method
fixed beforehand (docs/reproduction.md, "GPU runs"); the CPU cores are
shared out as dataloader workers in proportion to each pipeline's cost
(:func:`split_workers`). :mod:`.gpu_run` runs the plan.
"""
from collections import OrderedDict
from typing import Dict, Optional, Sequence

from ..config_files import load_config
from ..sizes import fp32_optim_wrapper, rescale_schedule

REPRO = 'projects/study_bench/configs/reproduction/'
# lr: fixed beforehand from the CPU preview (docs/reproduction.md): the best
# lr at batch 64 there times sqrt(256 / 64) = 2. cpu_ms: CPU time of one
# sample of the method's train pipeline (decode from the IDX array, both
# views, mask, packing), measured on the 2-core development machine; only
# the ratios matter (the worker split).
METHODS = OrderedDict(
    (method, dict(config=f'{REPRO}{method}_vit-tiny-p4_1xb256-amp-coslr-100e'
                  '_fashion-mnist.py', lr=lr, cpu_ms=cpu_ms))
    for method, lr, cpu_ms in (('siameseim', 6e-4, 0.46),
                               ('mae', 2e-3, 0.19),
                               ('mocov3', 6e-3, 0.83),
                               ('siameseim-sameview', 6e-4, 0.46)))
# The probes on the last checkpoint (projects.study_bench.probes), with the
# arguments of each size; the full-size study takes the probes' defaults
# (the protocol of docs/reproduction.md).
PROBES = ('knn_eval', 'linear_probe', 'dense_probe')
SIZES = dict(
    gpu=dict(
        device='cuda', epochs=8, warmup_epochs=1, batch=256,
        train_images=None,  # all 60000
        knn_monitor=(5000, 2000), log_interval=50, skip_iters=10,
        probe_args=dict(knn_eval={}, linear_probe={}, dense_probe={}),
        train_deadline_s=150., budget_s=255.),
    toy=dict(
        device='cpu', epochs=2, warmup_epochs=1, batch=8, train_images=8,
        knn_monitor=(32, 16), log_interval=1, skip_iters=0,
        probe_args=dict(
            knn_eval=dict(train_size=32, test_size=16),
            linear_probe=dict(train_size=32, test_size=16, epochs=2,
                              warmup_epochs=1, probe_batch_size=16),
            dense_probe=dict(train_size=4, test_size=2, epochs=1,
                             probe_batch_size=4)),
        train_deadline_s=120., budget_s=240.,
        head_images=64),  # --toy reads a copy of the first 64 images
)
DATA_ROOT = 'data/fashion-mnist'


def steps_per_epoch(images: int, batch: int) -> int:
    """Training steps of one epoch (the loaders drop the last batch)."""
    return images // batch


def split_workers(cores: int,
                  cost: Dict[str, float],
                  minimum: int = 1) -> Dict[str, int]:
    """Share the cores out as dataloader workers.

    Each method's training process keeps one core (eager PyTorch is bound
    by its host thread); the other ``cores - len(cost)`` become workers,
    one at a time, each to the method whose loader can feed the fewest
    steps per second (``workers / cost``; ties: the earlier method). That
    maximises the slowest loader's rate. Every method gets at least
    ``minimum`` workers, also when that exceeds the cores (toy runs).

    Args:
        cores (int): CPU cores of the machine.
        cost (dict): Method -> CPU milliseconds per sample of its pipeline.
        minimum (int): Workers per method at least. Defaults to 1.

    Returns:
        dict: Method -> number of workers (in the order of ``cost``).
    """
    if any(c <= 0 for c in cost.values()):
        raise ValueError(f'costs must be positive, got {cost}')
    workers = OrderedDict((m, minimum) for m in cost)
    for _ in range(cores - len(cost) - minimum * len(cost)):
        slowest = min(workers, key=lambda m: workers[m] / cost[m])
        workers[slowest] += 1
    return workers


def planned_steps(size: dict, train_images: int = 60000) -> int:
    """Steps of a full run at ``size`` (:data:`SIZES` entry)."""
    images = size['train_images'] or train_images
    return size['epochs'] * steps_per_epoch(images, size['batch'])


def mask_count(pipeline: Sequence[dict]) -> Optional[int]:
    """``num_masking_patches`` of the mask generator in ``pipeline``."""
    for step in pipeline:
        if 'num_masking_patches' in step:
            return int(step['num_masking_patches'])
    return None


def study_config(method: str, size: dict, work_dir: str, num_workers: int,
                 seed: int = 0, data_root: str = DATA_ROOT):
    """The reproduction config of ``method`` at the study's size.

    Only the run's length, loader and bookkeeping change; model, pipeline
    and optimiser stay the config's. Numerics-neutral speed settings:
    non-blocking copies of the data samples, SiameseIM's fixed mask count
    (no per-step count of the mask). On the CPU (``--toy``) the AMP wrapper
    becomes a plain one (mmengine's AMP wrapper needs a GPU).

    Args:
        method (str): A key of :data:`METHODS`.
        size (dict): A :data:`SIZES` entry.
        work_dir (str): The run's folder.
        num_workers (int): Dataloader workers.
        seed (int): Seed. Defaults to 0.
        data_root (str): Fashion-MNIST folder of the training and the kNN
            monitor. Defaults to :data:`DATA_ROOT`.

    Returns:
        Config: For ``SafeResumeRunner.from_cfg``.
    """
    spec = METHODS[method]
    cfg = load_config(spec['config'])
    rescale_schedule(cfg, size['epochs'], warmup=size['warmup_epochs'])
    epochs = size['epochs']
    cfg.work_dir = work_dir
    cfg.optim_wrapper.optimizer.lr = spec['lr']
    cfg.randomness = dict(seed=seed, diff_rank_seed=True)
    loader = cfg.train_dataloader
    loader.update(
        batch_size=size['batch'],
        num_workers=num_workers,
        persistent_workers=True,
        prefetch_factor=4,
        pin_memory=size['device'] == 'cuda')
    loader.dataset.update(indices=size['train_images'], data_root=data_root)
    cfg.model.data_preprocessor.non_blocking = True
    if cfg.model.type == 'SiameseIM':
        cfg.model.backbone.num_masked = mask_count(loader.dataset.pipeline)
    knn = cfg.custom_hooks[0]
    if knn.type != 'KNNMonitorHook':
        raise ValueError(f'{spec["config"]}: custom_hooks[0] is {knn.type}')
    knn.interval = epochs  # at init and after the last epoch
    for name, count in zip(('train_dataloader', 'val_dataloader'),
                           size['knn_monitor']):
        knn[name].dataset.update(indices=count, data_root=data_root)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook',
        interval=1,  # a truncated run keeps its last epoch
        max_keep_ckpts=1,
        save_optimizer=False,
        save_param_scheduler=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=size['log_interval'])
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    if size['device'] == 'cpu':
        fp32_optim_wrapper(cfg.optim_wrapper)
    return cfg
