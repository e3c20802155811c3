# ImageNet-C: top-1 error of the fine-tuned ViT-B/16 on 15 corruptions x 5
# severities (750,000 images), each corruption's error normalised by
# AlexNet's (CorruptionError); reported as 1 - mCE like the paper (57.1 for
# 1600-epoch SiameseIM). The metric also logs CE and errors per corruption
# and severity.
# The images are already 224 x 224 centre crops: the transform is the
# benchmark's own (CenterCrop 224, no resize).
# Layout: data/imagenet-c/<corruption>/<severity>/<wnid>/<image>.
_base_ = ['./_base_/robustness_test.py']

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='CenterCrop', crop_size=224),
    dict(
        type='PackInputs',
        meta_keys=('sample_idx', 'img_path', 'ori_shape', 'img_shape',
                   'corruption', 'severity')),
]
test_dataloader = dict(
    dataset=dict(
        type='ImageNetC', data_root='data/imagenet-c',
        pipeline=test_pipeline))
test_evaluator = dict(_delete_=True, type='CorruptionError')
