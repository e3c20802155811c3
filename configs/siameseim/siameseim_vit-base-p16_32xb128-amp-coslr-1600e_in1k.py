# SiameseIM ViT-B/16, 1600 epochs, batch 4096 = 32 GPUs x 128 (the released
# recipe; docs/method.md §5). Expected (paper): IN-1k FT 84.1, linear 78.0.
_base_ = [
    '_base_/siameseim_vit-base-p16.py',
    '_base_/imagenet_siameseim_views.py',
    '_base_/pretrain_runtime.py',
]
train_dataloader = dict(batch_size=128)
