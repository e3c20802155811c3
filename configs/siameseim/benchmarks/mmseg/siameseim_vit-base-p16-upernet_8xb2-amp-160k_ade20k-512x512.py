# SiameseIM ViT-B/16 -> UPerNet on ADE20k, 160k iterations at batch 16
# (8 GPUs x 2), 512 x 512 crops: mmseg's MAE recipe, which the paper's
# ADE20k result (51.1 mIoU, MAE 48.1) follows. Inherited unchanged: the
# `MAE` backbone with layer scale (init 1.0) and zero-initialised relative
# position bias, the absolute pos-embed resized 14x14 -> 32x32 (bicubic) at
# load, drop path 0.1, out indices (3, 5, 7, 11), Feature2Pyramid rescales
# (4, 2, 1, 0.5), UPerHead (768 channels) + auxiliary FCNHead, AdamW lr 1e-4
# (0.9, 0.999), weight decay 0.05, layer decay 0.65 through mmseg's
# LayerDecayOptimizerConstructor, linear warm-up 1500 iterations, then poly
# to 0 at 160k, slide test 512 / stride 341. See docs/downstream.md.
_base_ = ['mmseg::mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py']
custom_imports = dict(
    imports=['mmsiameseim', 'mmsiameseim.downstream.mmseg_mae'],
    allow_failed_imports=False)

model = dict(
    # The online encoder in the `mmseg` layout (bare mmpretrain names; mmseg's
    # MAE ignores prefixes and loads with strict=False):
    #   python tools/model_converters/siameseim_to_backbone.py \
    #       work_dirs/siameseim_vit-base/epoch_1600.pth \
    #       checkpoints/siameseim_vit-base-p16_mmseg.pth --layout mmseg
    pretrained='checkpoints/siameseim_vit-base-p16_mmseg.pth',
    # SiameseIM's encoder: no final norm in pretraining (the file has none),
    # and its pos_embed is the fixed 2-D sin-cos table, resized at load and
    # then trained, as mmseg's recipe does with MAE's (equally fixed) table.
    backbone=dict(final_norm=False))

# Mixed precision. The stock config's `fp16 = dict(loss_scale='dynamic')` is
# an mmcv-1.x key that mmengine's Runner ignores (its optimiser wrapper is a
# plain fp32 `OptimWrapper` unless mmseg's train.py gets `--amp`); this makes
# the built wrapper an `AmpOptimWrapper` (fp16 autocast, dynamic loss scale).
optim_wrapper = dict(type='AmpOptimWrapper', loss_scale='dynamic')

# Fails the run before the first iteration unless every encoder tensor of
# the file is in the backbone (pos_embed after the documented resize) and
# only layer scale and relative position tables start fresh.
custom_hooks = [dict(type='PretrainedLoadCheckHook')]
# Resume reads the run's own checkpoints (recorded in a manifest); mmengine's
# Runner cannot resume under torch >= 2.6's weights_only default.
runner_type = 'SafeResumeRunner'
