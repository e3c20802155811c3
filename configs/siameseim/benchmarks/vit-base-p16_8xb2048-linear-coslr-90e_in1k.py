# Linear probing of a frozen SiameseIM ViT-B/16 encoder (the paper's recipe,
# 78.0 top-1 after 1600-epoch pretraining), after mmpretrain's MAE linear
# config: average pool of the patch tokens + a frozen, parameter-free
# LayerNorm (`ln2`, gamma 1, beta 0, eps 1e-6) + BatchNorm1d without affine
# parameters (ClsBatchNormNeck, eps 1e-6) + Linear (trunc-normal 0.01). The
# whole backbone is frozen and stays in eval mode (frozen_stages=12); only the
# Linear layer trains.
# Optimiser: mmpretrain's LARS, momentum 0.9, trust coefficient (eta) 0.001,
# weight decay 0; the bias gets neither trust ratio nor decay
# (lars_exclude), as the original's "no LARS for parameters <= 1-D".
# Learning rate: 0.1 x batch / 256 = 6.4 at batch 16384 (8 GPUs x 2048, or
# e.g. 32 x 512); with another total batch use --auto-scale-lr (base 16384).
# 90 epochs: 10 warm-up (linear from 1e-4 x lr), then cosine to 0. Train:
# RandomResizedCrop 224 (bicubic) + flip; test: resize 256 bicubic + crop 224.
# Weights: the converted pretraining checkpoint, as in the fine-tuning config.
_base_ = [
    'mmpretrain::mae/benchmarks/vit-base-p16_8xb2048-linear-coslr-90e_in1k.py'
]
custom_imports = dict(imports=['mmsiameseim'], allow_failed_imports=False)
runner_type = 'SafeResumeRunner'

model = dict(
    backbone=dict(
        type='SiameseIMViT',
        frozen_stages=12,
        out_type='avg_featmap',
        final_norm=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/siameseim_vit-base-p16_backbone.pth',
            prefix='backbone.')),
    neck=dict(type='ClsBatchNormNeck', input_features=768),
    head=dict(type='LinearClsHead', num_classes=1000, in_channels=768))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='RandomResizedCrop',
        scale=224,
        backend='pillow',
        interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='ResizeEdge',
        scale=256,
        edge='short',
        backend='pillow',
        interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    paramwise_cfg=dict(
        custom_keys={'.bias': dict(lars_exclude=True, decay_mult=0.)}))
auto_scale_lr = dict(base_batch_size=16384)

custom_hooks = [dict(type='PretrainedLoadCheckHook')]
