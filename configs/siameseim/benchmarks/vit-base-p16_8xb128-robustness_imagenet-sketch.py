# ImageNet-Sketch (50,889 sketches, all 1000 classes): top-1 of the
# fine-tuned ViT-B/16. Paper: 38.3 (1600-epoch SiameseIM).
# Layout: data/imagenet-sketch/<wnid>/<image> (the archive's `sketch/`
# folder).
_base_ = ['./_base_/robustness_test.py']

test_dataloader = dict(
    dataset=dict(data_root='data/imagenet-sketch', classes='imagenet'))
test_evaluator = dict(_delete_=True, type='Accuracy', topk=(1, 5))
