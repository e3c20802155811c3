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
import sys
from typing import Optional, Sequence

from projects.study_bench.probes.cli import probe_cli, probe_main


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the dense probe; return its JSON record."""
    return probe_main('dense_probe', argv)


if __name__ == '__main__':
    sys.exit(probe_cli('dense_probe'))
