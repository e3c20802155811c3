# Row (f): row (e) plus colour augmentation. Paper: FT 83.0, LIN 73.1.
_base_ = ['_base_/ablation_knobs.py']
model = _base_.ln_moco_model
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.diff_views_color, _base_.random_mask, _base_.pack]))
