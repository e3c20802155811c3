# Test and smoke-run size of every SiameseIM config (the one place these
# sizes live): 32 px views, 8 px patches (4 x 4 grid), 9 patches masked, a
# 32-wide 2-block encoder with 2 heads, a 1-block projector and predictor
# with 2 heads (their widths and grid follow the encoder). Not a config to
# train: tests and `tools/benchmarks/pretrain_throughput.py --tiny` merge it
# over a config with `projects.study_bench.sizes.apply_sizes` (`model`
# into the model, `transforms` into the pipeline transforms of those types);
# everything it does not name (switches, losses, norms, colour ops) stays
# the config's own.
img_size = 32
patch_size = 8
grid = img_size // patch_size
num_masked = 9
embed_dims = 32
# (_delete_: replaces an arch name such as 'b')
encoder = dict(_delete_=True, embed_dims=embed_dims, num_layers=2,
               num_heads=2, feedforward_channels=embed_dims * 2)
model = dict(
    backbone=dict(arch=encoder, img_size=img_size, patch_size=patch_size,
                  num_masked=num_masked),
    neck=dict(depth=1, num_heads=2),
    head=dict(depth=1, num_heads=2))
transforms = dict(
    SiameseIMViews=dict(img_size=img_size),
    BlockwiseMaskGenerator=dict(
        input_size=grid, num_masking_patches=num_masked, min_num_patches=2),
    RandomPatchMaskGenerator=dict(
        input_size=grid, num_masking_patches=num_masked))

# mmpretrain's MAE and MoCo v3 at the same encoder size (merged into their
# `model` by the throughput tool's --tiny and the reproduction-config
# tests); their decoder / MLP sizes are tiny too.
mae_model = dict(
    backbone=dict(arch=encoder, img_size=img_size, patch_size=patch_size),
    neck=dict(
        num_patches=grid**2,
        patch_size=patch_size,
        embed_dim=embed_dims,
        decoder_embed_dim=embed_dims,
        decoder_depth=1,
        decoder_num_heads=2,
        mlp_ratio=4.),
    head=dict(patch_size=patch_size))
moco_out = 16
mocov3_model = dict(
    backbone=dict(arch=encoder, img_size=img_size, patch_size=patch_size),
    neck=dict(in_channels=embed_dims, hid_channels=64, out_channels=moco_out),
    head=dict(
        predictor=dict(
            in_channels=moco_out, hid_channels=64, out_channels=moco_out)))
