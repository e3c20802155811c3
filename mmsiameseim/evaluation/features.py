"""The one feature extractor: tokens of any mmpretrain backbone, pooled
(the kNN monitor, the study bench's probes and the visualiser use it).
mmpretrain has no "give me the tokens" accessor: ``MoCoV3ViT`` returns only
the cls token, ``MAEViT`` masks 75 % unless called with ``mask=None``.
"""
import inspect
from typing import Callable, Optional, Tuple, Union

import torch
import torch.nn as nn
from mmengine.model import is_model_wrapper
from mmpretrain.models import VisionTransformer
from torch import Tensor

from ..arg_checks import check_choice

POOL_TYPES = ('avg', 'cls', 'both')


def last_output(out):
    """The last element of a tuple / list backbone output, else ``out``."""
    if isinstance(out, (tuple, list)):
        if not out:
            raise RuntimeError('the backbone returned an empty tuple')
        out = out[-1]
    return out


def backbone_tokens(backbone: nn.Module,
                    x: Tensor) -> Tuple[Optional[Tensor], Tensor]:
    """Cls token and patch map of preprocessed images, nothing masked.

    mmpretrain ViTs run with ``out_type='raw'`` (restored afterwards) and
    ``mask=None`` if ``forward`` takes one; backbones giving ``(B, C, H,
    W)`` maps give a patch map only. Gradients flow if enabled.

    Args:
        backbone (nn.Module): The backbone.
        x (Tensor): ``(B, 3, H, W)`` preprocessed images (any size: a ViT
            resizes its position embedding on the fly).

    Returns:
        tuple: ``cls`` ``(B, C)`` (None without a cls token) and
        ``patches`` ``(B, h, w, C)``.
    """
    B = x.shape[0]
    if not isinstance(backbone, VisionTransformer):
        out = last_output(backbone(x))
        if not isinstance(out, Tensor) or out.dim() != 4:
            shape = tuple(out.shape) if isinstance(out, Tensor) else type(out)
            raise RuntimeError(
                f'cannot read a patch map from {type(backbone).__name__} '
                f'output {shape}; expected an mmpretrain VisionTransformer '
                'or a (B, C, H, W) feature map')
        return None, out.permute(0, 2, 3, 1)
    grid = {}

    def hook(module, args, output):
        grid['hw'] = tuple(output[1])

    handle = backbone.patch_embed.register_forward_hook(hook)
    out_type = backbone.out_type
    backbone.out_type = 'raw'
    try:
        takes_mask = 'mask' in inspect.signature(backbone.forward).parameters
        out = backbone(x, mask=None) if takes_mask else backbone(x)
    finally:
        backbone.out_type = out_type
        handle.remove()
    out = last_output(out)
    if out.dim() != 3 or 'hw' not in grid:
        raise RuntimeError('expected (B, N, C) raw tokens from '
                           f'{type(backbone).__name__}, got '
                           f'{tuple(out.shape)}')
    h, w = grid['hw']
    extra = backbone.num_extra_tokens
    if out.shape[1] != extra + h * w:
        raise RuntimeError(f'{type(backbone).__name__} returned '
                           f'{out.shape[1]} tokens for a {h}x{w} grid with '
                           f'{extra} extra tokens (was the input masked?)')
    cls = out[:, 0] if backbone.cls_token is not None else None
    return cls, out[:, extra:].reshape(B, h, w, out.shape[-1])


def _pool(cls: Optional[Tensor], patches: Tensor, pool: str) -> Tensor:
    """``pool`` of a ``(B, C)`` cls token and ``(B, N, C)`` patch tokens."""
    if cls is None and pool != 'avg':
        raise ValueError("the backbone has no cls token: use pool='avg'")
    if pool == 'cls':
        return cls
    avg = patches.mean(dim=1)
    return avg if pool == 'avg' else torch.cat([cls, avg], dim=1)


def pool_features(out: Union[Tensor, tuple, list],
                  pool: str = 'avg') -> Tensor:
    """One ``(B, C)`` vector per image of a backbone output (of a tuple,
    the last element): ``(B, 1 + N, C)`` tokens pooled by ``pool``
    (``'avg'``: patch mean, ``'cls'``: token 0, ``'both'``: both, ``2C``),
    ``(B, C)`` as is, ``(B, C, H, W)`` averaged over ``H, W``."""
    check_choice(pool, 'pool', POOL_TYPES)
    out = last_output(out)
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
    if pool != 'cls' and out.shape[1] < 2:
        raise ValueError(f"pool='{pool}' needs patch tokens after the cls "
                         f'token, got {out.shape[1]} token(s)')
    return _pool(out[:, 0], out[:, 1:], pool)


def _encode(backbone: Union[nn.Module, Callable], images: Tensor,
            pool: str) -> Tensor:
    """Pooled features of one batch: mmpretrain ViTs through
    :func:`backbone_tokens` (raw, unmasked tokens whatever their
    ``out_type``), others through :func:`pool_features`."""
    if not isinstance(backbone, VisionTransformer):
        return pool_features(backbone(images), pool)
    cls, patches = backbone_tokens(backbone, images)
    return _pool(cls, patches.flatten(1, 2), pool)


def _batch_images(inputs: Union[Tensor, list]) -> Tensor:
    """The image tensor of a preprocessed batch (first view if several)."""
    if isinstance(inputs, (list, tuple)) and inputs:
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


@torch.no_grad()
def extract_features(
        model: Union[nn.Module, Callable],
        dataloader,
        pool: str = 'avg',
        device: Union[str, torch.device, None] = None,
        data_preprocessor: Optional[Callable] = None) -> Tuple[Tensor, Tensor]:
    """Pooled backbone features and labels of a whole dataloader.

    Each batch goes through ``data_preprocessor(data, False)``, its first
    view through the backbone (:func:`_encode`), in eval mode and under
    ``torch.no_grad``; every submodule gets its ``training`` flag back.

    Args:
        model (nn.Module | Callable): A model with ``.backbone`` (and
            ``.data_preprocessor``), possibly DDP-wrapped, or a backbone.
        dataloader (Iterable): mmengine batches with ``gt_label``.
        pool (str): See :func:`pool_features`. Defaults to ``'avg'``.
        device (str | torch.device, optional): Where the backbone runs.
            Defaults to the device of its first parameter (else CPU).
        data_preprocessor (Callable, optional): Overrides
            ``model.data_preprocessor`` (without either: a float cast).

    Returns:
        tuple[Tensor, Tensor]: float32 features ``(N, C)`` and int64 labels
        ``(N, )``, both on CPU.
    """
    check_choice(pool, 'pool', POOL_TYPES)
    model = model.module if is_model_wrapper(model) else model
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
