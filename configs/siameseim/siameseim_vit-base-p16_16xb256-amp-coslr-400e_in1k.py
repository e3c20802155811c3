# SiameseIM ViT-B/16, 400 epochs (only the epoch count changes; warm-up stays
# 40 epochs), batch 4096 = 16 GPUs x 256. Expected (paper): FT 83.7, LIN 76.8.
_base_ = [
    '_base_/siameseim_vit-base-p16.py',
    '_base_/imagenet_siameseim_views.py',
    '_base_/pretrain_runtime.py',
]
max_epochs = 400
train_dataloader = dict(batch_size=256)
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    dict(
        type='LinearLR',
        start_factor=1e-6,
        by_epoch=True,
        begin=0,
        end=40,
        convert_to_iter_based=True),
    dict(
        type='CosineAnnealingLR',
        T_max=max_epochs - 40,
        eta_min=0.,
        by_epoch=True,
        begin=40,
        end=max_epochs,
        convert_to_iter_based=True),
]
