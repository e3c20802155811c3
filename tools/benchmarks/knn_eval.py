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
import sys
from typing import Optional, Sequence

from projects.study_bench.probes.cli import probe_cli, probe_main


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the kNN probe; return its JSON record."""
    return probe_main('knn_eval', argv)


if __name__ == '__main__':
    sys.exit(probe_cli('knn_eval'))
