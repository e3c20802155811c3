"""1 % ImageNet evaluation: logistic regression on frozen cls features.

The paper's "IN 1%" column (the original ``main_logistic.py``, after MSN):
the frozen encoder of a *pretraining* config encodes the training images
a subset list names (SimCLR's ``1percent.txt``) and the ImageNet validation
set (``Resize(256, bilinear)``, ``CenterCrop(224)``, the config's
normalisation); a multinomial logistic regression with an L2 weight of
``--lambd / N`` is fitted on the centred, L2-normalised cls tokens
(:mod:`projects.study_bench.probes.logistic_regression`, scikit-learn) and its
validation top-1 is reported. No network weight is trained.

The ImageNet folder needs ``train/<wnid>/<image>`` and either
``val/<wnid>/<image>`` (class folders) or mmpretrain's flat ``val/`` with
``meta/val.txt``. Check the list first with ``check_subset_list.py``.
Prints one JSON line and appends it to ``--out``.

Example:
    CFG=configs/siameseim/siameseim_vit-base-p16_32xb128-amp-coslr-1600e_in1k.py
    python tools/benchmarks/few_shot_logistic.py \\
        $CFG work_dirs/siameseim_vit-base/epoch_1600.pth \\
        --data-root data/imagenet --subset-list data/imagenet/1percent.txt \\
        --out work_dirs/few_shot.jsonl
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.probes.few_shot import few_shot_probe


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='1 % ImageNet logistic regression on frozen features')
    parser.add_argument('config', help='pretraining config')
    parser.add_argument(
        'checkpoint', help="checkpoint, or 'none' for the random init")
    parser.add_argument('--data-root', default='data/imagenet')
    parser.add_argument(
        '--subset-list', required=True, help='e.g. SimCLR 1percent.txt')
    parser.add_argument(
        '--lambd',
        type=float,
        default=0.1,
        help='L2 weight x N (0.1 for ViT-B, 0.01 for ViT-L)')
    parser.add_argument(
        '--pool',
        choices=['cls', 'avg'],
        default='cls',
        help='cls token (the recipe) or mean of the patch tokens')
    parser.add_argument('--resize', type=int, default=256)
    parser.add_argument('--crop', type=int, default=224)
    parser.add_argument(
        '--val-size',
        type=int,
        default=None,
        help='first N validation images (default: all)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=4)
    parser.add_argument('--max-iter', type=int, default=1000)
    parser.add_argument('--device', default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None)
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='read the checkpoint with full pickle (a file of your own run '
        'copied elsewhere; see docs/checkpoints.md)')
    args = parser.parse_args(argv)
    if args.lambd <= 0:
        parser.error('--lambd must be > 0')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the evaluation; return the JSON record."""
    return few_shot_probe(**vars(parse_args(argv)))


if __name__ == '__main__':
    main()
