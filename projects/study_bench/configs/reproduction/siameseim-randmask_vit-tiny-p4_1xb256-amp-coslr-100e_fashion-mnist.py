# Mini-reproduction, ablation "random mask": the SiameseIM row with the
# same number of masked patches (38 of 64) drawn uniformly at random
# instead of in blocks. Paper question (the paper's ablation table, rows
# (g) vs (h)): blockwise masking helps linear probing and detection.
_base_ = ['./siameseim_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py']

random_mask = dict(
    type='RandomPatchMaskGenerator',
    input_size=_base_.mask_generator.input_size,
    num_masking_patches=_base_.mask_generator.num_masking_patches)
train_dataloader = dict(dataset=dict(
    pipeline=[_base_.views, random_mask, _base_.pack]))
