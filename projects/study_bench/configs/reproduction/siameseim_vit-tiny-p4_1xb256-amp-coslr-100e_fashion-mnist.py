# Mini-reproduction, SiameseIM row: the Fashion-MNIST demo recipe with the
# encoder the MAE and MoCo-v3 rows use (ViT with embed 192, 6 layers, 3 heads
# at 32 px, patch 4 -> 8x8 grid; the CPU demo shrinks it to 128 x 4 layers),
# predictor depth 2, 38/64 patches masked, trained longer on the full 60k
# train split, batch 256, AMP.
# Data and runtime: _base_/ (shared with the MAE and MoCo v3 rows). The
# SiameseIM ablation rows inherit this file and change only what their row
# is about. See docs/reproduction.md for the plan and commands.
_base_ = [
    '../../../../configs/siameseim/_base_/siameseim_vit-mini-p4.py',
    '_base_/fashion-mnist_bs256-amp-coslr-100e.py',
]

model = dict(
    backbone=dict(arch=_base_.encoder),
    neck=dict(num_heads=6),  # widths follow the encoder
    head=dict(num_heads=6, depth=2))
