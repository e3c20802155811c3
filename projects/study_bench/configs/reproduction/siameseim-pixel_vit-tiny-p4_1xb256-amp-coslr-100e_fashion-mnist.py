# Mini-reproduction, ablation "pixel target": the SiameseIM row predicting
# the normalised pixels of view 2's patches (target_type='pixel', no
# momentum encoder) instead of its momentum features. The head outputs
# patch**2 * 3 = 48 values per patch and the loss becomes plain L2 on
# per-patch LayerNorm-ed pixels (UniGrad with lambda 0, MAE's norm-pix),
# as the pixel rows of configs/siameseim/ablations. Everything else (two
# views, colour ops, blockwise mask, TokenBN heads) is unchanged. Paper
# question (the paper's ablation table, rows (d) vs (e)): feature vs pixel
# targets across different views.
_base_ = ['./siameseim_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py']

model = dict(  # head.out_channels = patch_size**2 * 3, derived
    target_type='pixel',
    head=dict(
        loss=dict(type='UniGradDenseLoss', lambda_neg=0., target_norm='ln')))
