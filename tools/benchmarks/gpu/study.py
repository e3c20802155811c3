"""The short GPU study: SiameseIM, MAE, MoCo v3 and the same-view row,
trained at the same time on one GPU, then probed.

Each method trains its ``projects/study_bench/configs/reproduction/``
config at the study's size (8 epochs of the 60k Fashion-MNIST train images
at batch 256 = 1872 steps, one fixed lr per method; docs/reproduction.md,
"GPU runs") in its own process, all processes at once on the one GPU, the
CPU cores shared out as dataloader workers; then the same process runs the
kNN, linear (the linear-probing config, by the Runner) and dense probes on
the last checkpoint. Records go to ``OUT/study.jsonl``, the table to
``OUT/study_summary.md``. A training that would run past
``--train-deadline-s`` stops at the end of the epoch before and is still
probed; processes still running at ``--budget-s`` are terminated. ``--toy``
runs the same code at toy size on the CPU (the test of ``make test``).
The plan, the run and the table are in ``projects/study_bench/studies/``
(``gpu_study.py``, ``gpu_run.py``, ``gpu_summary.py``).

Usage:
    python tools/benchmarks/gpu/study.py --out OUT_DIR [--toy]
        [--methods siameseim mae mocov3 siameseim-sameview]
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from projects.study_bench.studies.gpu_run import run_child, run_parent
from projects.study_bench.studies.gpu_study import DATA_ROOT, METHODS, SIZES


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/gpu',
                        help='folder of study.jsonl, study_summary.md, '
                        'study_logs.txt')
    parser.add_argument('--work-root', default='work_dirs/gpu_study',
                        help='folder of the runs (checkpoints, logs)')
    parser.add_argument('--toy', action='store_true',
                        help='toy size on the CPU')
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=list(METHODS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help='Fashion-MNIST IDX folder')
    parser.add_argument('--budget-s', type=float, default=None,
                        help='terminate runs still going after this many '
                        'seconds (default: the size\'s)')
    parser.add_argument('--train-deadline-s', type=float, default=None,
                        help='stop training at the epoch end before this '
                        'many seconds of training (default: the size\'s)')
    # internal: one method in this process
    parser.add_argument('--child', choices=list(METHODS),
                        help=argparse.SUPPRESS)
    parser.add_argument('--size', choices=list(SIZES),
                        help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    parser.add_argument('--records', help=argparse.SUPPRESS)
    parser.add_argument('--num-workers', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--concurrent', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if len(set(args.methods)) != len(args.methods):
        parser.error('--methods: each method once')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the study (or, with ``--child``, one method of it)."""
    args = parse_args(argv)
    if args.child:
        args.method = args.child
        return run_child(args)
    return run_parent(args, child=[sys.executable, osp.abspath(__file__)])


if __name__ == '__main__':
    sys.exit(main())
