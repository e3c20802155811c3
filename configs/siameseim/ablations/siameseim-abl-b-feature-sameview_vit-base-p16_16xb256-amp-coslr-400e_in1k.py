# Row (b): feature target, same view, no colour aug, random mask, LN heads,
# MoCo-like norm, dense UniGrad. Paper: FT 81.0, LIN 48.7, AP^b 43.5.
_base_ = ['_base_/ablation_knobs.py']
model = _base_.ln_moco_model
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.same_view_plain, _base_.random_mask, _base_.pack]))
