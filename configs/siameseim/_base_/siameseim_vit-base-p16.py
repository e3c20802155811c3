# SiameseIM ViT-B/16 model (docs/method.md §3): 12-block encoder without final norm,
# frozen patch embedding, 2-block BN projector and 4-block BN predictor of
# width 768 with 16 heads, UniGrad dense loss with lambda 0.02.
custom_imports = dict(imports=['mmsiameseim'], allow_failed_imports=False)

model = dict(
    type='SiameseIM',
    base_momentum=0.005,  # EMA 0.995 -> 1.0, cosine by iteration
    end_momentum=0.,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
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
    neck=dict(
        type='SiameseIMProjector',
        in_channels=768,
        embed_dims=768,
        depth=2,
        num_heads=16,
        norm_cfg=dict(type='TokenBN')),
    head=dict(
        type='SiameseIMPredictor',
        embed_dims=768,
        depth=4,
        num_heads=16,
        norm_cfg=dict(type='TokenBN'),
        grid_size=14,
        loss=dict(type='UniGradDenseLoss', lambda_neg=0.02,
                  target_norm='ln')))
