"""Detection transfer on the CPU: ViTDet Mask R-CNN on Fashion-MNIST scenes.

Fine-tunes the demo-sized ViTDet Mask R-CNN
(``projects/study_bench/configs/mmdet/siameseim_vit-mini-p4-vitdet-mask-
rcnn_1xb8-500i_fashion-scenes-64x64.py``) three times, from

* ``siameseim``: a SiameseIM checkpoint (``make demo``),
* ``mae``: an mmpretrain MAE checkpoint of the same encoder size,
* ``random``: ViTDet's random initialisation,

and reports box and mask AP of mmdet's ``CocoMetric`` on the test scenes,
with training / test time and the machine. Checkpoints are converted with
the ``vitdet`` layout (online encoder; ``mmsiameseim_to_backbone``) into
the work dir; for the two pretrained runs ``PretrainedLoadCheckHook`` stops
the run unless every encoder tensor arrived, and the same check is recorded
(``load_check``). The COCO-format scenes are written first if missing
(``tools/data/make_fashion_scenes_coco.py``). Every run is a separate
process (mmengine keeps global state per process); one JSON line per run
goes to ``--out``. The config, the conversion and the run are in
:mod:`projects.study_bench.transfer.detection`, the driver the
segmentation benchmark shares in :mod:`projects.study_bench.transfer.driver`.

Example (the numbers in docs/downstream.md)::

    python tools/benchmarks/detection_transfer_cpu.py \\
        --siameseim work_dirs/demo/epoch_4.pth \\
        --mae work_dirs/cpu_comparison/mae/lr0.001_seed0/epoch_4.pth \\
        --out docs/downstream/detection_cpu.jsonl

    python tools/benchmarks/detection_transfer_cpu.py \\
        --summarize docs/downstream/detection_cpu.jsonl
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

from mmsiameseim.cli import run_cli
from projects.study_bench.child_runs import print_record
from projects.study_bench.cli import add_scene_args
from projects.study_bench.transfer.detection import (CONFIG, convert,
                                                     det_config, ensure_scenes,
                                                     summarize, train_and_test)
from projects.study_bench.transfer.driver import (add_transfer_args,
                                                  checkpoints, run_transfer,
                                                  summarize_file)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    add_transfer_args(parser, CONFIG, 'work_dirs/det_transfer', jobs=1,
                      threads=os.cpu_count() or 1)
    parser.add_argument('--data-root', default='data/fashion_scenes_coco',
                        help='COCO scenes (written here if missing)')
    add_scene_args(parser, ('--train-scenes', '--test-scenes'), (2000, 300),
                   '--fashion-root')
    parser.add_argument('--iters', type=int,
                        help="training iterations (default: the config's)")
    return parser.parse_args(argv)


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
    work_root = osp.abspath(args.work_root)
    data_root = osp.abspath(args.data_root)
    if args.run_one:
        cfg = det_config(args.pretrained, data_root,
                         osp.join(work_root, args.run_one), args.config,
                         args.iters, args.seed)
        print_record(train_and_test(cfg, args.run_one, args.threads))
        return 0
    sources = checkpoints(args)  # before the scenes are written
    counts = ensure_scenes(data_root, osp.abspath(args.fashion_root),
                           args.train_scenes, args.test_scenes)
    print(f'scenes: {counts}', flush=True)
    child = [sys.executable, osp.abspath(__file__), '--config', args.config,
             '--data-root', data_root, '--work-root', work_root, '--seed',
             str(args.seed), '--threads', str(args.threads)]
    if args.iters:
        child += ['--iters', str(args.iters)]
    run_transfer(
        args, sources, child,
        lambda run, src: convert(src, osp.join(work_root, f'{run}_vitdet.pth'),
                                 args.trusted),
        lambda r: f"box AP {100 * r['bbox_mAP']:.1f}, mask AP "
        f"{100 * r['segm_mAP']:.1f} ({r['train_seconds'] / 60:.1f} min)",
        extra=dict(scenes=counts))
    return 0


if __name__ == '__main__':
    sys.exit(main())
