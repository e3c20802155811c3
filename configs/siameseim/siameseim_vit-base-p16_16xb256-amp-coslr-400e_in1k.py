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
# the runtime's 40-epoch warm-up, its cosine cut to the new length
param_scheduler = [
    _base_.param_scheduler[0],
    dict(
        _base_.param_scheduler[1],
        T_max=max_epochs - _base_.warmup_epochs,
        end=max_epochs),
]
