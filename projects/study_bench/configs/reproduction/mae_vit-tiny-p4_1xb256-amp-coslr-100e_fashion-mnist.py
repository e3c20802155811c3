# Mini-reproduction, MAE row: mmpretrain's own MAE (MAEViT, MAEPretrainDecoder,
# MAEPretrainHead with norm-pix L2) adapted only in size: the same ViT as the
# SiameseIM row (embed 192, 6 layers, 3 heads, 32 px, patch 4), mask ratio
# 0.75, a decoder of 3 blocks x 192 (= the SiameseIM projector + predictor
# depth and width), and MAE's own pipeline (RandomResizedCrop + flip). Data,
# batch, schedule and runtime are the SiameseIM row's (_base_/).
_base_ = [
    'mmpretrain::_base_/models/mae_vit-base-p16.py',
    '_base_/fashion-mnist_bs256-amp-coslr-100e.py',
]

# mmpretrain's MAE model; only the sizes and the normalisation differ
model = dict(
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(
        arch=dict(_base_.encoder, _delete_=True),
        img_size=_base_.img_size,
        patch_size=_base_.patch_size),
    neck=dict(
        num_patches=_base_.grid**2,
        patch_size=_base_.patch_size,
        embed_dim=_base_.encoder.embed_dims,
        decoder_embed_dim=_base_.encoder.embed_dims,
        decoder_depth=3,
        decoder_num_heads=6),
    head=dict(patch_size=_base_.patch_size))

train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='RandomResizedCrop', scale=_base_.img_size,
         crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]))

# MAE's optimiser (mmpretrain mae_vit-base config) at the swept lr.
optim_wrapper = dict(
    _delete_=True, type='AmpOptimWrapper', loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-3, betas=(0.9, 0.95),
                   weight_decay=0.05),
    # no decay on norms, biases, the position table and the tokens
    paramwise_cfg=dict(custom_keys={
        key: dict(decay_mult=0.)
        for key in ('ln', 'bias', 'pos_embed', 'mask_token', 'cls_token')
    }))
