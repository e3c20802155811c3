# Shared by the robustness test configs: the fine-tuned ViT-B/16 of
# ../vit-base-p16_8xb128-coslr-100e_in1k.py evaluated on an ImageNet variant
# with `tools/test.py CONFIG FINETUNED.pth` (the paper evaluates the
# ImageNet-fine-tuned model). The test set's images are labelled with
# ImageNet-1k indices (ImageNetWnidFolder); each config sets the dataset and
# the metric. Test transform: resize 256 bicubic + centre crop 224.
_base_ = ['../vit-base-p16_8xb128-coslr-100e_in1k.py']

# the fine-tuned checkpoint is loaded by tools/test.py, not the encoder
model = dict(backbone=dict(init_cfg=None))
custom_hooks = []

# the fine-tuning test loader (batch 128) and transform, another dataset
test_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        _delete_=True,
        type='ImageNetWnidFolder',
        classes='imagenet',
        pipeline={{_base_.test_pipeline}}))
