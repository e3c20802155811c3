# ImageNet-1k fine-tuning of a SiameseIM ViT-L/16 encoder. The original
# release has no ViT-L fine-tuning script; this is the ViT-B recipe of
# ./vit-base-p16_8xb128-coslr-100e_in1k.py with MAE's ViT-L settings (the
# recipe SiameseIM's fine-tuning code derives from): layer decay 0.75, drop
# path 0.2, 50 epochs (5 warm-up). The learning rate stays 1e-3 at batch 1024
# (MAE's ViT-L uses 4e-3); no number of ours or the paper's exists for it.
_base_ = ['./vit-base-p16_8xb128-coslr-100e_in1k.py']

model = dict(
    backbone=dict(
        arch='large',
        drop_path_rate=0.2,
        init_cfg=dict(
            checkpoint='checkpoints/siameseim_vit-large-p16_backbone.pth')),
    head=dict(in_channels=1024))

optim_wrapper = dict(paramwise_cfg=dict(layer_decay_rate=0.75))
# the ViT-B recipe's 5-epoch warm-up, its cosine cut to 50 epochs
param_scheduler = [
    _base_.param_scheduler[0],
    dict(_base_.param_scheduler[1], T_max=45, end=50),
]
train_cfg = dict(by_epoch=True, max_epochs=50)
