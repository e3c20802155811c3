"""NumPy2LVISMetric: mmdet's LVIS metric with PyPI's lvis on NumPy 2."""
import json

import numpy as np
import pytest
import torch

from coco_fixtures import BOXES, write_lvis
from mmsiameseim.downstream.vitdet import NumPy2LVISMetric, numpy_float_alias


def _predictions(ann, shift=0):
    """The ground truth as detections (boxes, full-box masks, score 1)."""
    with open(ann) as f:
        lvis = json.load(f)
    ids = [c['id'] for c in lvis['categories']]
    samples = []
    for img in lvis['images']:
        anns = [a for a in lvis['annotations'] if a['image_id'] == img['id']]
        h, w = img['height'], img['width']
        boxes, masks = [], []
        for a in anns:
            x, y, bw, bh = a['bbox']
            boxes.append([x + shift, y, x + bw + shift, y + bh])
            m = np.zeros((h, w), bool)
            m[y:y + bh, x + shift:x + bw + shift] = True
            masks.append(m)
        samples.append(
            dict(img_id=img['id'], ori_shape=(h, w),
                 pred_instances=dict(
                     bboxes=torch.tensor(boxes, dtype=torch.float32),
                     scores=torch.ones(len(anns)),
                     labels=torch.tensor(
                         [ids.index(a['category_id']) for a in anns]),
                     masks=torch.from_numpy(np.stack(masks)))))
    return samples


@pytest.mark.parametrize('shift,expected', [(0, 1.0), (200, 0.0)])
def test_ground_truth_scores_ap_one(tmp_path, shift, expected):
    ann = write_lvis(str(tmp_path))
    metric = NumPy2LVISMetric(ann_file=ann, metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=tuple(str(i) for i in range(1203)))
    metric.process({}, _predictions(ann, shift))
    results = metric.evaluate(size=len(BOXES))
    assert results['lvis/bbox_AP'] == pytest.approx(expected)
    assert results['lvis/segm_AP'] == pytest.approx(expected)
    if expected:  # the rare, common and frequent category each found
        for group in 'rcf':
            assert results[f'lvis/bbox_AP{group}'] == pytest.approx(1.0)


def test_alias_only_during_the_evaluation():
    had = hasattr(np, 'float')
    with numpy_float_alias():
        assert np.float is float
    assert hasattr(np, 'float') == had


def test_mmdet_metric_alone_fails_on_numpy2(tmp_path):
    """Why the subclass exists (fails once PyPI's lvis drops np.float)."""
    from mmdet.evaluation import LVISMetric
    ann = write_lvis(str(tmp_path))
    metric = LVISMetric(ann_file=ann, metric=['bbox'])
    metric.dataset_meta = dict(classes=tuple(str(i) for i in range(1203)))
    metric.process({}, _predictions(ann))
    with pytest.raises(AttributeError, match='float'):
        metric.evaluate(size=len(BOXES))
