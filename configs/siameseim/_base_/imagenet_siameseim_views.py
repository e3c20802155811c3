# ImageNet-1k two-view pipeline of SiameseIM (docs/method.md §1-2): flip
# then random-resized-crop per view (scale 0.08-1, PIL bicubic), BYOL's
# asymmetric colour pair in RGB semantics, blockwise mask of exactly 118/196
# patches.
# Colour on the device: the workers draw every colour parameter (the same
# numbers, in the same order, as the worker-side ops) and the model's
# SiameseIMDataPreprocessor applies them to the batch. More than half of a
# worker's CPU time was colour (docs/benchmarks.md §2); without it a worker
# makes about twice as many samples per second, so fewer workers feed a GPU.
# colour_on='worker' (and PackInputs without 'colour_params') restores the
# worker-side route, pixel-exact to the original's ops.
dataset_type = 'ImageNet'
data_root = 'data/imagenet/'

color_jitter = dict(
    type='SimColorJitter',
    brightness=0.4,
    contrast=0.4,
    saturation=0.2,
    hue=0.1,
    prob=0.8)
grayscale = dict(type='SimRandomGrayscale', prob=0.2)
online_pipeline = [  # view 1: masked, strong blur, no solarize
    color_jitter, grayscale,
    dict(type='SimGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=1.0)
]
target_pipeline = [  # view 2: target, weak blur, solarize 0.2
    color_jitter, grayscale,
    dict(type='SimGaussianBlur', sigma_min=0.1, sigma_max=2.0, prob=0.1),
    dict(type='SimSolarize', threshold=128, prob=0.2)
]
views = dict(
    type='SiameseIMViews',
    img_size=224,
    crop_scale=(0.08, 1.0),
    crop_ratio=(3. / 4., 4. / 3.),
    flip_prob=0.5,
    interpolation='bicubic',
    backend='pillow',  # anti-aliased shrink, as the original's PIL crops
    online_pipeline=online_pipeline,
    target_pipeline=target_pipeline,
    colour_on='device')  # draws only: the data preprocessor applies them
mask_generator = dict(
    type='BlockwiseMaskGenerator',
    input_size=14,
    num_masking_patches=118,
    min_num_patches=16,
    min_aspect=0.3)
train_pipeline = [
    # mmcv's loader + a named error for every bad file (truncated, empty,
    # undecodable); on_error='skip' drops such files, logged once each
    dict(type='RobustLoadImageFromFile', on_error='raise'),
    views,
    mask_generator,
    # the crop geometry and the colour records reach the model
    dict(type='PackInputs', algorithm_keys=['rel_pos', 'colour_params']),
]
train_dataloader = dict(
    batch_size=128,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,
    # DefaultSampler's order + mid-epoch resume + a seed per sample
    sampler=dict(type='ResumableSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline))
