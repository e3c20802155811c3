"""mmseg's ``MAE`` backbone: what loading an encoder file into it means
(the ``mmseg`` layout, docs/checkpoints.md); importing this module
registers :func:`mae_load_spec` for the class name ``MAE``."""
from typing import Mapping, Tuple

import torch
from mmseg.models.backbones import MAE

from ..checkpoints import (BackboneLoadSpec, WeightCheckReport,
                           register_load_spec, resize_pos_embed)

#: Keys of mmseg's ``MAE`` that no encoder file sets: BEiT-style layer scale
#: (``init_values``), relative position bias tables (zero-initialised by
#: ``MAEAttention``) and their index buffers. 4 per layer (48 for ViT-B).
MAE_FRESH_PER_LAYER: Tuple[str, ...] = (
    r'layers\.\d+\.gamma_1',
    r'layers\.\d+\.gamma_2',
    r'layers\.\d+\.attn\.relative_position_bias_table',
    r'layers\.\d+\.attn\.relative_position_index',
)
#: The final norm of ``MAE(final_norm=True)`` (named ``ln1``, as
#: mmpretrain's); SiameseIM pretraining has none, so it starts fresh.
MAE_FINAL_NORM: Tuple[str, ...] = (r'ln1\.weight', r'ln1\.bias')


@register_load_spec('MAE')
def mae_load_spec(backbone: torch.nn.Module) -> BackboneLoadSpec:
    """The load spec of an mmseg ``MAE``: fresh layer-scale and relative
    tables (and a final norm), ``pos_embed`` resized, bare keys."""
    fresh = list(MAE_FRESH_PER_LAYER)
    if getattr(backbone, 'final_norm', False):
        fresh += list(MAE_FINAL_NORM)
    return BackboneLoadSpec(
        expected_fresh=fresh,
        transforms={'pos_embed': resize_pos_embed},
        source_prefix='')


def infer_mae_arch(encoder: Mapping[str, torch.Tensor]) -> dict:
    """``MAE`` arguments matching a bare-key encoder at its own image size
    (1 head: it changes no shape); a ``ValueError`` for a missing tensor."""
    needed = ('cls_token', 'pos_embed', 'patch_embed.projection.weight',
              'layers.0.ffn.layers.0.0.weight')
    absent = [k for k in needed if k not in encoder]
    if absent:
        raise ValueError('cannot size an mmseg MAE backbone: the encoder has '
                         'no ' + ', '.join(absent))
    embed_dims = encoder['cls_token'].shape[-1]
    proj = encoder['patch_embed.projection.weight']
    patch = proj.shape[-1]
    grid = int(round((encoder['pos_embed'].shape[1] - 1)**0.5))
    layers = {int(k.split('.')[1]) for k in encoder if k.startswith('layers.')}
    hidden = encoder['layers.0.ffn.layers.0.0.weight'].shape[0]
    return dict(
        img_size=grid * patch,
        patch_size=patch,
        in_channels=proj.shape[1],
        embed_dims=embed_dims,
        num_layers=max(layers) + 1,
        num_heads=1,
        mlp_ratio=hidden // embed_dims,
        final_norm='ln1.weight' in encoder,
        init_values=1.0)


def compare_with_mae(encoder: Mapping[str, torch.Tensor]) -> WeightCheckReport:
    """Load bare encoder keys into an mmseg ``MAE`` of their size as its
    ``strict=False`` load does, and check as ``PretrainedLoadCheckHook``
    (``report.arch``: the arguments)."""
    arch = infer_mae_arch(encoder)
    backbone = MAE(**arch)
    own = backbone.state_dict()
    backbone.load_state_dict(
        {
            k: v
            for k, v in encoder.items()
            if k in own and tuple(v.shape) == tuple(own[k].shape)
        },
        strict=False)
    report = mae_load_spec(backbone).check(backbone, encoder)
    report.arch = arch
    return report
