"""Segmentation transfer on the CPU: UPerNet on the Fashion-MNIST scenes.

The small UPerNet config (:data:`CONFIG`: the ADE20k config's structure at
the CPU demo encoder's size) fine-tuned from a converted checkpoint (the
converter's ``mmseg`` layout, run as a user types it) or from mmseg's own
initialisation, checked on load (``PretrainedLoadCheckHook``) and tested
with mmseg's ``IoUMetric`` on the test scenes. ``tools/benchmarks/
seg_transfer_cpu.py`` runs the three runs (:mod:`.driver`).
"""
import copy
import math
import os.path as osp
import subprocess
import sys
import time
from typing import List, Optional

from ..cli import machine
from ..config_files import REPO_ROOT, load_config, repo_path
from ..sizes import rescale_schedule
from .driver import seed_table

CONFIG = ('projects/study_bench/configs/mmseg/'
          'siameseim_vit-mini-p4-upernet_1xb8-800i_fashion-scenes-64x64.py')
CONVERTER = 'tools/model_converters/siameseim_to_backbone.py'


def seg_config(pretrained: Optional[str],
               scenes_dir: str,
               work_dir: str,
               config: str = CONFIG,
               max_iters: Optional[int] = None,
               batch_size: Optional[int] = None,
               seed: int = 0):
    """The config of one run.

    Args:
        pretrained (str, optional): The converted encoder, or None for the
            random-init run (its load check hook is dropped).
        scenes_dir (str): The mmseg folder of scenes.
        work_dir (str): The run's folder.
        config (str): Defaults to :data:`CONFIG`.
        max_iters (int, optional): Iterations (the schedule rescaled;
            default: the config's).
        batch_size (int, optional): Training batch (default: the
            config's).
        seed (int): Defaults to 0.

    Returns:
        Config: Ready for the runner.
    """
    cfg = load_config(config)
    cfg.model.pretrained = pretrained
    if pretrained is None:
        cfg.custom_hooks = [
            h for h in cfg.custom_hooks
            if h['type'] != 'PretrainedLoadCheckHook'
        ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = repo_path(scenes_dir)
    if max_iters is not None:
        rescale_schedule(cfg, max_iters)
    if batch_size is not None:
        cfg.train_dataloader.batch_size = batch_size
    # the test scenes are evaluated once, after training (timed apart)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


def convert(src: str, dst: str, trusted: bool = False) -> dict:
    """Convert a pretraining checkpoint with the converter's mmseg layout.

    The converter runs as a user types it (a subprocess): its check that
    the file loads into mmseg's ``MAE`` is part of the road measured.

    Returns:
        dict: ``path`` of the encoder file and ``record``
        (``converter_log``: the converter's output lines).

    Raises:
        SystemExit: If the converter refuses the file (its message shown).
    """
    cmd = [sys.executable, repo_path(CONVERTER), repo_path(src), dst,
           '--layout', 'mmseg'] + (['--trusted'] if trusted else [])
    print('+ ' + ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f'the converter refused {src}')
    print(proc.stdout, end='', flush=True)
    return dict(path=dst,
                record=dict(converter_log=proc.stdout.strip().splitlines()))


def train_and_test(cfg, run: str, threads: int = 1) -> dict:
    """Fine-tune and test one run in this process; return its record."""
    import torch
    from mmengine.registry import MODELS, RUNNERS, init_default_scope

    from mmsiameseim.checkpoints import check_backbone_load
    torch.set_num_threads(threads)
    check = None
    if cfg.model.pretrained:  # the account of what arrived, for the record
        init_default_scope(cfg.default_scope)
        model = MODELS.build(copy.deepcopy(cfg.model))  # build edits it
        model.init_weights()
        report = check_backbone_load(model.backbone)
        check = dict(ok=report.ok, equal=len(report.equal),
                     transformed=report.transformed,
                     fresh=len(report.fresh), summary=report.summary())
        del model
    runner = RUNNERS.build(cfg)
    start = time.time()
    runner.train()
    train_seconds = time.time() - start
    start = time.time()
    metrics = runner.test()
    return dict(
        run=run,
        pretrained=cfg.model.pretrained,
        load_check=check,
        config=osp.relpath(cfg.filename, REPO_ROOT),
        iterations=runner.iter,
        batch_size=cfg.train_dataloader.batch_size,
        train_scenes=len(runner.train_dataloader.dataset),
        test_scenes=len(runner.test_dataloader.dataset),
        miou=float(metrics['mIoU']),
        macc=float(metrics['mAcc']),
        aacc=float(metrics['aAcc']),
        class_iou={
            k[len('IoU.'):]: (None if math.isnan(v) else float(v))
            for k, v in metrics.items() if k.startswith('IoU.')
        },
        train_seconds=round(train_seconds, 1),
        test_seconds=round(time.time() - start, 1),
        seed=cfg.randomness.seed,
        threads=threads,
        machine=machine(),
        torch=torch.__version__)


def summarize(records: List[dict]) -> str:
    """Markdown table of the runs.

    Args:
        records (list[dict]): JSON records of :func:`run_one`.

    Returns:
        str: One row per run and seed, then each run's mean ± sd over its
        seeds when it has several.
    """
    if not records:
        raise ValueError('no records to summarize')
    lines = ['| init | seed | mIoU | mAcc | aAcc | iterations | train s | '
             'test s |', '|---|---|---|---|---|---|---|---|']
    for r in records:
        lines.append(f"| {r['run']} | {r.get('seed', 0)} | {r['miou']:.2f} | "
                     f"{r['macc']:.2f} | {r['aacc']:.2f} | {r['iterations']} "
                     f"| {r['train_seconds']:.0f} | {r['test_seconds']:.0f} |")
    means = seed_table(records, {
        'mIoU': lambda r: r['miou'],
        'mAcc': lambda r: r['macc'],
        'aAcc': lambda r: r['aacc']
    }, 2)
    return '\n'.join(lines) + ('\n\n' + means if means else '')
