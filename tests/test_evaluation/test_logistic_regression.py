"""The 1 % evaluation: logistic regression, the subset list, the tool."""
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmsiameseim.datasets import IMAGENET_WNIDS, read_subset_list
from projects.study_bench.probes.few_shot import check_subset_list
from projects.study_bench.probes.logistic_regression import (
    fit_logistic_regression, logistic_regression_accuracy, preprocess_rows)
from tool_modules import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_preprocess_rows_by_hand():
    x = np.array([[1., 2., 3.], [5., 5., 5.], [0., 0., 4.]])
    out = preprocess_rows(x)
    np.testing.assert_allclose(out[0], [-1 / 2**.5, 0, 1 / 2**.5])
    np.testing.assert_allclose(out[1], [0, 0, 0])  # constant row
    c = np.array([-4 / 3, -4 / 3, 8 / 3])
    np.testing.assert_allclose(out[2], c / np.linalg.norm(c))


def _labelled_by(w, n, seed):
    """Features whose labels are the arg-max of a known linear map of the
    preprocessed rows (the classifier the fit must recover)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, w.shape[1])) + 0.5
    return x, (preprocess_rows(x) @ w.T).argmax(1)


def _canonical(w):
    """Remove what the problem cannot identify: a vector added to every
    class and the direction that row centring removes from the features."""
    w = w - w.mean(axis=0, keepdims=True)
    w = w - w.mean(axis=1, keepdims=True)
    return w.ravel() / np.linalg.norm(w)


def test_recovers_a_known_linear_classifier():
    w_true = np.random.default_rng(0).normal(size=(4, 16))
    x, y = _labelled_by(w_true, 2000, seed=1)
    xt, yt = _labelled_by(w_true, 500, seed=2)
    clf = fit_logistic_regression(torch.from_numpy(x), torch.from_numpy(y),
                                  lambd=1e-3)
    assert clf.coef_.shape == (4, 16) and not clf.fit_intercept
    assert _canonical(clf.coef_) @ _canonical(w_true) > 0.99
    assert logistic_regression_accuracy(clf, xt, yt) > 95.
    # labels unrelated to the features: nothing to recover
    shuffled = np.random.default_rng(3).permutation(y)
    clf = fit_logistic_regression(x, shuffled, lambd=1e-3)
    assert abs(_canonical(clf.coef_) @ _canonical(w_true)) < 0.5
    assert logistic_regression_accuracy(clf, xt, yt) < 50.


def test_minimises_the_cyanure_objective():
    """sklearn's solution equals a direct minimisation of
    (1/N) sum CE(W x_i, y_i) + (lambda_0 / N) / 2 ||W||^2 on the
    preprocessed rows (the original's lambd / len(embs) convention)."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(40, 5))
    y = np.arange(40) % 3
    lambd = 0.1
    clf = fit_logistic_regression(x, y, lambd=lambd)
    xp = torch.from_numpy(preprocess_rows(x))
    yt = torch.from_numpy(y)
    w = torch.zeros(3, 5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=500, tolerance_grad=1e-12,
                            tolerance_change=1e-14,
                            line_search_fn='strong_wolfe')

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xp @ w.T, yt) + \
            (lambd / len(x)) / 2 * (w**2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    np.testing.assert_allclose(clf.coef_, w.detach().numpy(), atol=1e-4)
    with pytest.raises(ValueError, match='lambd'):
        fit_logistic_regression(x, y, lambd=0)


# The first lines of SimCLR's imagenet_subsets/1percent.txt
# (https://github.com/google-research/simclr), in the file's own format.
SIMCLR_1PERCENT_HEAD = """n04235860_14959.JPEG
n04239074_7724.JPEG
n02096294_8485.JPEG
n07760859_4412.JPEG
n02037110_4941.JPEG
n01443537_18335.JPEG
n02408429_3302.JPEG
n03337140_34411.JPEG
"""


def test_subset_list_checker(tmp_path):
    path = tmp_path / '1percent.txt'
    path.write_text(SIMCLR_1PERCENT_HEAD)
    assert read_subset_list(str(path))[:2] == [
        'n04235860_14959.JPEG', 'n04239074_7724.JPEG'
    ]
    report = check_subset_list(str(path), expect_classes=8, expect_count=8)
    assert report == dict(
        images=8, classes=8, min_per_class=1, max_per_class=1)
    with pytest.raises(ValueError, match='8 classes, expected 1000'):
        check_subset_list(str(path))
    with pytest.raises(ValueError, match='8 images, expected 12'):
        check_subset_list(str(path), expect_count=12, expect_classes=None)
    train = tmp_path / 'train'
    with pytest.raises(ValueError, match='8 listed images are not under'):
        check_subset_list(str(path), train_root=str(train),
                          expect_classes=None)
    for line in SIMCLR_1PERCENT_HEAD.split():
        (train / line.split('_')[0]).mkdir(parents=True, exist_ok=True)
        (train / line.split('_')[0] / line).touch()
    assert check_subset_list(str(path), train_root=str(train),
                             expect_classes=None)['missing_files'] == 0
    for text, message in (('n04235860_14959.jpg\n', r'1percent.txt:1: .*'
                           'not a training image name'),
                          ('n04235860_1.JPEG\nn04235860_1.JPEG\n',
                           ':2: n04235860_1.JPEG repeats line 1'),
                          ('n99999999_1.JPEG\n', 'not an ImageNet-1k')):
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            read_subset_list(str(path))


def _tool():
    path = osp.join(ROOT, 'tools', 'benchmarks', 'few_shot_logistic.py')
    return load_tool(path)


def test_few_shot_tool_end_to_end(tmp_path):
    """Tiny ImageNet: 2 classes, bright vs dark images, a 4-line list."""
    root = tmp_path / 'imagenet'
    lines = []
    for label, wnid in enumerate(IMAGENET_WNIDS[:2]):
        for i in range(3):
            value = 40 + 160 * label + 10 * i
            for split in ('train', 'val'):
                folder = root / split / wnid
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(np.full((40, 40, 3), value, np.uint8)).save(
                    folder / f'{wnid}_{i}.JPEG')
            if i < 2:
                lines.append(f'{wnid}_{i}.JPEG')
    for wnid in IMAGENET_WNIDS[2:]:  # a validation set has all classes
        (root / 'val' / wnid).mkdir()
    subset = tmp_path / 'subset.txt'
    subset.write_text('\n'.join(lines) + '\n')
    config = tmp_path / 'tiny.py'
    config.write_text(
        "custom_imports = dict(imports=['mmsiameseim'], "
        'allow_failed_imports=False)\n'
        "model = dict(type='SiameseIM', backbone=dict(type='SiameseIMViT', "
        'arch=dict(embed_dims=32, num_layers=2, num_heads=2, '
        'feedforward_channels=64), img_size=32, patch_size=8), '
        "data_preprocessor=dict(type='SelfSupDataPreprocessor', "
        'mean=[128.] * 3, std=[64.] * 3))\n')
    out = tmp_path / 'records.jsonl'
    record = _tool().main([
        str(config), 'none', '--data-root',
        str(root), '--subset-list',
        str(subset), '--resize', '36', '--crop', '32', '--num-workers', '0',
        '--device', 'cpu', '--out',
        str(out)
    ])
    assert record['tool'] == 'few_shot_logistic'
    assert record['metric'] == 'logistic_top1'
    assert (record['train_size'], record['test_size']) == (4, 6)
    assert record['feat_dim'] == 32 and record['pool'] == 'cls'
    # brightness separates the classes: even a random encoder keeps it
    assert record['value'] == 100. and record['train_top1'] == 100.
    assert osp.isfile(str(out)) and os.path.getsize(str(out)) > 0
