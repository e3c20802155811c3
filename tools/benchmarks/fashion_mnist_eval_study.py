"""The CPU measurements of docs/evaluation.md, through the evaluation configs.

Runs the Fashion-MNIST configs of ``projects/study_bench/configs/
evaluation/`` with mmengine's Runner (what ``tools/train.py`` does) and
appends one JSON line per run to ``--out``:

* ``--stage lr``: the fine-tuning learning rate, chosen on *held-out
  training images* (train indices 50000-51999, never the test split), from
  the pretrained encoder, for each ``--lrs``;
* ``--stage finetune``: fine-tuning from the pretrained encoder and from
  random init at equal steps (``--lr``), top-1 on the 10,000 test images;
* ``--stage linear``: the linear-probing config, top-1 on the test images.

The stages are in :mod:`projects.study_bench.studies.eval_study`.

Example (the numbers of docs/evaluation.md; each stage takes minutes on 2
CPU cores):
    python tools/model_converters/siameseim_to_backbone.py \\
        work_dirs/demo/epoch_4.pth work_dirs/demo/backbone.pth
    python tools/benchmarks/fashion_mnist_eval_study.py --stage lr \\
        --pretrained work_dirs/demo/backbone.pth \\
        --out docs/evaluation/fashion_mnist_cpu.jsonl
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.studies.eval_study import (best_lr, finetune_stage,
                                                     linear_stage, lr_stage)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--stage', choices=['lr', 'finetune', 'linear'], required=True)
    parser.add_argument(
        '--pretrained',
        default='work_dirs/demo/backbone.pth',
        help='backbone file made by siameseim_to_backbone.py')
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument('--lrs', type=float, nargs='+',
                        default=[2.5e-4, 5e-4, 1e-3])
    parser.add_argument(
        '--lr',
        default=None,
        help="fine-tuning lr (default: the config's); 'best': the lr of the "
        'best held-out top-1 among the lr-stage records in --out')
    parser.add_argument('--work-dir', default='work_dirs/eval_study')
    parser.add_argument('--out', default='work_dirs/eval_study/runs.jsonl')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run one stage."""
    args = parse_args(argv)
    if args.lr == 'best':
        args.lr = best_lr(args.out)
    elif args.lr is not None:
        args.lr = float(args.lr)
    common = dict(data_root=args.data_root, work_dir=args.work_dir,
                  seed=args.seed, out=args.out)
    if args.stage == 'lr':
        lr_stage(args.lrs, args.pretrained, **common)
    elif args.stage == 'finetune':
        finetune_stage(args.pretrained, lr=args.lr, **common)
    else:
        linear_stage(args.pretrained, **common)


if __name__ == '__main__':
    main()
