"""Weighted k-nearest-neighbour evaluation of frozen features: the
temperature-weighted cosine kNN of InstDisc, DINO and solo-learn."""
import warnings
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ..arg_checks import check_int, check_real

# exp(1 / T) must stay finite: float32 up to 1 / T ~ 88, float64 ~ 709.
_FLOAT32_MAX_INV_T = 80.
_FLOAT64_MAX_INV_T = 700.


def _check_knn_inputs(train_feats: Tensor, train_labels: Tensor,
                      test_feats: Tensor, num_classes: Optional[int], k: int,
                      temperature: float, chunk_size: int) -> int:
    """Validate kNN arguments and return the number of classes."""
    for value in (train_feats, train_labels, test_feats):
        if not isinstance(value, Tensor):
            raise TypeError('train_feats, train_labels and test_feats must '
                            f'be torch.Tensors, got {type(value).__name__}')
    if (train_feats.dim(), test_feats.dim()) != (2, 2) or \
            train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError('train_feats and test_feats must be 2-D (N, C) with '
                         f'the same channels, got {tuple(train_feats.shape)} '
                         f'and {tuple(test_feats.shape)}')
    if train_labels.dim() != 1 or train_labels.numel() != len(train_feats):
        raise ValueError('train_labels must be 1-D with one label per train '
                         f'row ({len(train_feats)}), got shape '
                         f'{tuple(train_labels.shape)}')
    if len(train_feats) == 0:
        raise ValueError('train_feats is empty: kNN needs a memory bank')
    if train_labels.dtype.is_floating_point or train_labels.dtype == \
            torch.bool:
        raise TypeError('train_labels must be an integer tensor, got '
                        f'{train_labels.dtype}')
    k, chunk_size = check_int(k, 'k'), check_int(chunk_size, 'chunk_size')
    check_real(temperature, 'temperature', 0, strict=True)
    if 1. / temperature > _FLOAT64_MAX_INV_T:
        raise ValueError(f'temperature={temperature} is too small: '
                         'exp(1 / temperature) overflows; use >= '
                         f'{1. / _FLOAT64_MAX_INV_T:.4f}')
    min_label = int(train_labels.min())
    max_label = int(train_labels.max())
    if num_classes is None:
        num_classes = max_label + 1
    num_classes = check_int(num_classes, 'num_classes')
    if min_label < 0 or max_label >= num_classes:
        raise ValueError(f'train_labels must lie in [0, {num_classes}), got '
                         f'[{min_label}, {max_label}] (check num_classes)')
    return num_classes


def weighted_knn_predict(train_feats: Tensor,
                         train_labels: Tensor,
                         test_feats: Tensor,
                         num_classes: Optional[int] = None,
                         k: int = 20,
                         temperature: float = 0.07,
                         chunk_size: int = 1024) -> Tensor:
    """Class scores ``(M, num_classes)`` of the weighted cosine kNN: class
    ``c`` scores ``sum_i [y_i == c] exp(s_i / T)`` over a test row's ``k``
    most similar training rows (``k`` clamped to the bank with a warning),
    on ``train_feats``' device, in float64 when ``1 / T > 80``.

    Args:
        train_feats (Tensor): Memory bank ``(N, C)``.
        train_labels (Tensor): Integer labels ``(N, )``.
        test_feats (Tensor): Queries ``(M, C)``.
        num_classes (int, optional): Defaults to ``train_labels.max() + 1``.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float): ``T``. Defaults to 0.07.
        chunk_size (int): Test rows per chunk. Defaults to 1024.
    """
    num_classes = _check_knn_inputs(train_feats, train_labels, test_feats,
                                    num_classes, k, temperature, chunk_size)
    num_train = len(train_feats)
    if k > num_train:
        warnings.warn(f'k={k} exceeds the {num_train} training rows; using '
                      f'k={num_train}')
        k = num_train
    small_t = 1. / temperature > _FLOAT32_MAX_INV_T
    dtype = torch.float64 if small_t else torch.float32
    device = train_feats.device
    bank = F.normalize(train_feats.to(dtype), dim=1)
    labels = train_labels.to(device=device, dtype=torch.long)
    scores = torch.zeros(
        len(test_feats), num_classes, dtype=dtype, device=device)
    for start in range(0, len(test_feats), chunk_size):
        query = test_feats[start:start + chunk_size].to(device, dtype)
        sim = F.normalize(query, dim=1) @ bank.t()
        top_sim, top_idx = sim.topk(k, dim=1)
        weights = (top_sim / temperature).exp()
        scores[start:start + len(query)].scatter_add_(1, labels[top_idx],
                                                      weights)
    return scores


def knn_accuracy(train_feats: Tensor,
                 train_labels: Tensor,
                 test_feats: Tensor,
                 test_labels: Tensor,
                 num_classes: Optional[int] = None,
                 k: int = 20,
                 temperature: float = 0.07,
                 chunk_size: int = 1024) -> Dict[str, float]:
    """``dict(top1=, top5=)`` in percent of :func:`weighted_knn_predict`.

    Arguments as there, plus ``test_labels`` ``(M, )``; ``num_classes``
    defaults to one more than the largest train or test label. With fewer
    than 5 classes, top-5 is 100.
    """
    if not isinstance(test_labels, Tensor) or test_labels.dim() != 1 or \
            test_labels.numel() != len(test_feats):
        raise ValueError('test_labels must be a 1-D tensor with one label '
                         f'per test row ({len(test_feats)})')
    if len(test_feats) == 0:
        raise ValueError('test_feats is empty: nothing to evaluate')
    if num_classes is None and isinstance(train_labels, Tensor) and \
            train_labels.numel():
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = weighted_knn_predict(train_feats, train_labels, test_feats,
                                  num_classes, k, temperature, chunk_size)
    target = test_labels.to(scores.device, torch.long)
    topk = scores.topk(min(5, scores.shape[1]), dim=1).indices
    hits = topk == target[:, None]
    return dict(
        top1=hits[:, 0].float().mean().item() * 100.,
        top5=hits.any(dim=1).float().mean().item() * 100.)


def collapse_signal(feats: Tensor) -> Dict[str, float]:
    """Collapse statistics of features ``(N, C)``, ``N >= 2``: ``feat_std``,
    the channel mean of the population std of the L2-normalised features
    (about ``1 / sqrt(C)`` spread over the sphere, 0 collapsed), and
    ``feat_std_ratio = feat_std * sqrt(C)`` (about 1 when healthy)."""
    if not isinstance(feats, Tensor) or feats.dim() != 2 or len(feats) < 2:
        raise ValueError('collapse_signal needs a 2-D (N, C) tensor with '
                         f'N >= 2, got {getattr(feats, "shape", feats)!r}')
    z = F.normalize(feats.double(), dim=1)
    feat_std = z.std(dim=0, correction=0).mean().item()
    return dict(
        feat_std=feat_std, feat_std_ratio=feat_std * feats.shape[1]**0.5)
