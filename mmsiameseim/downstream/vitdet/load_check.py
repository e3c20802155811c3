"""What "the encoder arrived" means for :class:`WindowedViT`.

Registered for ``check_backbone_load`` (``PretrainedLoadCheckHook``,
``tools/analysis/check_pretrained_load.py``). The source is an encoder
file in the ``vitdet`` layout (``siameseim_to_backbone.py --layout
vitdet``): bare mmpretrain names, no cls token, no final norm. After
``init_weights()`` every tensor of it must be in the backbone unchanged,
except ``pos_embed``, which must equal the file's table without its cls
row, resized bicubically (``align_corners=False``) to the backbone's grid
(recomputed here with ``F.interpolate``, independently of the loader); the
only tensors that start fresh are the relative position tables
``layers.{i}.attn.rel_pos_{h,w}`` (zero).
"""
import math

import torch
import torch.nn.functional as F

from ...utils.weight_check import BackboneLoadSpec, register_load_spec

#: Backbone keys no pretrained encoder sets.
VITDET_FRESH = (r'layers\.\d+\.attn\.rel_pos_[hw]', )


def expected_pos_embed(source: torch.Tensor,
                       model_tensor: torch.Tensor) -> torch.Tensor:
    """The grid table a ``(1, [1 +] n*n, C)`` source must become.

    Args:
        source (torch.Tensor): The file's table.
        model_tensor (torch.Tensor): The backbone's ``(1, H, W, C)`` table
            (only its shape is used).

    Returns:
        torch.Tensor: ``(1, H, W, C)``.
    """
    channels = source.shape[-1]
    rows = source.reshape(-1, channels)
    side = math.isqrt(rows.shape[0])
    grid = rows[rows.shape[0] - side * side:].reshape(1, side, side,
                                                      channels)
    size = tuple(model_tensor.shape[1:3])
    if size == (side, side):
        return grid
    resized = F.interpolate(
        grid.permute(0, 3, 1, 2).float(),
        size=size,
        mode='bicubic',
        align_corners=False)
    return resized.permute(0, 2, 3, 1)


@register_load_spec('WindowedViT')
def windowed_vit_load_spec(backbone) -> BackboneLoadSpec:
    """Fresh keys and the position-table transform of ``WindowedViT``."""
    return BackboneLoadSpec(
        expected_fresh=VITDET_FRESH,
        transforms={r'pos_embed': expected_pos_embed},
        source_prefix='')
