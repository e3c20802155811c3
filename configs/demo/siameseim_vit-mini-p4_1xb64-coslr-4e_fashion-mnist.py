# SiameseIM demo on the embedded Fashion-MNIST (real images, CPU, minutes).
# A small ViT (128 wide, 2 heads, 4 blocks) at 32 px (28 px images resized by
# the crop), patch 4 -> 8x8 grid, 38/64 patches masked (118/196 scaled), the
# full method otherwise: two views with crop geometry, blockwise mask, TokenBN
# heads, EMA target, UniGrad dense loss. 10240 images x 4 epochs at batch 64
# (640 iterations) fit the 10-minute CPU budget of `make demo`.
# Why this size: the loss first learns the positional part of the targets
# (half of a Fashion-MNIST view is black background); kNN only rises once
# content is learned, which takes several hundred steps. At 192 wide and
# batch 128 only 160 steps fit and kNN ended below init (54.7 -> 52.1 %);
# 128 wide at batch 64 fits 4x the steps (docs/benchmarks.md, "Demo").
# KNNMonitorHook logs kNN top-1 on 1000 test images before training and
# after every epoch.
_base_ = ['../siameseim/_base_/pretrain_runtime.py']
custom_imports = dict(imports=['mmsiameseim'], allow_failed_imports=False)

embed_dims = 128
grid = 8
model = dict(
    type='SiameseIM',
    base_momentum=0.01,
    end_momentum=0.,
    data_preprocessor=dict(
        type='SelfSupDataPreprocessor',
        mean=[72.94, 72.94, 72.94],
        std=[90.0, 90.0, 90.0],
        to_rgb=False),
    backbone=dict(
        type='SiameseIMViT',
        arch=dict(
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=2,
            feedforward_channels=embed_dims * 4),
        img_size=32,
        patch_size=4),
    neck=dict(
        type='SiameseIMProjector',
        in_channels=embed_dims,
        embed_dims=embed_dims,
        depth=1,
        num_heads=4),
    head=dict(
        type='SiameseIMPredictor',
        embed_dims=embed_dims,
        depth=1,
        num_heads=4,
        grid_size=grid,
        loss=dict(type='UniGradDenseLoss', lambda_neg=0.02)))

data_root = 'data/fashion-mnist'
color = [
    dict(type='SimColorJitter', brightness=0.4, contrast=0.4, saturation=0.,
         hue=0., prob=0.8),
]
train_pipeline = [
    dict(
        type='SiameseIMViews',
        img_size=32,
        crop_scale=(0.25, 1.0),
        interpolation='bicubic',
        online_pipeline=color + [
            dict(type='SimGaussianBlur', sigma_min=0.1, sigma_max=0.6,
                 prob=0.5)
        ],
        target_pipeline=color + [dict(type='SimSolarize', prob=0.2)]),
    dict(type='BlockwiseMaskGenerator', input_size=grid,
         num_masking_patches=38, min_num_patches=4),
    dict(type='PackInputs', algorithm_keys=['rel_pos']),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    # DefaultSampler's order + mid-epoch resume + a seed per sample
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type='FashionMNISTIDX',
        data_root=data_root,
        split='train',
        indices=10240,
        pipeline=train_pipeline))

eval_pipeline = [
    dict(type='Resize', scale=(32, 32), interpolation='bicubic'),
    dict(type='PackInputs'),
]
knn_loader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
knn_dataset = dict(
    type='FashionMNISTIDX', data_root=data_root, pipeline=eval_pipeline)
custom_hooks = [
    dict(
        type='KNNMonitorHook',
        train_dataloader=dict(
            knn_loader,
            dataset=dict(knn_dataset, split='train', indices=2000)),
        val_dataloader=dict(
            knn_loader, dataset=dict(knn_dataset, split='test',
                                     indices=1000)),
        interval=1,
        k=20,
        temperature=0.07,
        pool='avg'),
    dict(type='NumericsGuardHook', max_consecutive=3),
]

max_epochs = 4
warmup_epochs = 1
# fp32 on CPU: replace the base AmpOptimWrapper (keeps clip and decay rules)
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.95),
                   weight_decay=0.05),
    clip_grad=dict(max_norm=1.0),
    paramwise_cfg=dict(
        bias_decay_mult=0., norm_decay_mult=0., flat_decay_mult=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs,
         eta_min=1e-5, by_epoch=True, begin=warmup_epochs, end=max_epochs,
         convert_to_iter_based=True),
]
train_cfg = dict(type='ResumableEpochBasedTrainLoop', max_epochs=max_epochs)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=2))
vis_backends = [dict(type='LocalVisBackend'),
                dict(type='TensorboardVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
auto_scale_lr = dict(base_batch_size=64, enable=False)
