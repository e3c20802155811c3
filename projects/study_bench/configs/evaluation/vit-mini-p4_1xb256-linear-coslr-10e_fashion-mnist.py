# Linear probing on Fashion-MNIST with the pieces of the ImageNet linear
# config (vit-base-p16_8xb2048-linear-coslr-90e_in1k.py) at the CPU demo's
# size: frozen SiameseIMViT in eval mode (frozen_stages=4) + avg pool +
# frozen parameter-free ln2 + ClsBatchNormNeck + Linear (trunc-normal 0.01),
# mmpretrain's LARS (momentum 0.9, eta 0.001, bias excluded), lr 6.4 at batch
# 256 (LARS fixes the relative step, so the lr is not rescaled:
# docs/dense_probe.md), linear warm-up then cosine to 0. No augmentation
# (resize to 32 bicubic). Scaled to minutes on 2 CPU cores: the first 10,240
# training images for 10 epochs (400 steps; the backbone re-encodes every
# batch), test on all 10,000 test images. The bench's one linear probe:
# tools/benchmarks/linear_probe.py runs this config on the encoder of any
# pretraining config and checkpoint (projects/study_bench/probes/linear.py):
#   python tools/benchmarks/linear_probe.py \
#       configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \
#       work_dirs/demo/epoch_4.pth
_base_ = ['./_base_/fashion_mnist_classifier.py']

model = dict(
    backbone=dict(frozen_stages=4),
    neck=dict(
        _delete_=True,
        type='ClsBatchNormNeck',
        input_features={{_base_.embed_dims}}),
    head=dict(
        loss=dict(type='CrossEntropyLoss'),
        init_cfg=[dict(type='TruncNormal', layer='Linear', std=0.01)]))

train_dataloader = dict(
    batch_size=256,
    drop_last=False,
    dataset=dict(pipeline={{_base_.test_pipeline}}))

max_epochs = 10
warmup_epochs = 1
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='LARS', lr=6.4, weight_decay=0.0, momentum=0.9),
    paramwise_cfg=dict(
        custom_keys={'.bias': dict(lars_exclude=True, decay_mult=0.)}))
# linear warm-up from 1e-4 of the lr, then cosine to 0, by iteration
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, begin=0, end=warmup_epochs,
         by_epoch=True, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=0.0, begin=warmup_epochs,
         end=max_epochs, T_max=max_epochs - warmup_epochs, by_epoch=True,
         convert_to_iter_based=True)
]
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=max_epochs,
    val_interval=max_epochs)
auto_scale_lr = dict(base_batch_size=256)
