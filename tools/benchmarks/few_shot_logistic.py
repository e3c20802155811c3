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
import sys
from typing import Optional, Sequence

from projects.study_bench.probes.cli import probe_cli, probe_main


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the 1 % evaluation; return its JSON record."""
    return probe_main('few_shot_logistic', argv)


if __name__ == '__main__':
    sys.exit(probe_cli('few_shot_logistic'))
