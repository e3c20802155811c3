# Row (k): row (g) with a global loss on the cls outputs. Paper: FT 82.7,
# LIN 72.0, AP^b 45.9. (The table's "MoCo-v3 + mask" row has the same knobs;
# it differs in MoCo-v3's own predictor and contrastive loss, which this
# framework does not express: use mmpretrain's MoCoV3 for that baseline.)
_base_ = ['_base_/ablation_knobs.py']
model = dict(loss_type='global', head=dict(loss=_base_.moco_like_loss))
train_dataloader = dict(dataset=dict(pipeline=[
    _base_.load, _base_.diff_views_color, _base_.random_mask, _base_.pack]))
