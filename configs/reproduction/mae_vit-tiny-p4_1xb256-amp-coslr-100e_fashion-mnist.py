# Mini-reproduction, MAE row: mmpretrain's own MAE (MAEViT, MAEPretrainDecoder,
# MAEPretrainHead with norm-pix L2) adapted only in size: the same ViT as the
# SiameseIM row (embed 192, 6 layers, 3 heads, 32 px, patch 4), mask ratio
# 0.75, a decoder of 3 blocks x 192 (= the SiameseIM projector + predictor
# depth and width), and MAE's own pipeline (RandomResizedCrop + flip). Data,
# batch, schedule and runtime are the SiameseIM row's.
_base_ = ['./siameseim_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py']

model = dict(
    _delete_=True,
    type='MAE',
    data_preprocessor=_base_.model.data_preprocessor,
    backbone=dict(
        type='MAEViT',
        arch=_base_.model.backbone.arch,
        img_size=32,
        patch_size=4,
        mask_ratio=0.75),
    neck=dict(
        type='MAEPretrainDecoder',
        num_patches=_base_.grid**2,
        patch_size=4,
        in_chans=3,
        embed_dim=_base_.embed_dims,
        decoder_embed_dim=_base_.embed_dims,
        decoder_depth=3,
        decoder_num_heads=6,
        mlp_ratio=4.),
    head=dict(
        type='MAEPretrainHead',
        norm_pix=True,
        patch_size=4,
        loss=dict(type='PixelReconstructionLoss', criterion='L2')),
    init_cfg=[
        dict(type='Xavier', layer='Linear', distribution='uniform'),
        dict(type='Constant', layer='LayerNorm', val=1.0, bias=0.0)
    ])

train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='RandomResizedCrop', scale=32, crop_ratio_range=(0.2, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackInputs'),
]))

# MAE's optimiser (mmpretrain mae_vit-base config) at the swept lr.
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(
        type='AdamW', lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05),
    paramwise_cfg=dict(
        custom_keys={
            'ln': dict(decay_mult=0.0),
            'bias': dict(decay_mult=0.0),
            'pos_embed': dict(decay_mult=0.),
            'mask_token': dict(decay_mult=0.),
            'cls_token': dict(decay_mult=0.)
        }))
