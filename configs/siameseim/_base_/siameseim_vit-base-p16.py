# SiameseIM ViT-B/16 model (docs/method.md §3): 12-block encoder without
# final norm, frozen patch embedding, 2-block BN projector and 4-block BN
# predictor of the encoder's width (768) with 16 heads, UniGrad dense loss
# with lambda 0.02. 118 of the 14 x 14 patches masked: the pipeline's mask
# generator must agree (checked when the dataloader is built).
model = dict(
    type='SiameseIM',
    base_momentum=0.005,  # EMA 0.995 -> 1.0, cosine by iteration
    end_momentum=0.,
    # SelfSupDataPreprocessor that also applies the views' colour records
    # (the pipeline's colour_on='device'); batches without them pass as is
    data_preprocessor=dict(
        type='SiameseIMDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True,
        non_blocking=True),
    backbone=dict(
        type='SiameseIMViT',
        arch='b',
        img_size=224,
        patch_size=16,
        freeze_patch_embed=True,
        final_norm=False,
        out_type='raw',
        num_masked=118),  # fixed count: the masked gather never syncs
    # the projector and predictor widths follow the encoder and the
    # predictor's grid the patch grid (SiameseIM derives every size a config
    # leaves out from the part before, and checks those it states)
    neck=dict(
        type='SiameseIMProjector',
        depth=2,
        num_heads=16,
        norm_cfg=dict(type='TokenBN')),
    head=dict(
        type='SiameseIMPredictor',
        depth=4,
        num_heads=16,
        norm_cfg=dict(type='TokenBN'),
        loss=dict(type='UniGradDenseLoss', lambda_neg=0.02,
                  target_norm='ln')))
