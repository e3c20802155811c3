"""Read the cls token and the patch map of any mmpretrain backbone.

Shared by the kNN monitor (:func:`~mmsiameseim.evaluation.knn.
extract_features`) and the offline probes (:class:`~mmsiameseim.evaluation.
frozen_encoder.FrozenEncoder`), so both see the same features whatever the
backbone's defaults: ``MoCoV3ViT`` returns only the cls token
(``out_type='cls_token'``) and ``MAEViT`` masks 75 % of its input unless
called with ``mask=None``. mmpretrain has no such "give me the tokens"
accessor, hence this helper.
"""
import inspect
from typing import Optional, Tuple

import torch.nn as nn
from torch import Tensor


def last_output(out):
    """The last element of a tuple / list backbone output, else ``out``."""
    if isinstance(out, (tuple, list)):
        if not out:
            raise RuntimeError('the backbone returned an empty tuple')
        out = out[-1]
    return out


def is_vit(backbone: nn.Module) -> bool:
    """Whether ``backbone`` is an mmpretrain ``VisionTransformer``."""
    from mmpretrain.models import VisionTransformer
    return isinstance(backbone, VisionTransformer)


def accepts_mask(backbone: nn.Module) -> bool:
    """Whether ``backbone.forward`` takes a ``mask`` argument."""
    try:
        params = inspect.signature(backbone.forward).parameters
    except (TypeError, ValueError):
        return False
    return 'mask' in params


def backbone_tokens(backbone: nn.Module,
                    x: Tensor) -> Tuple[Optional[Tensor], Tensor]:
    """Cls token and patch map of preprocessed images, nothing masked.

    mmpretrain :class:`VisionTransformer` subclasses run with
    ``out_type='raw'`` (restored afterwards) and, if their ``forward`` takes
    one, ``mask=None``; backbones returning ``(B, C, H, W)`` maps (CNNs)
    give a patch map only. Gradients flow if the caller enables them.

    Args:
        backbone (nn.Module): The backbone.
        x (Tensor): ``(B, 3, H, W)`` preprocessed images. Sizes other than
            a ViT's ``img_size`` work: mmpretrain resizes the position
            embedding (bicubic) on the fly.

    Returns:
        tuple: ``cls`` ``(B, C)`` (None without a cls token) and
        ``patches`` ``(B, h, w, C)``.
    """
    B = x.shape[0]
    if not is_vit(backbone):
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
        out = backbone(x, mask=None) if accepts_mask(backbone) \
            else backbone(x)
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
