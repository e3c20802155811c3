# Row (g): row (f) with BN (TokenBN) heads. Paper: FT 83.2, LIN 73.6.
_base_ = ['_base_/ablation_knobs.py']
model = dict(head=dict(loss=_base_.moco_like_loss))
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.diff_views_color, _base_.random_mask, _base_.pack]))
