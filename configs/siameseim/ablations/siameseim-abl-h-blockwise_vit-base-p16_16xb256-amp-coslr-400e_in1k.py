# Row (h): row (g) with the blockwise mask.
# Paper: FT 83.5, LIN 74.7, AP^b 50.0.
_base_ = ['_base_/ablation_knobs.py']
model = dict(head=dict(loss=_base_.moco_like_loss))
