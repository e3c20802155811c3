"""Weighted k-nearest-neighbour evaluation of frozen features.

The classifier is the temperature-weighted cosine kNN used by InstDisc,
DINO and solo-learn: both feature sets are L2-normalised, every test row
keeps its ``k`` most similar training rows, and each neighbour votes for its
class with the weight ``exp(sim / T)``. Class scores are the summed votes.
"""
import warnings
from typing import Callable, Dict, Optional, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .backbone_tokens import backbone_tokens, is_vit

POOL_TYPES = ('avg', 'cls', 'both')

# exp(1 / T) must stay finite: float32 up to 1 / T ~ 88, float64 ~ 709.
_FLOAT32_MAX_INV_T = 80.
_FLOAT64_MAX_INV_T = 700.


def is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) \
        and value >= 1


def _check_knn_inputs(train_feats: Tensor, train_labels: Tensor,
                      test_feats: Tensor, num_classes: Optional[int], k: int,
                      temperature: float, chunk_size: int) -> int:
    """Validate kNN arguments and return the number of classes."""
    for name, value in (('train_feats', train_feats),
                        ('train_labels', train_labels), ('test_feats',
                                                         test_feats)):
        if not isinstance(value, Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got '
                            f'{type(value).__name__}')
    if train_feats.dim() != 2 or test_feats.dim() != 2:
        raise ValueError('train_feats and test_feats must be 2-D (N, C), got '
                         f'{tuple(train_feats.shape)} and '
                         f'{tuple(test_feats.shape)}')
    if train_feats.shape[1] != test_feats.shape[1]:
        raise ValueError('train_feats and test_feats must have the same '
                         f'channels, got {train_feats.shape[1]} and '
                         f'{test_feats.shape[1]}')
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
    if not is_positive_int(k):
        raise ValueError(f'k must be a positive int, got {k!r}')
    if not is_positive_int(chunk_size):
        raise ValueError(f'chunk_size must be a positive int, got '
                         f'{chunk_size!r}')
    if not temperature > 0:
        raise ValueError(f'temperature must be > 0, got {temperature!r}')
    if 1. / temperature > _FLOAT64_MAX_INV_T:
        raise ValueError(f'temperature={temperature} is too small: '
                         'exp(1 / temperature) overflows; use >= '
                         f'{1. / _FLOAT64_MAX_INV_T:.4f}')
    min_label = int(train_labels.min())
    max_label = int(train_labels.max())
    if num_classes is None:
        num_classes = max_label + 1
    if not is_positive_int(num_classes):
        raise ValueError(f'num_classes must be a positive int, got '
                         f'{num_classes!r}')
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
    """Class scores of the temperature-weighted cosine kNN classifier.

    For a test row ``q`` with neighbours ``i`` (the ``k`` training rows of
    largest cosine similarity ``s_i``), the score of class ``c`` is
    ``sum_i [y_i == c] * exp(s_i / T)``. Test rows are processed
    ``chunk_size`` at a time, so the similarity matrix held in memory is at
    most ``chunk_size x len(train_feats)``. The computation runs on the
    device of ``train_feats``.

    If ``k`` exceeds the number of training rows it is clamped to it (with a
    warning), i.e. every training row votes.

    Args:
        train_feats (Tensor): Memory bank ``(N, C)``; need not be normalised.
        train_labels (Tensor): Integer labels ``(N, )``.
        test_feats (Tensor): Queries ``(M, C)``; need not be normalised.
        num_classes (int, optional): Number of classes. Defaults to None,
            which means ``train_labels.max() + 1``.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float): Softmax-like temperature ``T``. Defaults to
            0.07. Scores are float32, or float64 when ``1 / T > 80`` (where
            float32 ``exp`` would overflow).
        chunk_size (int): Test rows per chunk. Defaults to 1024.

    Returns:
        Tensor: Unnormalised class scores ``(M, num_classes)`` on the device
        of ``train_feats``.
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
    """Top-1 / top-5 accuracy (percent) of :func:`weighted_knn_predict`.

    With fewer than 5 classes, top-5 counts the top ``num_classes`` and is
    therefore 100.

    Args:
        train_feats (Tensor): Memory bank ``(N, C)``.
        train_labels (Tensor): Integer labels ``(N, )``.
        test_feats (Tensor): Queries ``(M, C)``.
        test_labels (Tensor): Integer labels ``(M, )``.
        num_classes (int, optional): Number of classes. Defaults to None,
            which means one more than the largest train or test label.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        chunk_size (int): Test rows per chunk. Defaults to 1024.

    Returns:
        dict: ``dict(top1=float, top5=float)`` in percent.
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
    """Feature-collapse statistics of a batch of embeddings.

    ``feat_std`` is the mean over channels of the per-channel (population)
    standard deviation of the L2-normalised features. For ``C`` channels it
    is about ``1 / sqrt(C)`` for features spread uniformly on the sphere and
    tends to 0 when all features collapse to one direction.
    ``feat_std_ratio = feat_std * sqrt(C)`` is therefore about 1 when
    healthy and about 0 at collapse.

    Args:
        feats (Tensor): Features ``(N, C)`` with ``N >= 2``.

    Returns:
        dict: ``dict(feat_std=float, feat_std_ratio=float)``.
    """
    if not isinstance(feats, Tensor) or feats.dim() != 2 or len(feats) < 2:
        raise ValueError('collapse_signal needs a 2-D (N, C) tensor with '
                         f'N >= 2, got {getattr(feats, "shape", feats)!r}')
    z = F.normalize(feats.double(), dim=1)
    feat_std = z.std(dim=0, correction=0).mean().item()
    return dict(
        feat_std=feat_std, feat_std_ratio=feat_std * feats.shape[1]**0.5)


def pool_features(out: Union[Tensor, tuple, list],
                  pool: str = 'avg') -> Tensor:
    """Turn a backbone output into one ``(B, C)`` vector per image.

    Args:
        out (Tensor | tuple | list): Backbone output; of a tuple / list the
            last element is used. ``(B, 1 + N, C)`` tokens (cls first) are
            pooled by ``pool``; ``(B, C)`` is returned as is; ``(B, C, H,
            W)`` is averaged over ``H, W`` (``pool`` then does not apply).
        pool (str): ``'avg'`` (mean of the patch tokens, cls excluded),
            ``'cls'`` (token 0) or ``'both'`` (their concatenation, ``2C``).
            Defaults to ``'avg'``.

    Returns:
        Tensor: ``(B, C)`` or ``(B, 2C)`` features.
    """
    if pool not in POOL_TYPES:
        raise ValueError(f'pool must be one of {POOL_TYPES}, got {pool!r}')
    if isinstance(out, (tuple, list)):
        if len(out) == 0:
            raise ValueError('the backbone returned an empty tuple')
        out = out[-1]
    if not isinstance(out, Tensor):
        raise TypeError('the backbone output must be a Tensor or a tuple of '
                        f'Tensors, got {type(out).__name__}')
    if out.dim() == 2:
        return out
    if out.dim() == 4:
        return out.mean(dim=(2, 3))
    if out.dim() != 3:
        raise ValueError('cannot pool a backbone output of shape '
                         f'{tuple(out.shape)}: expected (B, C), '
                         '(B, 1 + N, C) or (B, C, H, W)')
    if pool == 'cls':
        return out[:, 0]
    if out.shape[1] < 2:
        raise ValueError(f"pool='{pool}' needs patch tokens after the cls "
                         f'token, got {out.shape[1]} token(s)')
    avg = out[:, 1:].mean(dim=1)
    if pool == 'avg':
        return avg
    return torch.cat([out[:, 0], avg], dim=1)


def _encode(backbone: Union[nn.Module, Callable], images: Tensor,
            pool: str) -> Tensor:
    """Pooled features of one batch, nothing masked.

    mmpretrain ViTs go through :func:`backbone_tokens` (raw tokens,
    ``mask=None``), so ``MAEViT`` is not masked and ``MoCoV3ViT``'s default
    ``out_type='cls_token'`` does not turn ``'avg'`` into the cls token;
    other backbones and callables through :func:`pool_features`.
    """
    if not (isinstance(backbone, nn.Module) and is_vit(backbone)):
        return pool_features(backbone(images), pool)
    cls, patches = backbone_tokens(backbone, images)
    avg = patches.flatten(1, 2).mean(dim=1)
    if pool == 'avg':
        return avg
    if cls is None:
        raise ValueError(f'{type(backbone).__name__} has no cls token: use '
                         "pool='avg'")
    return cls if pool == 'cls' else torch.cat([cls, avg], dim=1)


def _batch_images(inputs: Union[Tensor, list]) -> Tensor:
    """The image tensor of a preprocessed batch (first view if several)."""
    if isinstance(inputs, (list, tuple)):
        if len(inputs) == 0:
            raise ValueError("data['inputs'] is an empty list")
        if all(isinstance(x, Tensor) and x.dim() == 3 for x in inputs):
            # pseudo_collate: one (C, H, W) tensor per sample.
            return torch.stack(list(inputs))
        inputs = inputs[0]  # multi-view pipelines: the first view
    if not isinstance(inputs, Tensor) or inputs.dim() != 4:
        raise ValueError("data['inputs'] must be a (B, C, H, W) tensor or a "
                         'list of views, got '
                         f'{getattr(inputs, "shape", type(inputs))}')
    return inputs


def _batch_labels(data_samples) -> Tensor:
    """Concatenate ``gt_label`` of every data sample into ``(B, )``."""
    if not data_samples:
        raise ValueError("the batch has no 'data_samples' to read labels")
    labels = []
    for sample in data_samples:
        label = getattr(sample, 'gt_label', None)
        if label is None:
            raise ValueError('kNN evaluation needs labelled data: a data '
                             'sample has no gt_label (pack it with '
                             "PackInputs and a dataset that has 'gt_label')")
        label = torch.as_tensor(label).reshape(-1)
        if label.numel() != 1:
            raise ValueError('kNN evaluation needs one label per image, got '
                             f'gt_label of {label.numel()} elements')
        labels.append(label)
    return torch.cat(labels).long().cpu()


def _unwrap(model):
    """Strip DDP-like wrappers that keep the model in ``.module``."""
    while isinstance(model, nn.Module) and not hasattr(model, 'backbone') \
            and hasattr(model, 'module'):
        model = model.module
    return model


@torch.no_grad()
def extract_features(
        model: Union[nn.Module, Callable],
        dataloader,
        pool: str = 'avg',
        device: Union[str, torch.device, None] = None,
        data_preprocessor: Optional[Callable] = None) -> Tuple[Tensor, Tensor]:
    """Pooled backbone features and labels of a whole dataloader.

    Every batch goes through ``data_preprocessor(data, False)``, the first
    view of ``data['inputs']`` through the backbone, then pooling:
    mmpretrain ViTs are read by :func:`backbone_tokens` (all patches, raw
    tokens, whatever their ``out_type`` or masking default), anything else
    by :func:`pool_features`. The modules run in eval mode and under
    ``torch.no_grad``; afterwards every submodule gets back its own previous
    ``training`` flag.

    Args:
        model (nn.Module | Callable): A model with ``.backbone`` (and
            usually ``.data_preprocessor``), optionally wrapped in
            ``.module`` (DDP), or a backbone module / callable itself.
        dataloader (Iterable): Yields mmengine batches: dicts with
            ``inputs`` and ``data_samples`` (with ``gt_label``).
        pool (str): ``'avg'``, ``'cls'`` or ``'both'``, see
            :func:`pool_features`. Defaults to ``'avg'``.
        device (str | torch.device, optional): Where the backbone runs.
            Defaults to None, i.e. the device of its first parameter (CPU if
            it has none).
        data_preprocessor (Callable, optional): Overrides
            ``model.data_preprocessor``. Defaults to None. Without either,
            ``data['inputs']`` is only cast to float.

    Returns:
        tuple[Tensor, Tensor]: float32 features ``(N, C)`` and int64 labels
        ``(N, )``, both on CPU.
    """
    if pool not in POOL_TYPES:
        raise ValueError(f'pool must be one of {POOL_TYPES}, got {pool!r}')
    model = _unwrap(model)
    backbone = getattr(model, 'backbone', model)
    if not callable(backbone):
        raise TypeError('model must have a callable .backbone or be callable, '
                        f'got {type(model).__name__}')
    if data_preprocessor is None:
        data_preprocessor = getattr(model, 'data_preprocessor', None)
    modules = [
        m for m in (model, backbone, data_preprocessor)
        if isinstance(m, nn.Module)
    ]
    if device is None:
        params = [p for m in modules for p in m.parameters()]
        device = params[0].device if params else torch.device('cpu')
    modes = {sub: sub.training for m in modules for sub in m.modules()}
    feats, labels = [], []
    try:
        for m in modules:
            m.eval()
        for data in dataloader:
            if not isinstance(data, dict) or 'inputs' not in data:
                raise TypeError('extract_features expects mmengine batches '
                                "(dicts with 'inputs' and 'data_samples'), "
                                f'got {type(data).__name__}')
            if data_preprocessor is not None:
                data = data_preprocessor(data, False)
            images = _batch_images(data['inputs']).to(device).float()
            batch_feats = _encode(backbone, images, pool)
            batch_labels = _batch_labels(data.get('data_samples'))
            if len(batch_feats) != len(batch_labels):
                raise ValueError(f'{len(batch_feats)} features but '
                                 f'{len(batch_labels)} labels in a batch')
            feats.append(batch_feats.float().cpu())
            labels.append(batch_labels)
    finally:
        for sub, mode in modes.items():
            sub.training = mode
    if not feats:
        raise ValueError('the dataloader yielded no batches')
    return torch.cat(feats), torch.cat(labels)
