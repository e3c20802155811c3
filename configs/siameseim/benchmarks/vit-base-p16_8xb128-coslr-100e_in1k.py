# ImageNet-1k fine-tuning of a SiameseIM ViT-B/16 encoder (the paper's recipe,
# 100 epochs, 84.1 top-1 after 1600-epoch pretraining). Everything but the
# backbone type, the learning rate and the load check comes from mmpretrain's
# MAE fine-tuning config: average pool of the patch tokens + a new LayerNorm
# (`ln2`, the original's fc_norm) + a Linear head (trunc-normal 2e-5), drop
# path 0.1, no layer scale, layer decay 0.65 with
# LearningRateDecayOptimWrapperConstructor (scale 0.65^(13 - depth): 0 for
# patch_embed / cls / pos, i + 1 for block i, 13 for ln2 / head), AdamW
# (0.9, 0.999), weight decay 0.05 (none on norms, biases, cls, pos), 5 warm-up
# epochs then cosine to 1e-6, RandAugment m9-mstd0.5, random erasing 0.25,
# Mixup 0.8 / CutMix 1.0, label smoothing 0.1; test: resize 256 bicubic +
# centre crop 224.
# SiameseIMViT (= mmpretrain VisionTransformer, same keys) keeps the fixed
# sin-cos position table frozen, as the original fine-tuning does; the patch
# embedding (frozen in pretraining) trains here.
# Weights: convert the pretraining checkpoint first (docs/checkpoints.md),
#   python tools/model_converters/siameseim_to_backbone.py PRETRAIN.pth sim.pth
#   python tools/train.py THIS_CONFIG --cfg-options \
#       model.backbone.init_cfg.checkpoint=sim.pth
# PretrainedLoadCheckHook then checks that every encoder tensor arrived and
# that only ln2 starts fresh (it fails the run otherwise).
_base_ = ['mmpretrain::mae/benchmarks/vit-base-p16_8xb128-coslr-100e_in1k.py']
custom_imports = dict(imports=['mmsiameseim'], allow_failed_imports=False)
runner_type = 'SafeResumeRunner'

model = dict(
    backbone=dict(
        type='SiameseIMViT',
        freeze_patch_embed=False,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='checkpoints/siameseim_vit-base-p16_backbone.pth',
            prefix='backbone.')))

# lr = 2.5e-4 x 1024 / 256 (blr of the original script); MAE's config uses
# 2e-3. Batch 1024 = 8 GPUs x 128; --auto-scale-lr rescales from 1024.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
auto_scale_lr = dict(base_batch_size=1024)

custom_hooks = [dict(type='PretrainedLoadCheckHook')]
