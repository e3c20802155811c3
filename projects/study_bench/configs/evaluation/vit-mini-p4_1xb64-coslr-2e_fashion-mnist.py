# Fine-tuning on Fashion-MNIST with the pieces of the ImageNet fine-tuning
# config (vit-base-p16_8xb128-coslr-100e_in1k.py) at the CPU demo's size:
# SiameseIMViT (fixed sin-cos table frozen, patch embedding trained, drop
# path 0.1) + avg pool + new ln2 + Linear head (trunc-normal 2e-5), label
# smoothing 0.1, AdamW (0.9, 0.999), weight decay 0.05, layer decay 0.65 over
# the 4 blocks (LearningRateDecayOptimWrapperConstructor), linear warm-up then
# cosine. Scaled to minutes on 2 CPU cores: the demo's 10,240 training
# images for 2 epochs at batch 64 (320 steps), RandomResizedCrop + flip
# (no RandAugment / erasing / Mixup / CutMix: 320 steps are too few for
# them), lr 2e-3 (chosen on held-out training images, docs/evaluation.md).
# From random init (the baseline of docs/evaluation.md):
#   --cfg-options model.backbone.init_cfg=None custom_hooks=[]
_base_ = ['./_base_/fashion_mnist_classifier.py']

model = dict(
    backbone=dict(drop_path_rate=0.1, freeze_patch_embed=False),
    head=dict(
        loss=dict(
            type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=2e-5)]))

train_pipeline = [
    dict(
        type='RandomResizedCrop',
        scale=32,
        crop_ratio_range=(0.25, 1.0),
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='GrayToRGB'),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64, drop_last=True, dataset=dict(pipeline=train_pipeline))

max_epochs = 2
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='LearningRateDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.65,
        custom_keys={
            '.ln': dict(decay_mult=0.0),
            '.bias': dict(decay_mult=0.0),
            '.cls_token': dict(decay_mult=0.0),
            '.pos_embed': dict(decay_mult=0.0)
        }))
# 160 iterations an epoch: 40 warm-up iterations, cosine to the 320th
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=False, begin=0, end=40),
    dict(
        type='CosineAnnealingLR',
        T_max=280,
        by_epoch=False,
        begin=40,
        end=320,
        eta_min=1e-6)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs,
    val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=64)
