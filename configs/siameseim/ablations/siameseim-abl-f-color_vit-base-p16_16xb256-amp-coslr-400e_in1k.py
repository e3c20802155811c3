# Row (f): row (e) plus colour augmentation. Paper: FT 83.0, LIN 73.1.
_base_ = ['_base_/ablation_knobs.py']
model = dict(
    neck=dict(norm_cfg=_base_.ln_norm),
    head=dict(norm_cfg=_base_.ln_norm, loss=_base_.moco_like_loss))
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.diff_views_color, _base_.random_mask, _base_.pack]))
