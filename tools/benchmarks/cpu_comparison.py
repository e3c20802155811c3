"""SiameseIM vs mmpretrain's MAE and MoCo v3 at demo size, on the CPU.

A CPU-sized preview of the GPU mini-reproduction (docs/reproduction.md):
each method's reproduction config
(``projects/study_bench/configs/reproduction/``, mmpretrain's own MAE /
MoCo v3 algorithms and heads) is resized to the CPU demo's encoder
(``projects/study_bench/configs/_base_/sizes/mini.py``, which reads the
demo's model, so the sizes live in one place) and given the demo's data,
schedule and kNN monitor:

* encoder: the demo's ViT (128 wide, 4 blocks, 2 heads, 32 px, patch 4);
  MAE's decoder is 128 wide with 2 blocks (= the demo's projector +
  predictor depth); MoCo v3 keeps its projector / predictor MLPs;
* data: 10240 Fashion-MNIST train images x 4 epochs at batch 64 (640
  iterations), fp32;
* schedule: the demo's 1-epoch linear warm-up and cosine; every method keeps
  its own optimiser (AdamW settings, decay rules, clipping) at the swept lr;
* evaluation: the demo's ``KNNMonitorHook`` (k = 20, T = 0.07, avg-pooled
  patch tokens; bank 2000 train images, queries 1000 test images) at init
  and after every epoch; ``--methods pixels`` adds the same kNN on raw
  pixels, the reference a pretrained encoder should beat.

Every run is a separate process (mmengine keeps global state per process).
One JSON line per run goes to ``--out``: method, lr, seed, kNN history,
train seconds, machine. The configs, the training and the tables are in
:mod:`projects.study_bench.studies.cpu_comparison`.

Example::

    python tools/benchmarks/cpu_comparison.py --out work_dirs/cpu_cmp.jsonl \\
        --methods siameseim mae mocov3 --lrs 3e-4 1e-3 3e-3
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from projects.study_bench.child_runs import print_record, run_children
from projects.study_bench.cli import append_jsonl
from projects.study_bench.studies.cpu_comparison import (CONFIGS,
                                                         pixel_baseline,
                                                         summarize, train_one)
from projects.study_bench.studies.records import read_records


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/cpu_comparison.jsonl')
    parser.add_argument('--methods', nargs='+', default=list(CONFIGS),
                        choices=list(CONFIGS) + ['pixels'])
    parser.add_argument('--lrs', nargs='+', type=float,
                        default=[3e-4, 1e-3, 3e-3])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--work-root', default='work_dirs/cpu_comparison')
    parser.add_argument('--pixel-sizes', nargs=2, type=int,
                        metavar=('BANK', 'QUERIES'),
                        help='image counts of the raw-pixel kNN (default: '
                        "the demo hook's 2000 and 1000)")
    parser.add_argument('--summarize', metavar='JSONL',
                        help='print the markdown tables of a results file '
                        'and exit')
    # internal: one run in this process
    parser.add_argument('--method', help=argparse.SUPPRESS)
    parser.add_argument('--lr', type=float, help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, default=0,
                        help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the sweep (or, with ``--method``, one run of it); returns the
    exit status."""
    args = parse_args(argv)
    if args.summarize:
        print(summarize(read_records(args.summarize)))
        return 0
    if args.method is not None:
        print_record(train_one(args.method, args.lr, args.seed,
                               args.work_dir))
        return 0
    if 'pixels' in args.methods:
        append_jsonl(args.out, pixel_baseline(sizes=args.pixel_sizes))
    runs = {}
    for method in args.methods:
        for lr in args.lrs:
            for seed in args.seeds:
                if method != 'pixels':
                    runs[f'{method}_lr{lr:g}_seed{seed}'] = [
                        sys.executable, osp.abspath(__file__), '--method',
                        method, '--lr', str(lr), '--seed', str(seed),
                        '--work-dir', osp.abspath(osp.join(
                            args.work_root, method, f'lr{lr:g}_seed{seed}'))
                    ]
    for _, record in run_children(runs, osp.abspath(args.work_root)):
        append_jsonl(args.out, record)
        print(f"{record['method']} lr={record['lr']:g}: kNN "
              f"{record['knn_init']:.1f} -> {record['knn_final']:.1f} "
              f"({record['train_seconds']:.0f} s)", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
