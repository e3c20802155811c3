"""Linear probe of a frozen pretrained backbone on Fashion-MNIST.

Runs the linear-probing config
``projects/study_bench/configs/evaluation/vit-mini-p4_1xb256-linear-coslr-10e_fashion-mnist.py``
(the paper's linear-probing recipe at the bench's size: frozen encoder,
average pooling, parameter-free LN, non-affine BatchNorm, linear head,
mmpretrain's LARS lr 6.4, warm-up then cosine) with mmengine's Runner on
the encoder of any *pretraining* config and checkpoint (``none``: the
random init), and reports top-1 on the test images. Without options the
config's protocol: the first 10,240 train images for 10 epochs (1 warm-up)
at batch 256, all 10,000 test images. Prints one JSON line and appends it
to ``--out``. The probe is
:func:`projects.study_bench.probes.linear.linear_probe`.

Example:
    python tools/benchmarks/linear_probe.py \\
        configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \\
        work_dirs/demo/epoch_4.pth --out work_dirs/benchmarks.jsonl
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.probes.common import add_probe_args, check_sizes
from projects.study_bench.probes.linear import linear_probe


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Linear probe of a frozen backbone on Fashion-MNIST')
    add_probe_args(parser)
    for name, kind, what in (('epochs', int, 'training epochs'),
                             ('warmup-epochs', int, 'warm-up epochs'),
                             ('probe-batch-size', int, 'training batch'),
                             ('lr', float, 'peak LARS learning rate')):
        parser.add_argument(f'--{name}', type=kind, default=None,
                            help=f"{what} (default: the config's)")
    parser.add_argument('--work-dir', default=None,
                        help="the Runner's folder (default: a temporary one)")
    args = parser.parse_args(argv)
    check_sizes(parser, args)
    if (args.epochs is not None and args.epochs < 1) or \
            (args.probe_batch_size is not None and args.probe_batch_size < 2):
        parser.error('--epochs must be >= 1 and --probe-batch-size >= 2')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the probe; return the JSON record."""
    return linear_probe(**vars(parse_args(argv)))


if __name__ == '__main__':
    main()
