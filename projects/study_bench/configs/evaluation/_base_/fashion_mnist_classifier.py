# The fine-tuning / linear-probing model pieces of the ImageNet configs at the
# size of the CPU demo (configs/demo/: a 128-wide, 4-block, 2-head ViT at
# 32 px, patch 4) on Fashion-MNIST (10 classes, gray images repeated to 3
# channels): SiameseIMViT with average pooling + ln2, mmpretrain's
# ImageClassifier and LinearClsHead. The encoder comes from the demo's
# pretraining checkpoint, converted once:
#   python tools/model_converters/siameseim_to_backbone.py \
#       work_dirs/demo/epoch_4.pth work_dirs/demo/backbone.pth
_base_ = ['mmpretrain::_base_/default_runtime.py']
custom_imports = dict(imports=['mmsiameseim'], allow_failed_imports=False)
runner_type = 'SafeResumeRunner'

embed_dims = 128
data_root = 'data/fashion-mnist'
pretrained = 'work_dirs/demo/backbone.pth'
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=10,
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
        patch_size=4,
        out_type='avg_featmap',
        final_norm=False,
        init_cfg=dict(
            type='Pretrained', checkpoint=pretrained, prefix='backbone.')),
    neck=None,
    head=dict(type='LinearClsHead', num_classes=10, in_channels=embed_dims))

test_pipeline = [
    dict(type='Resize', scale=(32, 32), interpolation='bicubic'),
    dict(type='GrayToRGB'),  # FashionMNIST gives gray images
    dict(type='PackInputs'),
]
fashion_mnist = dict(type='FashionMNIST', data_root=data_root, download=False)
# the first 10,240 training images (the demo's pretraining set); each
# config sets its batch size, drop_last and pipeline
train_dataloader = dict(
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(fashion_mnist, split='train', indices=10240))
# mmpretrain's FashionMNIST reads the test images only with test_mode=True
val_dataloader = dict(
    batch_size=256,
    num_workers=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        fashion_mnist, split='test', test_mode=True, pipeline=test_pipeline))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
val_cfg = dict()
test_cfg = dict()

custom_hooks = [dict(type='PretrainedLoadCheckHook')]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=1))
randomness = dict(seed=0)
