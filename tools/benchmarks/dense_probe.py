"""Dense (per-patch) linear probe on Fashion-MNIST scenes, reported as mIoU.

Train scenes are built from the train split and test scenes from the test
split (seeded, 11 classes: background + 10 garments), rendered at
``--canvas`` pixels (default ``2 x img_size``, items ``5/8`` to ``5/4`` of
``img_size`` on a side: 64 px canvases with 20-40 px items for the 32 px
demo backbone). The frozen ``model.backbone`` of a *pretraining* config
gives a layer-normalised patch map; a head of non-affine BatchNorm and a
1x1 conv (11 classes) is trained with per-pixel cross-entropy (AdamW,
lr 1e-2, 20 epochs, warm-up + cosine); mIoU over the test scenes is
reported. ``--pool`` is accepted for a uniform command line and ignored.
Prints one JSON line and appends it to ``--out``. The probe is
:func:`projects.study_bench.probes.dense_probe.dense_probe`
(docs/dense_probe.md).

Example:
    python tools/benchmarks/dense_probe.py \\
        configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \\
        work_dirs/demo/epoch_4.pth --out work_dirs/benchmarks.jsonl \\
        --dump-scenes work_dirs/scenes_preview
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.probes.common import add_probe_args, check_sizes
from projects.study_bench.probes.dense_probe import DEFAULT_SCENES, dense_probe


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Dense linear probe (mIoU) on Fashion-MNIST scenes')
    add_probe_args(parser, unit='scenes', default_sizes=DEFAULT_SCENES)
    parser.add_argument(
        '--canvas',
        type=int,
        default=None,
        help='scene side in pixels (default: 2 x img-size)')
    parser.add_argument(
        '--item-size',
        type=int,
        nargs=2,
        default=None,
        metavar=('MIN', 'MAX'),
        help='item side range (default: 5/8 and 5/4 of img-size)')
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--lr', type=float, default=1e-2)
    parser.add_argument(
        '--probe-batch-size',
        type=int,
        default=64,
        help='scenes per step of the probe training')
    parser.add_argument(
        '--dump-scenes',
        default=None,
        metavar='DIR',
        help='also write the first --num-dump test scenes as PNGs + json')
    parser.add_argument('--num-dump', type=int, default=32)
    args = parser.parse_args(argv)
    check_sizes(parser, args)
    if args.epochs < 1 or args.probe_batch_size < 2:
        parser.error('--epochs must be >= 1 and --probe-batch-size >= 2')
    if args.train_size < 2:
        parser.error('--train-size must be >= 2 scenes')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the probe; return the JSON record."""
    return dense_probe(**vars(parse_args(argv)))


if __name__ == '__main__':
    main()
