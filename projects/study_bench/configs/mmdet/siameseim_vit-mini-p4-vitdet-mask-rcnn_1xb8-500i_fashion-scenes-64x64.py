# CPU-sized ViTDet Mask R-CNN on the Fashion-MNIST scenes (COCO instances
# written by tools/data/make_fashion_scenes_coco.py): the COCO recipe's
# parts (WindowedViT, simple feature pyramid with LayerNorm, 2-conv RPN,
# 4conv1fc box head and mask head with LayerNorm, AdamW wd 0.1 with layer
# decay 0.7, warm-up then x0.1 at 89 % and 96 %) at the size of the
# `make demo` encoder: 128 wide, 4 blocks, 2 heads, patch 4.
# * 64 px scenes -> 16x16 patch grid (the encoder's 8x8 table of its 32 px
#   pretraining resized to it at every forward); windows of 8x8 patches
#   (the 32 px pretraining grid, as 14 is ViT-B's) in blocks 0 and 2,
#   global attention in blocks 1 and 3 (every other block, the last one
#   global);
# * pyramid scales 1, 0.5, 0.25, 0.125 (+ max-pooled level) of the
#   stride-4 grid: strides 4, 8, 16, 32, 64 as in the COCO config (there
#   4, 2, 1, 0.5 of a stride-16 grid), 64 channels; head convs 32 wide, box
#   fc 256, 64 sampled RoIs per image, 100 proposals per test image (CPU
#   time);
# * the pretraining normalisation of the demo (gray mean 72.94, std 90);
# * no LSJ (a 500-step schedule), horizontal flips; lr 5e-4 (batch 8, 20
#   warm-up steps, x0.1 at 445 and 480); fp32 on the CPU.
# tools/benchmarks/detection_transfer_cpu.py runs it from the SiameseIM and
# MAE demo checkpoints and from random init (docs/downstream.md).
_base_ = [
    '../../../../configs/siameseim/benchmarks/mmdet/'
    'siameseim_vit-base-p16-vitdet-mask-rcnn_16xb4-amp-lsj-100e_coco.py'
]

pretrained = 'work_dirs/det_transfer/siameseim_demo_vitdet.pth'
embed_dims = 128
channels = 64  # pyramid and RPN
head_channels = 32  # convs of the box and mask heads
classes = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal',
           'Shirt', 'Sneaker', 'Bag', 'Ankle boot')

model = dict(
    data_preprocessor=dict(
        mean=[72.94, 72.94, 72.94],
        std=[90.0, 90.0, 90.0],
        bgr_to_rgb=False,
        batch_augments=None),
    backbone=dict(
        arch=dict(
            _delete_=True,
            embed_dims=embed_dims,
            num_layers=4,
            num_heads=2,
            feedforward_channels=embed_dims * 4,
            global_attn_indexes=(1, 3)),
        img_size=64,
        patch_size=4,
        pretrain_img_size=32,  # the demo encoder's 8 x 8 table (+ cls row)
        window_size=8,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    # patch 4: scale 1 is stride 4, so the COCO config's strides 4..64
    # (anchors, RoI extractors) stay as they are
    neck=dict(
        in_channels=embed_dims,
        out_channels=channels,
        scale_factors=(1.0, 0.5, 0.25, 0.125)),
    rpn_head=dict(in_channels=channels, feat_channels=channels),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=channels),
        bbox_head=dict(
            in_channels=channels,
            conv_out_channels=head_channels,
            fc_out_channels=256,
            num_classes=len(classes)),
        mask_roi_extractor=dict(out_channels=channels),
        mask_head=dict(
            in_channels=channels,
            conv_out_channels=head_channels,
            num_classes=len(classes))),
    train_cfg=dict(
        rpn_proposal=dict(nms_pre=500, max_per_img=200),
        rcnn=dict(sampler=dict(num=64))),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))

data_root = 'data/fashion_scenes_coco/'
metainfo = dict(classes=classes)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # a no-op at 64 px that records the scale factor the heads need
    dict(type='Resize', scale=(64, 64), keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
# the COCO scenes of tools/data/make_fashion_scenes_coco.py, per split
scenes = dict(data_root=data_root, metainfo=metainfo)
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    dataset=dict(
        scenes,
        ann_file='annotations/instances_train.json',
        data_prefix=dict(img='train/'),
        filter_cfg=dict(filter_empty_gt=True),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    dataset=dict(
        scenes,
        ann_file='annotations/instances_test.json',
        data_prefix=dict(img='test/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(ann_file=data_root + 'annotations/instances_test.json')
test_evaluator = val_evaluator

# 500 iterations at batch 8 (4000 images, 2 epochs of 2000 scenes): three
# runs fit 25 minutes on 2 CPU cores (0.7-0.8 s per iteration measured)
optim_wrapper = dict(type='OptimWrapper', optimizer=dict(lr=5e-4))
max_iters = 500
# the recipe's warm-up and x0.1 steps at 89 % and 96 % of this run
param_scheduler = [
    dict(_base_.param_scheduler[0], end=20),
    dict(_base_.param_scheduler[1], end=max_iters, milestones=[445, 480]),
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1))
auto_scale_lr = dict(base_batch_size=8)
