# ViTDet Mask R-CNN on COCO with a SiameseIM ViT-B/16 encoder: the recipe of
# the paper's detection results (52.1 box / 46.2 mask AP, detectron2's ViTDet
# "mask_rcnn_vitdet_b_100ep") in an installed mmdet 3.3.
# * backbone: plain ViT-B/16 at 1024 px, 14x14 window attention in blocks
#   0,1,3,4,6,7,9,10, global in 2,5,8,11, decomposed relative position bias
#   (zero init), the pretraining pos-embed (1 + 14x14 rows) kept as the
#   parameter and resized to the input grid (64x64) at every forward,
#   drop path 0.1 (WindowedViT);
# * neck: simple feature pyramid, scales 4, 2, 1, 0.5 (+ max-pooled stride
#   64 level), channel LayerNorm, 256 channels;
# * heads: RPN with 2 convs, 4conv1fc box head and mask head with LayerNorm;
# * LSJ 1024 (scale 0.1-2.0), batch 64 (16 GPUs x 4), AdamW lr 1e-4,
#   betas (0.9, 0.999), wd 0.1 (0 on norms and pos_embed), layer-wise lr
#   decay 0.7, 184,375 iterations (100 epochs), 250-iteration linear warm-up,
#   x0.1 at 163,889 and 177,546 (88.9 % and 96.3 %), AMP.
# Encoder file: tools/model_converters/siameseim_to_backbone.py CKPT OUT
# --layout vitdet; set `pretrained` (or --cfg-options
# model.backbone.init_cfg.checkpoint=OUT). PretrainedLoadCheckHook stops the
# run before the first step unless every encoder tensor arrived.
_base_ = [
    'mmdet::_base_/models/mask-rcnn_r50_fpn.py',
    'mmdet::common/lsj-100e_coco-instance.py',
]
custom_imports = dict(
    imports=['mmsiameseim', 'mmsiameseim.downstream.vitdet'],
    allow_failed_imports=False)

pretrained = 'checkpoints/siameseim_vit-base-p16_vitdet.pth'
image_size = (1024, 1024)
# channel LayerNorm (mmpretrain's LayerNorm2d) of the pyramid and the heads
norm_cfg = dict(type='mmpretrain.LN2d', eps=1e-6)

model = dict(
    data_preprocessor=dict(
        # pad every training image to 1024 x 1024 after normalisation
        # (zeros = the mean colour), as ViTDet's square padding
        batch_augments=[
            dict(type='BatchFixedSizePad', size=image_size, pad_mask=True)
        ]),
    backbone=dict(
        _delete_=True,
        type='WindowedViT',
        arch='base',
        img_size=image_size[0],
        patch_size=16,
        # detectron2's pretrain_img_size / pretrain_use_cls_token: the
        # table of the 224 px pretraining with its cls row
        pretrain_img_size=224,
        pretrain_use_cls_token=True,
        window_size=14,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint=pretrained)),
    neck=dict(
        _delete_=True,
        type='SimpleFeaturePyramid',
        in_channels=768,
        out_channels=256,
        scale_factors=(4.0, 2.0, 1.0, 0.5),
        num_outs=5,
        norm_cfg=norm_cfg),
    rpn_head=dict(num_convs=2),
    roi_head=dict(
        bbox_head=dict(
            type='Shared4Conv1FCBBoxHead',
            conv_out_channels=256,
            norm_cfg=norm_cfg),
        mask_head=dict(norm_cfg=norm_cfg)))

# LSJ training pipeline of the base; test images resized to 1024 and padded
# to 1024 x 1024 with the mean colour (BGR), as ViTDet.
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=_base_.backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='Pad', size=image_size, pad_val=dict(img=(104, 116, 124))),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                   'scale_factor'))
]
train_dataloader = dict(
    batch_size=4,
    num_workers=8,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    # iteration-based: the base's RepeatDataset x4 wrapper is not needed
    dataset=dict(
        _delete_=True,
        type=_base_.dataset_type,
        data_root=_base_.data_root,
        ann_file='annotations/instances_train2017.json',
        data_prefix=dict(img='train2017/'),
        filter_cfg=dict(filter_empty_gt=True, min_size=32),
        pipeline=_base_.train_pipeline,
        backend_args=_base_.backend_args))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    constructor='ViTLayerDecayOptimWrapperConstructor',
    optimizer=dict(
        type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1),
    paramwise_cfg=dict(
        layer_decay_rate=0.7,
        norm_decay_mult=0.,
        custom_keys={'pos_embed': dict(decay_mult=0.)}))

max_iters = 184375
interval = 5000
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=250),
    dict(
        type='MultiStepLR',
        by_epoch=False,
        begin=0,
        end=max_iters,
        milestones=[163889, 177546],
        gamma=0.1)
]
train_cfg = dict(
    _delete_=True,
    type='IterBasedTrainLoop',
    max_iters=max_iters,
    val_interval=interval)
default_hooks = dict(
    checkpoint=dict(
        by_epoch=False, interval=interval, save_last=True, max_keep_ckpts=5))
log_processor = dict(by_epoch=False)
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
auto_scale_lr = dict(base_batch_size=64)
