# Mini-reproduction, MoCo v3 row: mmpretrain's own MoCoV3 (MoCoV3ViT,
# NonLinearNeck projector, MoCoV3Head with a NonLinearNeck predictor,
# temperature 0.2) with the SiameseIM row's ViT (embed 192, 6 layers,
# 3 heads, 32 px, patch 4) and its MultiView two-view pipeline at 32 px.
# Sizes: the MLP hidden width keeps mmpretrain's ViT-S ratio (4096 / 384)
# at 2048 for 192; output 256 as upstream.
# Augmentations: the colour ops of the Fashion-MNIST demo (gray images, so
# no saturation / hue; for mmcv's adjust_hue under NumPy 2 see
# projects.study_bench.throughput.mmcv_hue) and its
# blur sigma range (0.1, 0.6) for 32 px; probabilities are MoCo v3's.
# Data, batch, schedule and runtime are the SiameseIM row's (_base_/).
# mmpretrain 1.2 ships MoCo v3's ViT model only inside its full configs
# (ImageNet data, schedule, runtime), and mmengine refuses a key defined by
# two bases, so the model is written here (mmpretrain's
# mocov3_vit-small-p16 model at the sizes above).
_base_ = ['_base_/fashion-mnist_bs256-amp-coslr-100e.py']

temperature = 0.2
# the projector and the predictor: mmpretrain's NonLinearNeck MLPs
mlp = dict(
    type='NonLinearNeck',
    hid_channels=2048,
    out_channels=256,
    with_bias=False,
    with_last_bn=True,
    with_last_bn_affine=False,
    with_last_bias=False,
    with_avg_pool=False)
model = dict(
    type='MoCoV3',
    base_momentum=0.01,
    data_preprocessor=_base_.data_preprocessor,
    backbone=dict(
        type='MoCoV3ViT',
        arch=_base_.encoder,
        img_size=_base_.img_size,
        patch_size=_base_.patch_size,
        stop_grad_conv1=True),
    neck=dict(mlp, in_channels=_base_.encoder.embed_dims, num_layers=3),
    head=dict(
        type='MoCoV3Head',
        predictor=dict(mlp, in_channels=256, num_layers=2),
        loss=dict(type='CrossEntropyLoss', loss_weight=2 * temperature),
        temperature=temperature))

crop = dict(type='RandomResizedCrop', scale=_base_.img_size,
            crop_ratio_range=(0.08, 1.),
            backend='pillow')
colour = [
    dict(type='RandomApply',
         transforms=[dict(type='ColorJitter', brightness=0.4, contrast=0.4,
                          saturation=0., hue=0.)],
         prob=0.8),
    dict(type='RandomGrayscale', prob=0.2, keep_channels=True,
         channel_weights=(0.114, 0.587, 0.2989)),
]
flip = dict(type='RandomFlip', prob=0.5)
blur = dict(type='GaussianBlur', magnitude_range=(0.1, 0.6),
            magnitude_std='inf', prob=1.)
view_pipeline1 = [crop, *colour, blur, flip]
view_pipeline2 = [
    crop, *colour,
    dict(blur, prob=0.1),
    dict(type='Solarize', thr=128, prob=0.2), flip
]
# mmpretrain's colour ops want three channels; FashionMNIST is gray
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='GrayToRGB'),
    dict(type='MultiView', num_views=[1, 1],
         transforms=[view_pipeline1, view_pipeline2]),
    dict(type='PackInputs'),
]))

# MoCo v3's optimiser (mmpretrain mocov3_vit-small config: AdamW, weight
# decay 0.1, no clipping) at the swept lr.
optim_wrapper = dict(
    _delete_=True,
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=1.5e-3, weight_decay=0.1))
find_unused_parameters = True
