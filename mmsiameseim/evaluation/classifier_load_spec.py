"""The pretrained-load check of fine-tuning and linear-probing backbones.

Registers a :class:`~mmsiameseim.utils.weight_check.BackboneLoadSpec` for
``SiameseIMViT`` built as a classifier backbone (the configs of
``configs/siameseim/benchmarks/``), so that
:class:`~mmsiameseim.engine.hooks.PretrainedLoadCheckHook` can compare it
with its ``init_cfg=dict(type='Pretrained', ...)`` file: every encoder
tensor of the file must be in the backbone, and exactly the new norm after
pooling (``ln2``, the fine-tuning ``fc_norm``) starts fresh (plus ``ln1``
for a backbone built with a final norm the file lacks). A position table
of another grid is compared after the bicubic resize mmpretrain applies.
"""
import torch
import torch.nn.functional as F

from ..utils.weight_check import BackboneLoadSpec, register_load_spec


def resize_pos_embed_like(source: torch.Tensor,
                          target: torch.Tensor) -> torch.Tensor:
    """A ``(1, 1 + h*w, C)`` table resized (bicubic) to ``target``'s grid.

    The cls row is kept; square grids only.

    Args:
        source (Tensor): The file's table.
        target (Tensor): The model's table.

    Returns:
        Tensor: ``source`` on ``target``'s grid (``source`` itself when the
        shapes already match).
    """
    if source.shape == target.shape:
        return source
    channels = source.shape[-1]
    src_side = int(round((source.shape[1] - 1)**0.5))
    dst_side = int(round((target.shape[1] - 1)**0.5))
    if src_side**2 + 1 != source.shape[1] or \
            dst_side**2 + 1 != target.shape[1]:
        return source  # not square with a cls row: reported as a mismatch
    grid = source[:, 1:].reshape(1, src_side, src_side, channels)
    grid = F.interpolate(
        grid.permute(0, 3, 1, 2).float(),
        size=(dst_side, dst_side),
        mode='bicubic',
        align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, dst_side**2, channels)
    return torch.cat([source[:, :1].float(), grid], dim=1)


@register_load_spec('SiameseIMViT')
def siameseim_vit_load_spec(backbone) -> BackboneLoadSpec:
    """Load spec of a ``SiameseIMViT`` classifier backbone.

    Args:
        backbone (SiameseIMViT): The built backbone.

    Returns:
        BackboneLoadSpec: ``ln2`` (after average pooling) and ``ln1`` (a
        final norm) may start fresh; ``pos_embed`` is compared after the
        resize; the file's keys carry the ``init_cfg`` ``prefix``.
    """
    fresh = []
    if getattr(backbone, 'out_type', None) == 'avg_featmap':
        fresh.append(r'ln2\.(weight|bias)')
    if getattr(backbone, 'final_norm', False):
        fresh.append(r'ln1\.(weight|bias)')
    init_cfg = backbone.init_cfg
    prefix = ''
    for cfg in (init_cfg if isinstance(init_cfg, list) else [init_cfg]):
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            prefix = cfg.get('prefix') or ''
    if prefix and not prefix.endswith('.'):
        prefix += '.'  # as mmengine's loader reads it
    return BackboneLoadSpec(
        expected_fresh=fresh,
        transforms={r'pos_embed': resize_pos_embed_like},
        source_prefix=prefix)
