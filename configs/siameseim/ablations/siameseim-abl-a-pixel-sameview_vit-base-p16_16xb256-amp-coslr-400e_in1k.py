# Row (a): pixel target, same view, no colour aug, random mask, LN heads,
# MAE-like norm, dense L2 on the masked patches (MAE within our framework).
# Paper: FT 82.8, LIN 62.3, AP^b 47.3, AP^m 42.5.
_base_ = ['_base_/ablation_knobs.py']
model = dict(_base_.pixel_model, loss_tokens='masked')
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.same_view_plain, _base_.random_mask, _base_.pack]))
