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
from ..utils.weight_check import (BackboneLoadSpec, register_load_spec,
                                  resize_pos_embed)


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
        transforms={r'pos_embed': resize_pos_embed},
        source_prefix=prefix)
