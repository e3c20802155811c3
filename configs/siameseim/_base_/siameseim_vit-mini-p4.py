# SiameseIM at 32 px for gray Fashion-MNIST (the CPU demo's model): the
# ViT-B/16 model with a 128-wide 4-block encoder (2 heads), patch 4 -> 8 x 8
# grid, 38/64 patches masked (118/196 scaled), 1-block projector and
# predictor with 4 heads (their widths follow the encoder, the predictor's
# grid the patch grid), EMA from 0.99, the images' own normalisation. The
# mask generator of the pipeline must agree (checked when the dataloader is
# built).
_base_ = ['siameseim_vit-base-p16.py']

model = dict(
    base_momentum=0.01,
    data_preprocessor=dict(
        mean=[72.94, 72.94, 72.94], std=[90.0, 90.0, 90.0], to_rgb=False),
    backbone=dict(
        arch=dict(
            _delete_=True,  # replaces the base's arch='b'
            embed_dims=128,
            num_layers=4,
            num_heads=2,
            feedforward_channels=128 * 4),
        img_size=32,
        patch_size=4,
        num_masked=38),
    neck=dict(depth=1, num_heads=4),
    head=dict(depth=1, num_heads=4))
