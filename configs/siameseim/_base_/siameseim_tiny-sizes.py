# Test and smoke-run size of every SiameseIM config (the one place these
# sizes live): 32 px views, 8 px patches (4 x 4 grid), 9 patches masked, a
# 32-wide 2-block encoder with 2 heads, a 1-block projector and predictor
# with 2 heads (their widths and grid follow the encoder). Not a config to
# train: tests and `tools/benchmarks/pretrain_throughput.py --tiny` merge it
# over a config with `mmsiameseim.utils.apply_sizes` (`model` into the
# model, `transforms` into the pipeline transforms of those types);
# everything it does not name (switches, losses, norms, colour ops) stays
# the config's own.
img_size = 32
patch_size = 8
grid = img_size // patch_size
num_masked = 9
embed_dims = 32
model = dict(
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=2,
            num_heads=2,
            feedforward_channels=embed_dims * 2),
        img_size=img_size,
        patch_size=patch_size,
        num_masked=num_masked),
    neck=dict(depth=1, num_heads=2),
    head=dict(depth=1, num_heads=2))
transforms = dict(
    SiameseIMViews=dict(img_size=img_size),
    BlockwiseMaskGenerator=dict(
        input_size=grid, num_masking_patches=num_masked, min_num_patches=2),
    RandomPatchMaskGenerator=dict(
        input_size=grid, num_masking_patches=num_masked))
