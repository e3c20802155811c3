# Row (e): feature target, different views, no colour aug, random mask, LN
# heads, MoCo-like norm, dense UniGrad. Paper: FT 82.9, LIN 69.6, AP^b 48.5.
_base_ = ['_base_/ablation_knobs.py']
model = _base_.ln_moco_model
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.diff_views_plain, _base_.random_mask, _base_.pack]))
