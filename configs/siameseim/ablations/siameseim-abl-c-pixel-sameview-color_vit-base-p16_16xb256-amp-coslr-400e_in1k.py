# Row (c): row (a) plus colour augmentation. Paper: FT 82.0, LIN 59.9.
_base_ = ['_base_/ablation_knobs.py']
model = dict(_base_.pixel_model, loss_tokens='masked')
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.same_view_color, _base_.random_mask, _base_.pack]))
