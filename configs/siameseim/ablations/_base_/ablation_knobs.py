# Building blocks for the rows of the paper's ablation table.
# Every row is ViT-B/16, 400 epochs; each row's file combines these knobs.
# Mapping of the table's words to our switches (an interpretation, see the
# README): "MAE-like" loss norm = non-affine LN on the target; "MoCo-like" =
# L2-normalised prediction and target; "global" = the cls outputs; "pixel" =
# patch pixels of view 2 (norm-pix) without an EMA target; "same view" =
# view 2 reuses view 1's flip and crop; "no colour aug" = no colour, blur or
# solarize ops on either view.
_base_ = ['../../siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py']

load = _base_.train_pipeline[0]  # RobustLoadImageFromFile
pack = _base_.train_pipeline[-1]  # PackInputs: geometry + colour records
blockwise_mask = _base_.mask_generator
random_mask = dict(  # the same grid and count, drawn uniformly
    type='RandomPatchMaskGenerator',
    input_size=blockwise_mask.input_size,
    num_masking_patches=blockwise_mask.num_masking_patches)
diff_views_color = _base_.views
diff_views_plain = dict(_base_.views, online_pipeline=[], target_pipeline=[])
same_view_color = dict(_base_.views, same_crop=True)
same_view_plain = dict(diff_views_plain, same_crop=True)

ln_norm = dict(type='LN', eps=1e-6)
moco_like_loss = dict(
    type='UniGradDenseLoss', lambda_neg=0.02, target_norm='l2',
    pred_norm='l2')
ln_moco_model = dict(  # LN heads, MoCo-like norm (rows b, e, f)
    neck=dict(norm_cfg=ln_norm),
    head=dict(norm_cfg=ln_norm, loss=moco_like_loss))
l2_pixel_loss = dict(type='UniGradDenseLoss', lambda_neg=0., target_norm='ln')
pixel_model = dict(  # head.out_channels: patch_size**2 * 3, derived
    target_type='pixel',
    neck=dict(norm_cfg=ln_norm),
    head=dict(norm_cfg=ln_norm, loss=l2_pixel_loss))
