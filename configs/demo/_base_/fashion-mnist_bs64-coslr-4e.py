# Data and runtime of the CPU demo: Fashion-MNIST at 32 px (28 px images
# resized by the crop), SiameseIM's two views with grayscale-safe colour
# ops, blockwise mask of 38 of the 8 x 8 patches; 10240 images x 4 epochs at
# batch 64, fp32, 1-epoch warm-up then cosine; kNN top-1 (bank 2000 train
# images, queries 1000 test images) before training and after every epoch.
# The reproduction rows (projects/study_bench/configs/reproduction/_base_/) build on it.
_base_ = ['../../siameseim/_base_/pretrain_runtime.py']

data_root = 'data/fashion-mnist'
img_size = 32
grid = 8  # img_size / the model's patch size 4
num_masked = 38
# the images' normalisation, for models that do not state their own
data_preprocessor = dict(
    type='SelfSupDataPreprocessor',
    mean=[72.94, 72.94, 72.94],
    std=[90.0, 90.0, 90.0],
    to_rgb=False)
color = [
    dict(type='SimColorJitter', brightness=0.4, contrast=0.4, saturation=0.,
         hue=0., prob=0.8),
]
views = dict(
    type='SiameseIMViews',
    img_size=img_size,
    crop_scale=(0.25, 1.0),
    interpolation='bicubic',
    online_pipeline=color + [
        dict(type='SimGaussianBlur', sigma_min=0.1, sigma_max=0.6, prob=0.5)
    ],
    target_pipeline=color + [dict(type='SimSolarize', prob=0.2)])
mask_generator = dict(
    type='BlockwiseMaskGenerator',
    input_size=grid,
    num_masking_patches=num_masked,
    min_num_patches=4)
pack = dict(type='PackInputs', algorithm_keys=['rel_pos'])
# named parts: a config that changes one (the ablation rows of
# configs/reproduction) names it instead of indexing this list
train_pipeline = [views, mask_generator, pack]
train_dataloader = dict(
    batch_size=64,
    num_workers=1,
    persistent_workers=True,
    drop_last=True,
    # DefaultSampler's order + mid-epoch resume + a seed per sample
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    # mmpretrain's FashionMNIST reads the four uncompressed IDX files of
    # data_root (tools/data/fetch_fashion_mnist.py): 28 x 28 gray images,
    # which SiameseIMViews (and GrayToRGB in the kNN loaders) turn into
    # three equal channels
    dataset=dict(
        type='FashionMNIST',
        data_root=data_root,
        split='train',
        download=False,
        indices=10240,
        pipeline=train_pipeline))

eval_pipeline = [
    dict(type='Resize', scale=(img_size, img_size), interpolation='bicubic'),
    dict(type='GrayToRGB'),
    dict(type='PackInputs'),
]
knn_loader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'))
# no data_root: the kNN monitor reads the train loader's, so that
# --cfg-options train_dataloader.dataset.data_root=DIR moves all the data
knn_dataset = dict(type='FashionMNIST', download=False, pipeline=eval_pipeline)
custom_hooks = [
    dict(
        type='KNNMonitorHook',
        train_dataloader=dict(
            knn_loader,
            dataset=dict(knn_dataset, split='train', indices=2000)),
        val_dataloader=dict(
            knn_loader,
            # mmpretrain's FashionMNIST reads the test images only with
            # test_mode=True (split='test' alone gives the training set)
            dataset=dict(
                knn_dataset, split='test', test_mode=True, indices=1000)),
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
    constructor='QuietOptimWrapperConstructor',
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
