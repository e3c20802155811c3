"""Weighted kNN accuracy of a frozen pretrained backbone on Fashion-MNIST.

Builds ``model.backbone`` of a *pretraining* config (SiameseIM, MAE,
MoCo v3, ...), loads the checkpoint's backbone weights (``none``: the
random init), encodes the first ``--train-size`` train images (the memory
bank) and the first ``--test-size`` test images resized to ``--img-size``,
pools them (``--pool avg``: mean of the patch tokens; ``cls``: the cls
token) and classifies the test images with the cosine, temperature-weighted
kNN of ``mmsiameseim.evaluation.knn`` (k=20, T=0.07). Prints one JSON line
and appends it to ``--out``. The probe is
:func:`projects.study_bench.probes.knn.knn_probe`.

Example:
    python tools/benchmarks/knn_eval.py \\
        configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \\
        work_dirs/demo/epoch_4.pth --out work_dirs/benchmarks.jsonl
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.probes.common import add_probe_args, check_sizes
from projects.study_bench.probes.knn import knn_probe


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='kNN evaluation of a frozen backbone on Fashion-MNIST')
    add_probe_args(parser)
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)
    args = parser.parse_args(argv)
    check_sizes(parser, args)
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the evaluation; return the JSON record."""
    return knn_probe(**vars(parse_args(argv)))


if __name__ == '__main__':
    main()
