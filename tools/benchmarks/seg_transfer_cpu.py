"""Segmentation transfer on the CPU: SiameseIM vs MAE vs random init.

Fine-tunes the small UPerNet config
(``projects/study_bench/configs/mmseg/
siameseim_vit-mini-p4-upernet_1xb8-800i_fashion-scenes-64x64.py``: the ADE20k
config's structure at the CPU demo encoder's size) on the Fashion-MNIST
scenes three times, and reports mIoU on the test scenes:

* ``siameseim``: the ``make demo`` checkpoint (default
  ``work_dirs/demo/epoch_4.pth``);
* ``mae``: mmpretrain's MAE at the same size and step count
  (``tools/benchmarks/cpu_comparison.py --methods mae --lrs 1e-3``; default
  ``work_dirs/cpu_comparison/mae/lr0.001_seed0/epoch_4.pth``);
* ``random``: no checkpoint (mmseg's own initialisation of ``MAE``).

The road is the user's: the scenes folder is written by
:func:`~projects.study_bench.scenes.mmseg.write_mmseg_scenes`
(``tools/data/make_fashion_scenes_mmseg.py``), each checkpoint is converted
by ``tools/model_converters/siameseim_to_backbone.py --layout mmseg``
(online encoder; a subprocess, as typed by a user), the run trains with the
config's ``PretrainedLoadCheckHook`` and the test scenes are evaluated with
mmseg's ``IoUMetric``. Every run is a separate process (mmengine keeps
global state); the runs go side by side (``--jobs``, default all at once)
with ``--threads`` torch threads each (default 1). On the shared 2-core
machine one thread per process was 4-5x faster than two: OpenMP's
two-thread kernels stall whenever another process holds a core (a
training step of this config took 2.0 s with 1 thread and 9.2 s with 2, in
the same minutes). One JSON line per run goes to ``--out``.

Example::

    python tools/benchmarks/seg_transfer_cpu.py \\
        --out docs/downstream/fashion_scenes_cpu.jsonl
    python tools/benchmarks/seg_transfer_cpu.py \\
        --summarize docs/downstream/fashion_scenes_cpu.jsonl
"""
import argparse
import copy
import json
import math
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = ('projects/study_bench/configs/mmseg/'
          'siameseim_vit-mini-p4-upernet_1xb8-800i_fashion-scenes-64x64.py')
CONVERTER = 'tools/model_converters/siameseim_to_backbone.py'
RUNS = ('siameseim', 'mae', 'random')
DEFAULT_CKPTS = {
    'siameseim': 'work_dirs/demo/epoch_4.pth',
    'mae': 'work_dirs/cpu_comparison/mae/lr0.001_seed0/epoch_4.pth',
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--siameseim', default=DEFAULT_CKPTS['siameseim'],
                        help='SiameseIM pretraining checkpoint')
    parser.add_argument('--mae', default=DEFAULT_CKPTS['mae'],
                        help="mmpretrain MAE pretraining checkpoint")
    parser.add_argument('--runs', nargs='+', default=list(RUNS),
                        choices=RUNS)
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--scenes-dir', default='data/fashion_scenes_mmseg',
                        help='the mmseg folder of scenes (written if absent '
                        'or different)')
    parser.add_argument('--data-root', default='data/fashion-mnist',
                        help='Fashion-MNIST IDX files')
    parser.add_argument('--num-train', type=int, default=2000)
    parser.add_argument('--num-test', type=int, default=1000)
    parser.add_argument('--max-iters', type=int, default=None,
                        help="training iterations (default: the config's)")
    parser.add_argument('--batch-size', type=int, default=None,
                        help="training batch size (default: the config's)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--jobs', type=int, default=len(RUNS),
                        help='runs trained side by side. Defaults to 3')
    parser.add_argument('--threads', type=int, default=1,
                        help='torch threads per run. Defaults to 1')
    parser.add_argument('--work-root', default='work_dirs/seg_transfer_cpu')
    parser.add_argument('--out', default='work_dirs/seg_transfer_cpu.jsonl')
    parser.add_argument('--trusted', action='store_true',
                        help='read the checkpoints with full pickle (only '
                        'for files your own runs wrote; files recorded in '
                        "their run's manifest need no flag)")
    parser.add_argument('--summarize', metavar='JSONL',
                        help='print the markdown table of a results file '
                        'and exit')
    # internal: one fine-tuning run in this process
    parser.add_argument('--run-one', help=argparse.SUPPRESS)
    parser.add_argument('--pretrained', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _abs(path: str) -> str:
    return path if osp.isabs(path) else osp.join(ROOT, path)


def configure(args: argparse.Namespace, pretrained: Optional[str]):
    """The config of one run.

    Args:
        args (argparse.Namespace): Parsed arguments.
        pretrained (str, optional): The converted encoder, or None for the
            random-init run (its load check hook is dropped).

    Returns:
        Config: Ready for the runner.
    """
    from mmengine.config import Config
    cfg = Config.fromfile(_abs(args.config))
    cfg.model.pretrained = pretrained
    if pretrained is None:
        cfg.custom_hooks = [
            h for h in cfg.custom_hooks
            if h['type'] != 'PretrainedLoadCheckHook'
        ]
    scenes = _abs(args.scenes_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = scenes
    if args.max_iters is not None:
        from projects.study_bench.sizes import rescale_schedule
        rescale_schedule(cfg, args.max_iters)
    if args.batch_size is not None:
        cfg.train_dataloader.batch_size = args.batch_size
    # the test scenes are evaluated once, after training (timed apart)
    cfg.train_cfg.val_interval = cfg.train_cfg.max_iters + 1
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.randomness = dict(seed=args.seed)
    cfg.work_dir = osp.join(_abs(args.work_root), args.run_one)
    return cfg


def run_one(args: argparse.Namespace) -> None:
    """Fine-tune and evaluate one run; print its JSON record."""
    import torch
    from mmengine.registry import MODELS, RUNNERS, init_default_scope
    from mmsiameseim.checkpoints import (check_backbone_load)
    torch.set_num_threads(args.threads)
    cfg = configure(args, args.pretrained)
    check = None
    if args.pretrained:  # the account of what arrived, for the record
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
    test_seconds = time.time() - start
    record = dict(
        run=args.run_one,
        pretrained=args.pretrained,
        load_check=check,
        config=args.config,
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
        test_seconds=round(test_seconds, 1),
        seed=args.seed,
        threads=args.threads,
        machine=f'{platform.machine()} CPU x{os.cpu_count()}',
        torch=torch.__version__)
    print('RECORD ' + json.dumps(record), flush=True)


def convert(args: argparse.Namespace, run: str, src: str) -> dict:
    """Convert a pretraining checkpoint with the converter's mmseg layout.

    Returns:
        dict: ``path`` of the encoder file and the converter's ``log``.

    Raises:
        SystemExit: If the converter refuses the file (its message shown).
    """
    dst = osp.join(_abs(args.work_root), f'{run}_mmseg.pth')
    cmd = [sys.executable, _abs(CONVERTER), _abs(src), dst,
           '--layout', 'mmseg'] + (['--trusted'] if args.trusted else [])
    print('+ ' + ' '.join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f'{run}: the converter refused {src}')
    print(proc.stdout, end='', flush=True)
    return dict(path=dst, log=proc.stdout.strip().splitlines())


def _launch(args: argparse.Namespace, run: str,
            converted: Optional[dict]) -> subprocess.Popen:
    """Start one fine-tuning run in its own process."""
    cmd = [sys.executable, osp.abspath(__file__), '--run-one', run,
           '--config', args.config, '--scenes-dir', args.scenes_dir,
           '--work-root', args.work_root, '--seed', str(args.seed),
           '--threads', str(args.threads)]
    for opt in ('max_iters', 'batch_size'):
        if getattr(args, opt) is not None:
            cmd += ['--' + opt.replace('_', '-'), str(getattr(args, opt))]
    if converted:
        cmd += ['--pretrained', converted['path']]
    print('+ ' + ' '.join(cmd), flush=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    log = open(_log_path(args, run), 'w')  # a pipe would fill up and block
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            text=True, cwd=ROOT, env=env)
    log.close()
    return proc


def _log_path(args: argparse.Namespace, run: str) -> str:
    return osp.join(_abs(args.work_root), f'{run}.log')


def summarize(records: List[dict]) -> str:
    """Markdown table of the runs.

    Args:
        records (list[dict]): JSON records of :func:`run_one`.

    Returns:
        str: One row per run.
    """
    if not records:
        raise ValueError('no records to summarize')
    lines = ['| init | mIoU | mAcc | aAcc | iterations | train s | test s |',
             '|---|---|---|---|---|---|---|']
    for r in records:
        lines.append(f"| {r['run']} | {r['miou']:.2f} | {r['macc']:.2f} | "
                     f"{r['aacc']:.2f} | {r['iterations']} | "
                     f"{r['train_seconds']:.0f} | {r['test_seconds']:.0f} |")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    if args.summarize:
        with open(args.summarize) as f:
            print(summarize([json.loads(line) for line in f
                             if line.strip()]))
        return 0
    if args.run_one:
        run_one(args)
        return 0
    start = time.time()
    from projects.study_bench.scenes.mmseg import write_mmseg_scenes
    os.makedirs(_abs(args.work_root), exist_ok=True)
    splits = write_mmseg_scenes(
        _abs(args.scenes_dir), data_root=_abs(args.data_root),
        num_train=args.num_train, num_test=args.num_test, canvas=64,
        min_size=20, max_size=40)
    print(f'scenes: {splits}', flush=True)
    out = _abs(args.out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    sources = dict(siameseim=args.siameseim, mae=args.mae)
    converted = {
        run: convert(args, run, sources[run])
        for run in args.runs if run in sources
    }
    pending, running, records = list(args.runs), {}, []
    while pending or running:
        while pending and len(running) < args.jobs:
            run = pending.pop(0)
            running[run] = _launch(args, run, converted.get(run))
        time.sleep(2)
        for run, proc in list(running.items()):
            if proc.poll() is None:
                continue
            del running[run]
            with open(_log_path(args, run)) as f:
                output = f.read()
            lines = [line for line in output.splitlines()
                     if line.startswith('RECORD ')]
            if proc.returncode != 0 or not lines:
                sys.stderr.write(output[-4000:])
                for other in running.values():
                    other.kill()
                raise SystemExit(f'run {run} failed ({proc.returncode}); '
                                 f'log: {_log_path(args, run)}')
            record = json.loads(lines[-1][len('RECORD '):])
            record['source_checkpoint'] = sources.get(run)
            record['converter_log'] = (converted[run]['log']
                                       if run in converted else None)
            record['side_by_side'] = min(args.jobs, len(args.runs))
            records.append(record)
            print(f"{run}: mIoU {record['miou']:.2f} "
                  f"({record['train_seconds']:.0f} s train, "
                  f"{record['test_seconds']:.0f} s test)", flush=True)
    wall = round(time.time() - start, 1)  # scenes, conversions and runs
    with open(out, 'a') as f:
        for record in sorted(records, key=lambda r: RUNS.index(r['run'])):
            record['all_runs_wall_seconds'] = wall
            f.write(json.dumps(record) + '\n')
    print(f'all runs: {wall:.0f} s wall; records appended to {out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
