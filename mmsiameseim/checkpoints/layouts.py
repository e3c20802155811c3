"""Checkpoint key layouts: the official release, ours, and downstream ones
(docs/checkpoints.md §1). The regex rules are generated from the tables
below, so a wrong correspondence is corrected in one place.
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

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
#: ``BatchNorm1d`` as child ``bn``.
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


def _block_rules(
        src_group: str, dst_group: str,
        inner: Sequence[Tuple[str, str, Tuple[str, ...]]]) -> List[Rule]:
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

#: Encoder keys the ``mmseg`` and ``vitdet`` layouts (mmpretrain names, no
#: prefix) leave out, with the reason.
LAYOUT_DROPPED: Dict[str, Tuple[Tuple[str, str], ...]] = {
    'mmseg': ((r'^ln1\.', 'final norm of the pretraining encoder: mmseg\'s '
               'MAE recipe runs with final_norm=False (SiameseIM pretraining '
               'has no final norm)'), ),
    'vitdet': (
        (r'^cls_token$', 'ViTDet has no cls token'),
        (r'^ln1\.', 'final norm of the pretraining encoder (mmpretrain MAE '
         "has one, SiameseIM none): ViTDet feeds the last block's output "
         'to the simple feature pyramid'),
    ),
}

#: The layouts :func:`~.convert.convert_checkpoint` writes: the whole model
#: in our names, then the encoder layouts.
LAYOUTS: Tuple[str,
               ...] = ('mmsiameseim', 'mmpretrain', 'timm', 'mmseg', 'vitdet')
