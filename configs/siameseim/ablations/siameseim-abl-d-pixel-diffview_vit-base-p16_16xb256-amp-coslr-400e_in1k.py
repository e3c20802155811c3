# Row (d): pixel target of a different view (all view-2 patches), no colour
# aug, random mask, LN heads, L2. Paper: FT 78.7, LIN 46.2.
_base_ = ['_base_/ablation_knobs.py']
model = _base_.pixel_model
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.diff_views_plain, _base_.random_mask, _base_.pack]))
