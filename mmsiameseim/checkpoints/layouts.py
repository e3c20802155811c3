"""Checkpoint key layouts: the official release, ours, and downstream ones.

Two layouts are involved (docs/method.md §3, docs/checkpoints.md):

* **official** (timm / MAE style, ``models_sim.py`` of the release):
  ``cls_token``, ``pos_embed``, ``patch_embed.proj.*``,
  ``blocks.{i}.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}.*``,
  projector ``decoder_embed.*`` + ``projector_decoder_blocks.{i}.*``,
  predictor ``predictor_decoder_blocks.{i}.*`` + ``decoder_pred.*``,
  ``decoder_pos_embed``, ``decoder_pos_mlp.*``, ``mask_token`` and the
  momentum copies prefixed ``mm_`` (``mm_blocks.*``, ``mm_patch_embed.*``,
  ``mm_cls_token``, ``mm_decoder_embed.*``,
  ``mm_projector_decoder_blocks.*``, ``mm_mask_token``), often inside a
  ``model`` entry of the file and possibly prefixed ``module.``.
* **ours** (:class:`SiameseIM`): ``backbone.*`` (mmpretrain
  ``VisionTransformer`` names: ``patch_embed.projection``,
  ``layers.{i}.{ln1,attn.qkv,attn.proj,ln2,ffn.layers.0.0,ffn.layers.1}``),
  ``neck.{proj,blocks.{i}}.*``, ``head.{mask_token,pos_embed,rel_pos_mlp,
  blocks.{i},out_proj}.*`` and the EMA copy ``target_encoder.module.0.*``
  (backbone) / ``target_encoder.module.1.*`` (projector) plus the
  ``target_encoder.steps`` counter of mmengine's averaged model.

The whole correspondence lives in the three tables below
(:data:`OFFICIAL_LEAF_MODULES`, :data:`OFFICIAL_BLOCK_GROUPS`,
:data:`TIMM_BLOCK_TO_MMPRETRAIN`) plus :data:`OFFICIAL_IGNORED`; the regex
rules :data:`OFFICIAL_TO_MMSIAMESEIM_RULES` are generated from them, so a
wrong correspondence is corrected in one place. The rules of the
downstream layouts (timm, mmseg, vitdet) follow; :mod:`.convert` applies
them.

qkv: timm's ``Attention`` and mmpretrain's ``MultiheadAttention`` both use
one ``Linear(C, 3C)`` whose output is reshaped to ``(B, N, 3, heads,
head_dim)``, i.e. rows ``[q; k; v]`` with heads contiguous inside each, so
``attn.qkv.{weight,bias}`` are copied unchanged (checked against
mmpretrain 1.2.0 and by a reference forward in the tests).

Norms of the projector / predictor blocks are BatchNorm in both layouts,
but named differently. The release wraps each ``BatchNorm1d`` in a small
module (it permutes ``(B, N, C)`` to ``(B, C, N)`` around the BN) that holds
it as a child named ``bn``, so the official names carry an extra ``.bn``:
``projector_decoder_blocks.{i}.norm1.bn.{weight,bias,running_mean,
running_var,num_batches_tracked}``, the same for ``norm2``, for
``predictor_decoder_blocks.{i}`` and for ``mm_projector_decoder_blocks.{i}``.
Ours is one ``TokenBN`` per norm with ``nn.BatchNorm1d``'s tensor names, at
``ln1`` / ``ln2`` of mmpretrain's layer. The LN ablation of those blocks
(``use_proj_ln`` / ``use_pred_ln`` upstream) has plain ``norm{1,2}.{weight,
bias}``; both forms are mapped (:data:`BN_BLOCK_NORMS`). A complete key
list of a release-layout checkpoint is checked into the tests
(``tests/data/official_siameseim_small_keys.txt``).
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple


# --------------------------------------------------------------------------
# Declarative tables: edit these to correct the mapping.
# --------------------------------------------------------------------------

#: Official single modules / parameters -> ours (module prefixes, no
#: trailing dot). A name maps the parameter itself and everything below it.
OFFICIAL_LEAF_MODULES: Tuple[Tuple[str, str], ...] = (
    # online encoder
    ('cls_token', 'backbone.cls_token'),
    ('pos_embed', 'backbone.pos_embed'),
    ('patch_embed.proj', 'backbone.patch_embed.projection'),
    # The pretraining model has no final encoder norm (docs/method.md §3); if a
    # checkpoint has one it is mmpretrain's final norm ``ln1``.
    ('norm', 'backbone.ln1'),
    # projector ("decoder_embed" + "projector_decoder_blocks" upstream)
    ('decoder_embed', 'neck.proj'),
    # predictor (docs/method.md §3)
    ('mask_token', 'head.mask_token'),
    ('decoder_pos_embed', 'head.pos_embed'),
    ('decoder_pos_mlp', 'head.rel_pos_mlp'),
    ('decoder_pred', 'head.out_proj'),
    # momentum (EMA) branch: backbone + projector copies
    ('mm_cls_token', 'target_encoder.module.0.cls_token'),
    ('mm_pos_embed', 'target_encoder.module.0.pos_embed'),
    ('mm_patch_embed.proj', 'target_encoder.module.0.patch_embed.projection'),
    ('mm_norm', 'target_encoder.module.0.ln1'),
    ('mm_decoder_embed', 'target_encoder.module.1.proj'),
)

#: Official transformer-block lists -> ours (the block index is kept), and
#: whether the block's norms are BatchNorm (projector / predictor) or
#: LayerNorm (encoder).
OFFICIAL_BLOCK_GROUPS: Tuple[Tuple[str, str, bool], ...] = (
    ('blocks', 'backbone.layers', False),
    ('projector_decoder_blocks', 'neck.blocks', True),
    ('predictor_decoder_blocks', 'head.blocks', True),
    ('mm_blocks', 'target_encoder.module.0.layers', False),
    ('mm_projector_decoder_blocks', 'target_encoder.module.1.blocks', True),
)

#: Tensor names of a Linear or LayerNorm, and of a BatchNorm (with buffers).
WEIGHT_BIAS = ('weight', 'bias')
BN_TENSORS = ('weight', 'bias', 'running_mean', 'running_var',
              'num_batches_tracked')

#: Inside one block: timm ``Block`` -> mmpretrain ``TransformerEncoderLayer``
#: (the same renaming as mmseg's ``beit2mmseg``), with the
#: tensor names each module may hold.
TIMM_BLOCK_TO_MMPRETRAIN: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ('norm1', 'ln1', WEIGHT_BIAS),
    ('attn.qkv', 'attn.qkv', WEIGHT_BIAS),
    ('attn.proj', 'attn.proj', WEIGHT_BIAS),
    ('norm2', 'ln2', WEIGHT_BIAS),
    ('mlp.fc1', 'ffn.layers.0.0', WEIGHT_BIAS),
    ('mlp.fc2', 'ffn.layers.1', WEIGHT_BIAS),
)

#: Extra rules of BatchNorm blocks: the release's BN wrapper holds the
#: ``BatchNorm1d`` as child ``bn`` (see the module docstring).
BN_BLOCK_NORMS: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ('norm1.bn', 'ln1', BN_TENSORS),
    ('norm2.bn', 'ln2', BN_TENSORS),
)

#: Official keys that are known and deliberately not carried over, with the
#: reason. They are reported separately from unknown (unmapped) keys.
OFFICIAL_IGNORED: Tuple[Tuple[str, str], ...] = (
    (r'^mm_mask_token$',
     'EMA copy of the mask token: the target branch never uses it and our '
     'target encoder has none'), )

#: Our prefixes of the two encoders, by ``source``.
BACKBONE_PREFIXES: Dict[str, str] = {
    'online': 'backbone.',
    'target': 'target_encoder.module.0.',
}

#: Container entries that hold the state dict inside a checkpoint file.
STATE_DICT_ENTRIES: Tuple[str, ...] = ('state_dict', 'model', 'module')

Rule = Tuple[str, Optional[str]]


def _leaf_rule(src: str, dst: str) -> Rule:
    return rf'^{re.escape(src)}((?:\.\w+)*)$', dst + r'\1'


def _block_rules(src_group: str, dst_group: str,
                 inner: Sequence[Tuple[str, str, Tuple[str, ...]]]
                 ) -> List[Rule]:
    rules = []
    for a, b, tensors in inner:
        names = '|'.join(tensors)
        rules.append(
            (rf'^{re.escape(src_group)}\.(\d+)\.{re.escape(a)}\.({names})$',
             rf'{dst_group}.\1.{b}.\2'))
    return rules


def _build_official_rules() -> Tuple[Rule, ...]:
    rules: List[Rule] = []
    for src, dst, batch_norm in OFFICIAL_BLOCK_GROUPS:
        inner = TIMM_BLOCK_TO_MMPRETRAIN
        if batch_norm:
            inner = BN_BLOCK_NORMS + inner
        rules += _block_rules(src, dst, inner)
    rules += [_leaf_rule(src, dst) for src, dst in OFFICIAL_LEAF_MODULES]
    rules += [(pattern, None) for pattern, _ in OFFICIAL_IGNORED]
    return tuple(rules)


#: ``(regex, replacement)`` rules, official -> ours, first match wins; a
#: ``None`` replacement drops a known key (see :data:`OFFICIAL_IGNORED`).
OFFICIAL_TO_MMSIAMESEIM_RULES: Tuple[Rule, ...] = _build_official_rules()


def _backbone_timm_rules() -> Tuple[Rule, ...]:
    """mmpretrain ``VisionTransformer`` names -> timm names (no prefix)."""
    rules: List[Rule] = _block_rules('layers', 'blocks',
                                     [(b, a, t)
                                      for a, b, t in TIMM_BLOCK_TO_MMPRETRAIN])
    online = BACKBONE_PREFIXES['online']
    for src, dst in OFFICIAL_LEAF_MODULES:
        if dst.startswith(online):
            rules.append(_leaf_rule(dst[len(online):], src))
    return tuple(rules)


#: ``(regex, replacement)`` rules, mmpretrain backbone -> timm backbone
#: (``layers.i.ln1`` -> ``blocks.i.norm1``, ...), for detectron2 / ViTDet.
MMPRETRAIN_TO_TIMM_BACKBONE_RULES: Tuple[Rule, ...] = _backbone_timm_rules()

#: Encoder keys the ``mmseg`` layout leaves out, with the reason. mmseg's
#: ``MAE`` recipe (and so the paper's ADE20k setting) runs with
#: ``final_norm=False``; a final norm in the file (mmpretrain's MAE has one,
#: SiameseIM has none) would be dropped by its ``strict=False`` load anyway.
MMSEG_DROPPED: Tuple[Tuple[str, str], ...] = ((
    r'^ln1\.', 'final norm of the pretraining encoder: mmseg\'s MAE recipe '
    'runs with final_norm=False (SiameseIM pretraining has no final norm)'),
)

#: ``(regex, replacement)`` rules, mmpretrain backbone -> mmseg ``MAE``:
#: the same names (``None`` drops :data:`MMSEG_DROPPED`).
MMPRETRAIN_TO_MMSEG_BACKBONE_RULES: Tuple[Rule, ...] = tuple(
    (pattern, None) for pattern, _ in MMSEG_DROPPED) + ((r'^(.*)$', r'\1'), )

#: Encoder keys the ``vitdet`` layout leaves out, with the reason: ViTDet's
#: backbone (``WindowedViT`` of ``mmsiameseim.downstream.vitdet``) has
#: neither. ``pos_embed`` keeps its cls row; the backbone drops it at load.
VITDET_DROPPED: Tuple[Tuple[str, str], ...] = (
    (r'^cls_token$', 'ViTDet has no cls token'),
    (r'^ln1\.', 'final norm of the pretraining encoder (mmpretrain MAE has '
     "one, SiameseIM none): ViTDet feeds the last block's output to the "
     'simple feature pyramid'),
)

#: ``(regex, replacement)`` rules, mmpretrain backbone -> ``WindowedViT``:
#: the same names (``None`` drops :data:`VITDET_DROPPED`).
MMPRETRAIN_TO_VITDET_BACKBONE_RULES: Tuple[Rule, ...] = tuple(
    (pattern, None) for pattern, _ in VITDET_DROPPED) + ((r'^(.*)$', r'\1'), )

#: The layouts :func:`~.convert.convert_checkpoint` writes: the whole model
#: in our names, then the encoder layouts.
LAYOUTS: Tuple[str, ...] = ('mmsiameseim', 'mmpretrain', 'timm', 'mmseg',
                            'vitdet')

# Layouts that keep the mmpretrain names and only drop keys.
_SAME_NAME_RULES = {
    'mmseg': MMPRETRAIN_TO_MMSEG_BACKBONE_RULES,
    'vitdet': MMPRETRAIN_TO_VITDET_BACKBONE_RULES,
}
