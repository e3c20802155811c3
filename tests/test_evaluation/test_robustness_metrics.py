"""ImageNet-C corruption error, the class-subset accuracy, the datasets."""
import os
import os.path as osp

import pytest
import torch

from mmsiameseim.datasets import ImageNetC, ImageNetWnidFolder
from mmsiameseim.datasets import (IMAGENET_A_WNIDS, IMAGENET_WNIDS,
                                  class_subset_indices)
from mmsiameseim.evaluation import (ClassSubsetAccuracy, CorruptionError,
                                    corruption_errors)
from mmsiameseim.evaluation.metrics.corruption_error import \
    ALEXNET_MEAN_ERRORS

CORRUPTIONS = list(ALEXNET_MEAN_ERRORS)


def test_alexnet_reference_as_published():
    # ALEXNET_ERR of google-research/augmix imagenet.py, in its order
    assert CORRUPTIONS[:3] == ['gaussian_noise', 'shot_noise',
                               'impulse_noise']
    assert len(CORRUPTIONS) == 15
    assert ALEXNET_MEAN_ERRORS['gaussian_noise'] == 0.886428
    assert ALEXNET_MEAN_ERRORS['brightness'] == 0.564592
    assert ALEXNET_MEAN_ERRORS['jpeg_compression'] == 0.606500


def test_mce_against_a_hand_computed_example():
    """Errors 0.2 s for noise corruptions, 0.5 elsewhere.

    gaussian_noise: mean error (0.2+0.4+0.6+0.8+1.0)/5 = 0.6,
    CE = 0.6 / 0.886428 = 0.676874...; brightness: 0.5 / 0.564592 =
    0.885595...; mCE = mean over the 15 CEs.
    """
    errors = {}
    for c in CORRUPTIONS:
        for s in range(1, 6):
            errors[(c, s)] = 0.2 * s if 'noise' in c else 0.5
    out = corruption_errors(errors)
    assert out['ce']['gaussian_noise'] == pytest.approx(0.6 / 0.886428)
    assert out['ce']['gaussian_noise'] == pytest.approx(0.676874, abs=1e-6)
    assert out['ce']['brightness'] == pytest.approx(0.885595, abs=1e-6)
    by_hand = (0.6 / 0.886428 + 0.6 / 0.894468 + 0.6 / 0.922640 +
               0.5 / 0.819880 + 0.5 / 0.826268 + 0.5 / 0.785948 +
               0.5 / 0.798360 + 0.5 / 0.866816 + 0.5 / 0.826572 +
               0.5 / 0.819324 + 0.5 / 0.564592 + 0.5 / 0.853204 +
               0.5 / 0.646056 + 0.5 / 0.717840 + 0.5 / 0.606500) / 15
    assert out['mce'] == pytest.approx(by_hand)
    assert out['incomplete'] == []
    # a corruption without all five severities has no CE, so no mCE
    del errors[('fog', 3)]
    partial = corruption_errors(errors)
    assert partial['mce'] is None and partial['incomplete'] == ['fog']
    assert 'fog' not in partial['ce'] and len(partial['ce']) == 14
    with pytest.raises(ValueError, match='speckle'):
        corruption_errors({('speckle_noise', 1): 0.5})


def _sample(scores, label, **meta):
    return dict(pred_score=torch.tensor(scores), gt_label=torch.tensor(
        [label]), **meta)


def test_corruption_error_metric():
    metric = CorruptionError()
    samples = []
    for c in CORRUPTIONS:
        for s in range(1, 6):
            # 4 images each; 1 wrong at severity 5 of contrast, else 2
            wrong = 1 if (c == 'contrast' and s == 5) else 2
            for i in range(4):
                scores = [0.] * 10
                scores[3] = 1.
                label = 7 if i < wrong else 3
                samples.append(
                    _sample(scores, label, corruption=c, severity=s))
    metric.process(None, samples)
    out = metric.compute_metrics(metric.results)
    assert out['error/contrast/5'] == 25.
    assert out['error/contrast/1'] == 50.
    assert out['error/contrast'] == pytest.approx(45.)
    assert out['CE/contrast'] == pytest.approx(45. / 0.853204)
    expect = sum(0.5 / ALEXNET_MEAN_ERRORS[c]
                 for c in CORRUPTIONS if c != 'contrast')
    expect = (expect + 0.45 / 0.853204) / 15 * 100
    assert out['mCE'] == pytest.approx(expect)
    assert out['1-mCE'] == pytest.approx(100 - expect)
    with pytest.raises(KeyError, match='severity'):
        metric.process(None, [_sample([1., 0.], 0, corruption='fog')])


def test_class_subset_accuracy_restricts_the_logits():
    idx = class_subset_indices('imagenet-a')
    metric = ClassSubsetAccuracy('imagenet-a', topk=(1, 2))
    scores = torch.zeros(1000)
    scores[0] = 9.  # outside ImageNet-A: the plain arg-max
    scores[idx[5]] = 3.
    scores[idx[7]] = 2.
    metric.process(None, [
        dict(pred_score=scores, gt_label=torch.tensor([idx[5]])),
        dict(pred_score=scores, gt_label=torch.tensor([idx[7]])),
        dict(pred_score=scores, gt_label=torch.tensor([idx[9]])),
    ])
    out = metric.compute_metrics(metric.results)
    assert out == {'top1': pytest.approx(100 / 3),
                   'top2': pytest.approx(200 / 3)}
    metric.results.clear()
    metric.process(None, [dict(pred_score=scores,
                               gt_label=torch.tensor([0]))])
    with pytest.raises(ValueError, match='not in the class subset'):
        metric.compute_metrics(metric.results)
    with pytest.raises(ValueError, match='topk'):
        ClassSubsetAccuracy('imagenet-r', topk=(0, ))


def _touch(path):
    os.makedirs(osp.dirname(path), exist_ok=True)
    open(path, 'wb').close()


def test_wnid_folder_labels_and_strictness(tmp_path):
    root = str(tmp_path / 'a')
    a = sorted(IMAGENET_A_WNIDS)
    for wnid in a:
        os.makedirs(osp.join(root, wnid))
    _touch(osp.join(root, a[3], 'x.jpg'))
    _touch(osp.join(root, a[3], 'notes.txt'))  # not an image: skipped
    _touch(osp.join(root, a[0], 'y.JPEG'))
    ds = ImageNetWnidFolder(root, classes='imagenet-a', lazy_init=False)
    assert len(ds) == 2
    index = IMAGENET_WNIDS.index
    assert [ds.get_data_info(i)['gt_label'] for i in range(2)] == [
        index(a[0]), index(a[3])]
    os.rmdir(osp.join(root, a[199]))
    with pytest.raises(ValueError, match='1 of the 200 class folders'):
        ImageNetWnidFolder(root, classes='imagenet-a')
    assert len(ImageNetWnidFolder(root, classes='imagenet-a',
                                  strict=False)) == 2
    os.makedirs(osp.join(root, 'n01440764'))  # tench: not in ImageNet-A
    with pytest.raises(ValueError, match='not classes of this dataset'):
        ImageNetWnidFolder(root, classes='imagenet-a', strict=False)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        ImageNetWnidFolder(str(tmp_path / 'nowhere'))


def test_imagenet_c_dataset_metainfo(tmp_path):
    root = str(tmp_path / 'c')
    for s in (1, 2):
        _touch(osp.join(root, 'fog', str(s), IMAGENET_WNIDS[5], 'a.JPEG'))
    ds = ImageNetC(root, corruptions=['fog'], severities=[1, 2],
                   strict=False)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert [(i['corruption'], i['severity'], i['gt_label'])
            for i in infos] == [('fog', 1, 5), ('fog', 2, 5)]
    # lenient about missing folders, but not about finding nothing
    assert len(ImageNetC(root, corruptions=['fog'], strict=False)) == 2
    with pytest.raises(FileNotFoundError, match='fog/3'):
        ImageNetC(root, corruptions=['fog'], severities=[3], strict=False)
    with pytest.raises(ValueError, match='class folders'):
        ImageNetC(root, corruptions=['fog'], severities=[1, 2])
