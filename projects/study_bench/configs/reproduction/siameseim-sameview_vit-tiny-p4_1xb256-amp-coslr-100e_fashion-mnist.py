# Mini-reproduction, ablation "same view": the SiameseIM row with view 2
# reusing view 1's flip and crop (SiameseIMViews(same_crop=True), so the
# relative geometry is the identity); the two views still get their own
# colour ops. Paper question (the paper's ablation table, rows (e) vs (b)):
# how much of SiameseIM's linear separability comes from predicting a
# *different* view.
_base_ = ['./siameseim_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py']

train_dataloader = dict(dataset=dict(pipeline=[
    dict(_base_.views, same_crop=True), _base_.mask_generator, _base_.pack
]))
