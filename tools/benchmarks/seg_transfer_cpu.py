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
the same minutes). One JSON line per run goes to ``--out``. The config,
the conversion and the run are in
:mod:`projects.study_bench.transfer.segmentation`, the driver the
detection benchmark shares in :mod:`projects.study_bench.transfer.driver`.

Example::

    python tools/benchmarks/seg_transfer_cpu.py \\
        --out docs/downstream/fashion_scenes_cpu.jsonl
    python tools/benchmarks/seg_transfer_cpu.py \\
        --summarize docs/downstream/fashion_scenes_cpu.jsonl
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from mmsiameseim.cli import run_cli
from projects.study_bench.child_runs import print_record
from projects.study_bench.cli import add_scene_args
from projects.study_bench.scenes.mmseg import write_mmseg_scenes
from projects.study_bench.transfer.driver import (RUNS, add_transfer_args,
                                                  checkpoints, run_transfer,
                                                  summarize_file)
from projects.study_bench.transfer.segmentation import (CONFIG, convert,
                                                        seg_config, summarize,
                                                        train_and_test)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_transfer_args(parser, CONFIG, 'work_dirs/seg_transfer_cpu',
                      jobs=len(RUNS), threads=1)
    parser.add_argument('--scenes-dir', default='data/fashion_scenes_mmseg',
                        help='the mmseg folder of scenes (written if absent '
                        'or different)')
    add_scene_args(parser)
    parser.add_argument('--max-iters', type=int, default=None,
                        help="training iterations (default: the config's)")
    parser.add_argument('--batch-size', type=int, default=None,
                        help="training batch size (default: the config's)")
    return parser.parse_args(argv)


def config_of(args: argparse.Namespace):
    """The config of the run ``args.run_one`` (``--pretrained`` or not)."""
    return seg_config(args.pretrained, args.scenes_dir,
                      osp.join(osp.abspath(args.work_root), args.run_one),
                      args.config, args.max_iters, args.batch_size,
                      args.seed)


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status (a user error: one line,
    status 1; ``--debug``: the traceback)."""
    args = parse_args(argv)
    return run_cli(lambda: run(args), osp.basename(__file__), args.debug)


def run(args: argparse.Namespace) -> int:
    """Summarise, run one fine-tuning, or convert and run them all."""
    if args.summarize:
        summarize_file(args.summarize, summarize)
        return 0
    if args.run_one:
        print_record(train_and_test(config_of(args), args.run_one,
                                    args.threads))
        return 0
    sources = checkpoints(args)  # before the scenes are written
    splits = write_mmseg_scenes(
        args.scenes_dir, data_root=args.data_root, num_train=args.num_train,
        num_test=args.num_test, canvas=64, min_size=20, max_size=40)
    print(f'scenes: {splits}', flush=True)
    child = [sys.executable, osp.abspath(__file__), '--config', args.config,
             '--scenes-dir', osp.abspath(args.scenes_dir), '--work-root',
             osp.abspath(args.work_root), '--seed', str(args.seed),
             '--threads', str(args.threads)]
    for opt in ('max_iters', 'batch_size'):
        if getattr(args, opt) is not None:
            child += ['--' + opt.replace('_', '-'), str(getattr(args, opt))]
    work_root = osp.abspath(args.work_root)
    run_transfer(
        args, sources, child,
        lambda run, src: convert(src, osp.join(work_root, f'{run}_mmseg.pth'),
                                 args.trusted),
        lambda r: f"mIoU {r['miou']:.2f} ({r['train_seconds']:.0f} s train, "
        f"{r['test_seconds']:.0f} s test)")
    return 0


if __name__ == '__main__':
    sys.exit(main())
