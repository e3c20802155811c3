# The ADE20k UPerNet config (same `MAE` backbone class, Feature2Pyramid,
# UPerHead + auxiliary FCNHead, layer decay 0.65 through mmseg's
# LayerDecayOptimizerConstructor, AdamW, linear warm-up then poly) at the
# size of the CPU demo's encoder (128 wide, 4 blocks, 2 heads, patch 4,
# pretrained at 32 px), on the Fashion-MNIST scenes (64 px canvases, 11
# classes with background). As ADE20k's 14 -> 32 patch grid, the pos-embed is
# resized 8x8 -> 16x16 at load. One CPU process: BN instead of SyncBN, fp32.
# `tools/benchmarks/seg_transfer_cpu.py` fine-tunes it from a SiameseIM, an
# MAE and no checkpoint (docs/downstream.md); the folders come from
# `tools/data/make_fashion_scenes_mmseg.py`.
_base_ = [
    '../../../../configs/siameseim/benchmarks/mmseg/'
    'siameseim_vit-base-p16-upernet_8xb2-amp-160k_ade20k-512x512.py'
]
custom_imports = dict(
    imports=[
        'mmsiameseim', 'mmsiameseim.downstream.mmseg_mae',
        'projects.study_bench.scenes.mmseg_dataset'
    ],
    allow_failed_imports=False)

embed_dims = 128
num_layers = 4
crop_size = (64, 64)
num_classes = 11
# With patch 4, Feature2Pyramid's (4, 2, 1, 0.5) maps have strides 1-8, so
# UPerHead's 3x3 convolutions run on 64x64 maps: at 128 channels (ADE's
# "channels = embed dims") a step at batch 16 costs ~10 s of CPU; 32 keeps
# the head's structure at ~1/16 of its convolution cost.
decode_channels = 32
max_iters = 800
warmup_iters = 80
norm_cfg = dict(type='BN', requires_grad=True)  # SyncBN refuses CPU tensors
# The demo's pretraining normalisation (Fashion-MNIST statistics, gray).
data_preprocessor = dict(
    size=crop_size, mean=[72.94] * 3, std=[90.0] * 3, bgr_to_rgb=False)
model = dict(
    data_preprocessor=data_preprocessor,
    # the demo encoder in the mmseg layout (the benchmark tool sets it)
    pretrained='work_dirs/seg_transfer_cpu/siameseim_demo_mmseg.pth',
    backbone=dict(
        img_size=crop_size,
        patch_size=4,
        embed_dims=embed_dims,
        num_layers=num_layers,
        num_heads=2,
        mlp_ratio=4,
        out_indices=[0, 1, 2, 3]),  # every 3rd of 12 -> every block of 4
    neck=dict(embed_dim=embed_dims, norm_cfg=norm_cfg),
    decode_head=dict(
        in_channels=[embed_dims] * 4,
        channels=decode_channels,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    auxiliary_head=dict(
        in_channels=embed_dims,
        channels=decode_channels // 2,
        num_classes=num_classes,
        norm_cfg=norm_cfg),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(43, 43)))

dataset_type = 'FashionScenesSegDataset'
data_root = 'data/fashion_scenes_mmseg'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(
        type='RandomResize',
        scale=(256, 64),
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(256, 64), keep_ratio=True),
    dict(type='LoadAnnotations', reduce_zero_label=False),
    dict(type='PackSegInputs')
]
# the scenes folder of tools/data/make_fashion_scenes_mmseg.py, per split
scenes = dict(_delete_=True, type=dataset_type, data_root=data_root)
prefix = {
    split: dict(img_path=f'{split}/images', seg_map_path=f'{split}/masks')
    for split in ('train', 'test')
}
train_dataloader = dict(
    batch_size=8, num_workers=1,
    dataset=dict(scenes, data_prefix=prefix['train'], pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=1,
    dataset=dict(scenes, data_prefix=prefix['test'], pipeline=test_pipeline))
test_dataloader = val_dataloader
# mmseg's IoUMetric that also returns each class's IoU (for the records)
val_evaluator = dict(type='PerClassIoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

# fp32 on the CPU; the recipe's AdamW and layer decay at this depth. lr 1e-3
# instead of 1e-4: ADE's value is for 160k steps, this schedule has 800 (one
# value for every init, not tuned).
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    optimizer=dict(
        type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(num_layers=num_layers, layer_decay_rate=0.65),
    constructor='LayerDecayOptimizerConstructor')
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=False,
        begin=0,
        end=warmup_iters),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=1.0,
        begin=warmup_iters,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
randomness = dict(seed=0)
