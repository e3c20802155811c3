"""Tests of the weighted kNN classifier, pooling and feature extraction."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.structures import DataSample

from mmsiameseim.evaluation import (collapse_signal, extract_features,
                                    knn_accuracy, pool_features,
                                    weighted_knn_predict)


def brute_force_scores(train, train_labels, test, num_classes, k, t):
    """Reference weighted kNN: plain numpy loops, float64."""
    train = np.asarray(train, np.float64)
    test = np.asarray(test, np.float64)
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    scores = np.zeros((len(test), num_classes))
    for row, q in enumerate(test):
        q = q / np.linalg.norm(q)
        sims = [float(q @ x) for x in train]
        order = sorted(range(len(train)), key=lambda i: -sims[i])[:k]
        for i in order:
            scores[row, int(train_labels[i])] += math.exp(sims[i] / t)
    return scores


def sphere_clusters(num_classes, per_class, dim, spread, seed):
    g = torch.Generator().manual_seed(seed)
    centres = torch.nn.functional.normalize(
        torch.randn(num_classes, dim, generator=g), dim=1)
    labels = torch.arange(num_classes).repeat_interleave(per_class)
    feats = centres[labels] + spread * torch.randn(
        len(labels), dim, generator=g)
    return torch.nn.functional.normalize(feats, dim=1), labels


# ----------------------------------------------------------------- kNN
def test_separated_clusters_are_perfect():
    train, train_labels = sphere_clusters(6, 30, 32, 0.05, seed=0)
    test, test_labels = sphere_clusters(6, 10, 32, 0.05, seed=0)
    test = test + 0.01 * torch.randn(test.shape)
    result = knn_accuracy(train, train_labels, test, test_labels, k=10)
    assert result == dict(top1=100.0, top5=100.0)


def test_hand_computed_weighted_vote_beats_majority():
    # query (1, 0); neighbours by cosine: label 0 at 0 deg, label 1 at 60
    # and 70 deg, label 0 at 180 deg (not among k=3). Train rows are not
    # normalised, the classifier must normalise them.
    deg = math.radians
    train = torch.tensor([[2.0, 0.0],
                          [3 * math.cos(deg(60)), 3 * math.sin(deg(60))],
                          [0.5 * math.cos(deg(70)), 0.5 * math.sin(deg(70))],
                          [-1.0, 0.0]])
    labels = torch.tensor([0, 1, 1, 0])
    test = torch.tensor([[5.0, 0.0]])
    # majority of the 3 nearest is class 1 ...
    assert np.bincount([0, 1, 1]).argmax() == 1

    # ... but with T = 0.1 the closest neighbour dominates.
    scores = weighted_knn_predict(train, labels, test, 2, k=3, temperature=0.1)
    expected = [
        math.exp(1 / 0.1),
        math.exp(0.5 / 0.1) + math.exp(math.cos(deg(70)) / 0.1)
    ]
    assert scores.shape == (1, 2)
    np.testing.assert_allclose(scores[0].tolist(), expected, rtol=1e-5)
    assert scores.argmax().item() == 0

    # with T = 1 the two class-1 votes win: e^1 < e^0.5 + e^cos(70 deg).
    scores = weighted_knn_predict(train, labels, test, 2, k=3, temperature=1.0)
    expected = [math.e, math.exp(0.5) + math.exp(math.cos(deg(70)))]
    np.testing.assert_allclose(scores[0].tolist(), expected, rtol=1e-6)
    assert scores.argmax().item() == 1

    # k = 4 adds the opposite point with weight exp(-1 / T) to class 0.
    scores = weighted_knn_predict(train, labels, test, 2, k=4, temperature=1.0)
    assert scores[0, 0].item() == pytest.approx(math.e + math.exp(-1))


def test_matches_brute_force_oracle():
    g = torch.Generator().manual_seed(1)
    train = torch.randn(60, 8, generator=g)
    labels = torch.randint(0, 5, (60, ), generator=g)
    test = torch.randn(25, 8, generator=g)
    for k, t in ((1, 0.07), (7, 0.5), (20, 0.07)):
        scores = weighted_knn_predict(
            train, labels, test, 5, k=k, temperature=t)
        ref = brute_force_scores(train, labels, test, 5, k, t)
        np.testing.assert_allclose(scores.numpy(), ref, rtol=1e-4)
    test_labels = torch.randint(0, 5, (25, ), generator=g)
    ref = brute_force_scores(train, labels, test, 5, 7, 0.5)
    order = np.argsort(-ref, axis=1)
    top1 = 100 * np.mean(order[:, 0] == test_labels.numpy())
    top5 = 100 * np.mean(
        [y in order[i, :5] for i, y in enumerate(test_labels.numpy())])
    result = knn_accuracy(
        train, labels, test, test_labels, 5, k=7, temperature=0.5)
    assert result['top1'] == pytest.approx(top1)
    assert result['top5'] == pytest.approx(top5) == 100.0
    assert 0 < result['top1'] < 100


def test_top5_counts_fifth_class():
    # 7 classes, scores decreasing with the class id for every query:
    # label 4 is 5th (a top-5 hit), label 5 is 6th (a miss).
    train = torch.eye(7)
    labels = torch.arange(7)
    test = torch.tensor([[7., 6., 5., 4., 3., 2., 1.]]).repeat(3, 1)
    result = knn_accuracy(
        train, labels, test, torch.tensor([0, 4, 5]), k=7, temperature=1.0)
    assert result['top1'] == pytest.approx(100 / 3)
    assert result['top5'] == pytest.approx(200 / 3)


def test_chunking_gives_the_same_scores():
    g = torch.Generator().manual_seed(2)
    train = torch.randn(300, 16, generator=g)
    labels = torch.randint(0, 10, (300, ), generator=g)
    test = torch.randn(97, 16, generator=g)
    full = weighted_knn_predict(train, labels, test, 10, k=20, chunk_size=1024)
    for chunk in (1, 13, 96, 97):
        part = weighted_knn_predict(
            train, labels, test, 10, k=20, chunk_size=chunk)
        # float32 matmuls of different row counts may differ by an ulp
        torch.testing.assert_close(part, full, rtol=1e-5, atol=0)
        assert torch.equal(part.argmax(1), full.argmax(1))


def test_k_larger_than_bank_is_clamped_with_warning():
    g = torch.Generator().manual_seed(3)
    train = torch.randn(6, 4, generator=g)
    labels = torch.tensor([0, 1, 2, 0, 1, 2])
    test = torch.randn(3, 4, generator=g)
    with pytest.warns(UserWarning, match='k=50 exceeds the 6'):
        scores = weighted_knn_predict(
            train, labels, test, 3, k=50, temperature=0.5)
    ref = brute_force_scores(train, labels, test, 3, 6, 0.5)
    np.testing.assert_allclose(scores.numpy(), ref, rtol=1e-5)


def test_small_temperature_stays_finite():
    train = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    scores = weighted_knn_predict(
        train, torch.tensor([0, 1]), train, 2, k=2, temperature=0.005)
    assert scores.dtype == torch.float64
    assert torch.isfinite(scores).all()
    assert scores[0, 0].item() == pytest.approx(math.exp(200), rel=1e-9)


@pytest.mark.parametrize('kwargs, match', [
    (dict(k=0), 'k must be'),
    (dict(temperature=0.0), 'temperature must be'),
    (dict(temperature=1e-4), 'temperature=0.0001 is too small'),
    (dict(chunk_size=0), 'chunk_size must be'),
    (dict(num_classes=2), 'train_labels must lie in'),
])
def test_bad_arguments(kwargs, match):
    train = torch.randn(4, 3)
    labels = torch.tensor([0, 1, 2, 2])
    args = dict(num_classes=3)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        weighted_knn_predict(train, labels, torch.randn(2, 3), **args)


def test_bad_shapes():
    with pytest.raises(ValueError, match='same channels'):
        weighted_knn_predict(
            torch.randn(4, 3),
            torch.zeros(4).long(), torch.randn(2, 5))
    with pytest.raises(ValueError, match='train_labels must be 1-D'):
        weighted_knn_predict(
            torch.randn(4, 3),
            torch.zeros(3).long(), torch.randn(2, 3))
    with pytest.raises(TypeError, match='integer'):
        weighted_knn_predict(
            torch.randn(4, 3), torch.zeros(4), torch.randn(2, 3))
    with pytest.raises(ValueError, match='test_labels'):
        knn_accuracy(
            torch.randn(4, 3),
            torch.zeros(4).long(), torch.randn(2, 3),
            torch.zeros(3).long())


# ------------------------------------------------------------ collapse
def test_collapse_signal_healthy_and_collapsed():
    g = torch.Generator().manual_seed(4)
    healthy = collapse_signal(torch.randn(4000, 64, generator=g) * 5 + 0.0)
    assert healthy['feat_std'] == pytest.approx(1 / 8, rel=0.03)
    assert healthy['feat_std_ratio'] == pytest.approx(1.0, abs=0.03)

    constant = collapse_signal(torch.full((500, 64), 3.0))
    assert constant['feat_std'] == pytest.approx(0.0, abs=1e-7)
    assert constant['feat_std_ratio'] == pytest.approx(0.0, abs=1e-6)

    # nearly collapsed: one shared direction plus tiny noise
    direction = torch.randn(1, 64, generator=g)
    near = direction + 1e-3 * torch.randn(500, 64, generator=g)
    assert collapse_signal(near)['feat_std_ratio'] < 0.01

    # half-collapsed: features live in 16 of 64 dims -> ratio sqrt(16/64)
    low_rank = torch.zeros(4000, 64)
    low_rank[:, :16] = torch.randn(4000, 16, generator=g)
    ratio = collapse_signal(low_rank)['feat_std_ratio']
    assert ratio == pytest.approx(0.5, abs=0.02)

    with pytest.raises(ValueError, match='N >= 2'):
        collapse_signal(torch.randn(1, 8))


# -------------------------------------------------------------- pooling
def test_pool_features():
    tokens = torch.arange(2 * 4 * 3, dtype=torch.float32).view(2, 4, 3)
    out = (torch.zeros(1), tokens)  # the last element is used
    cls = tokens[:, 0]
    avg = torch.stack([tokens[b, 1:].sum(0) / 3 for b in range(2)])
    torch.testing.assert_close(pool_features(out, 'cls'), cls)
    torch.testing.assert_close(pool_features(out, 'avg'), avg)
    torch.testing.assert_close(
        pool_features(out, 'both'), torch.cat([cls, avg], 1))
    flat = torch.randn(2, 5)
    assert pool_features((flat, ), 'cls') is flat
    fmap = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    expected = torch.tensor([[1.5, 5.5, 9.5], [13.5, 17.5, 21.5]])
    torch.testing.assert_close(pool_features(fmap), expected)
    with pytest.raises(ValueError, match='pool must be one of'):
        pool_features(tokens, 'max')
    with pytest.raises(ValueError, match='cannot pool'):
        pool_features(torch.randn(2, 3, 4, 5, 6))


# ----------------------------------------------------------- extraction
class TokenBackbone(nn.Module):
    """Images (B, 3, 2, 2) -> tokens (B, 1 + 4, 3): cls = 100, pixels."""

    def __init__(self):
        super().__init__()
        self.norm = nn.BatchNorm1d(3)
        self.seen_training = []

    def forward(self, x):
        self.seen_training.append(self.training)
        patches = x.flatten(2).transpose(1, 2)  # (B, 4, 3)
        cls = torch.full_like(patches[:, :1], 100.)
        return (patches, torch.cat([cls, patches], 1))


class ToyModel(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = TokenBackbone()
        self.data_preprocessor = SelfSupDataPreprocessor(
            mean=[10., 10., 10.], std=[2., 2., 2.])


def make_batches(num_views):
    g = torch.Generator().manual_seed(5)
    batches, images, labels = [], [], []
    for b in range(3):
        views = [
            torch.randint(0, 255, (2, 3, 2, 2), generator=g).byte()
            for _ in range(num_views)
        ]
        samples = [DataSample().set_gt_label(2 * b + i) for i in range(2)]
        inputs = views if num_views > 1 else views[0]
        batches.append(dict(inputs=inputs, data_samples=samples))
        images.append(views[0])
        labels += [2 * b, 2 * b + 1]
    return batches, torch.cat(images), labels


@pytest.mark.parametrize('num_views', [1, 2])
def test_extract_features_restores_modes(num_views):
    batches, images, labels = make_batches(num_views)
    model = ToyModel()
    model.train()
    model.backbone.norm.eval()  # a submodule kept in eval on purpose
    feats, out_labels = extract_features(model, batches, pool='both')
    assert model.training and model.backbone.training
    assert not model.backbone.norm.training
    assert model.backbone.seen_training == [False] * 3
    assert feats.dtype == torch.float32 and out_labels.dtype == torch.int64
    assert out_labels.tolist() == labels
    x = (images.double() - 10) / 2  # the first view, normalised
    avg = x.mean(dim=(2, 3))
    expected = torch.cat([torch.full_like(avg, 100.), avg], 1).float()
    torch.testing.assert_close(feats, expected)

    model.eval()
    avg_feats, _ = extract_features(model, batches, pool='avg')
    assert not model.training and not model.backbone.training
    torch.testing.assert_close(avg_feats, avg.float())


def test_extract_features_errors():
    batches, _, _ = make_batches(1)
    model = ToyModel()
    with pytest.raises(ValueError, match='pool must be one of'):
        extract_features(model, batches, pool='mean')
    batches[1]['data_samples'] = [DataSample(), DataSample()]
    with pytest.raises(ValueError, match='no gt_label'):
        extract_features(model, batches)
    assert model.training  # restored after the error, too
    with pytest.raises(TypeError, match='mmengine batches'):
        extract_features(model, [(torch.zeros(1), 0)])


def test_extract_features_progress_on_stderr(capsys):
    """The bench's loaders show a progress bar (the plugin draws none)."""
    from projects.study_bench.probes.common import with_progress
    batches, _, labels = make_batches(1)

    class Loader(list):
        dataset = range(len(labels))  # a DataLoader's images

    quiet = extract_features(ToyModel(), batches)
    capsys.readouterr()
    shown = extract_features(ToyModel(), with_progress(Loader(batches)))
    out = capsys.readouterr()
    torch.testing.assert_close(shown, quiet)
    assert out.out == ''  # stdout stays for the tools' JSON records
    assert '6/6' in out.err and 'ETA' in out.err
