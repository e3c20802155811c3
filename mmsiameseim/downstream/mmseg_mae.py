"""mmseg's ``MAE`` backbone: what loading an encoder file into it means.

mmseg's ``MAE`` (``mmseg/models/backbones/mae.py``, a BEiT subclass) is the
backbone of mmseg's MAE UPerNet recipe, which the SiameseIM paper's ADE20k
number follows. Its ``init_weights`` reads ``pretrained=`` (or
``init_cfg=dict(type='Pretrained', checkpoint=...)``), resizes ``pos_embed``
bicubically to its own grid, and calls ``load_state_dict(..., strict=False)``
without looking at the result; ``init_cfg``'s ``prefix`` is ignored. Only
bare mmpretrain ``VisionTransformer`` names load (``cls_token``,
``pos_embed``, ``patch_embed.projection.*``, ``layers.{i}.{ln1, attn.qkv,
attn.proj, ln2, ffn.layers.0.0, ffn.layers.1}.*``): the ``mmseg`` layout of
``tools/model_converters/siameseim_to_backbone.py``. Its attention keeps
one ``attn.qkv.bias`` (``MAE`` builds its layers with ``bias=True``, unlike
``BEiT``'s separate ``q_bias`` / ``v_bias``), the same tensor as ours.

Importing this module registers :func:`mae_load_spec` for the class name
``MAE``, which :func:`~mmsiameseim.checkpoints.check_backbone_load`,
:class:`~mmsiameseim.engine.hooks.PretrainedLoadCheckHook` and
``tools/analysis/check_pretrained_load.py`` use. The configs under
``configs/siameseim/benchmarks/mmseg/`` import it through
``custom_imports``.
"""
from typing import Mapping, Tuple

import torch
from mmseg.models.backbones import MAE

from ..checkpoints import (BackboneLoadSpec, WeightCheckReport,
                           check_loaded_weights, register_load_spec,
                           resize_pos_embed)

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
    """The load spec of an mmseg ``MAE`` backbone.

    Args:
        backbone (nn.Module): The built backbone.

    Returns:
        BackboneLoadSpec: Fresh keys :data:`MAE_FRESH_PER_LAYER` (plus the
        final norm when ``final_norm=True``), ``pos_embed`` compared after
        :func:`~mmsiameseim.checkpoints.resize_pos_embed`, bare
        source keys.
    """
    fresh = list(MAE_FRESH_PER_LAYER)
    if getattr(backbone, 'final_norm', False):
        fresh += list(MAE_FINAL_NORM)
    return BackboneLoadSpec(
        expected_fresh=fresh,
        transforms={'pos_embed': resize_pos_embed},
        source_prefix='')


def infer_mae_arch(encoder: Mapping[str, torch.Tensor]) -> dict:
    """``MAE`` arguments matching a bare-key encoder at its own image size.

    Widths, depth, MLP ratio, patch size, input channels and the image size
    (grid of ``pos_embed`` x patch) come from the tensors. The number of
    heads changes no key and no loaded shape (only the fresh relative
    position tables), so 1 head is used.

    Args:
        encoder (Mapping): Bare encoder keys (``cls_token``, ``pos_embed``,
            ``patch_embed.projection.weight``, ``layers.{i}.*``).

    Returns:
        dict: Keyword arguments of ``MAE``.

    Raises:
        ValueError: If a tensor needed to size the backbone is missing.
    """
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


def compare_with_mae(
        encoder: Mapping[str, torch.Tensor]) -> WeightCheckReport:
    """Load an encoder file into an mmseg ``MAE`` of its size, and check it.

    Builds the backbone at the file's own size (:func:`infer_mae_arch`),
    loads every file tensor whose name and shape it has (what its
    ``strict=False`` load keeps) and compares, as
    :class:`~mmsiameseim.engine.PretrainedLoadCheckHook` does after a real
    run's ``init_weights()``.

    Args:
        encoder (Mapping): Bare encoder keys.

    Returns:
        WeightCheckReport: Equal, unloadable (``not_in_model``), mis-shaped
        and fresh keys; ``arch`` holds the inferred ``MAE`` arguments.
    """
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
    spec = mae_load_spec(backbone)
    report = check_loaded_weights(
        backbone.state_dict(),
        encoder,
        expected_fresh=spec.expected_fresh,
        transforms=spec.transforms)
    report.arch = arch
    return report
