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

Example (the Runner's logs and config in ``--work-dir``):
    python tools/benchmarks/linear_probe.py \\
        configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \\
        work_dirs/demo/epoch_4.pth --work-dir work_dirs/linear_probe \\
        --out work_dirs/benchmarks.jsonl
"""
import sys
from typing import Optional, Sequence

from projects.study_bench.probes.cli import probe_cli, probe_main


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the linear probe; return its JSON record."""
    return probe_main('linear_probe', argv)


if __name__ == '__main__':
    sys.exit(probe_cli('linear_probe'))
