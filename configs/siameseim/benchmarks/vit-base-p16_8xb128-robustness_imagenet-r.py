# ImageNet-R (30,000 renditions, 200 classes): top-1 of the fine-tuned
# ViT-B/16 with the 1000 logits restricted to the 200 classes
# (ClassSubsetAccuracy, index map of mmsiameseim/datasets/imagenet_classes.py,
# as the benchmark's reference code). Paper: 52.5 (1600-epoch SiameseIM).
# Layout: data/imagenet-r/<wnid>/<image>, the published archive's.
_base_ = ['./_base_/robustness_test.py']

subset = 'imagenet-r'
test_dataloader = dict(dataset=dict(data_root=f'data/{subset}', classes=subset))
test_evaluator = dict(
    _delete_=True, type='ClassSubsetAccuracy', classes=subset, topk=(1, 5))
