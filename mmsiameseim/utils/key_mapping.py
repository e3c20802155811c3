"""Checkpoint key mapping between the official SiameseIM release and ours.

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
wrong correspondence is corrected in one place.

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
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch


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

#: The layouts :func:`mmsiameseim_to_backbone` writes.
LAYOUTS: Tuple[str, ...] = ('mmpretrain', 'timm', 'mmseg', 'vitdet')

# Layouts that keep the mmpretrain names and only drop keys.
_SAME_NAME_RULES = {
    'mmseg': MMPRETRAIN_TO_MMSEG_BACKBONE_RULES,
    'vitdet': MMPRETRAIN_TO_VITDET_BACKBONE_RULES,
}

# --------------------------------------------------------------------------
# Functions
# --------------------------------------------------------------------------


@dataclass
class ConversionReport:
    """Result of :func:`convert_official_checkpoint`.

    Attributes:
        state_dict (OrderedDict): The converted state dict.
        unmapped (list[str]): Keys no rule knows (dropped, reported).
        ignored (dict[str, str]): Known keys deliberately dropped, with the
            reason.
        filled (dict[str, str]): Keys of ours absent from the source that
            were filled in, with the reason.
        renamed (dict[str, str]): Source key -> our key, for every mapped
            key.
    """
    state_dict: 'OrderedDict[str, torch.Tensor]'
    unmapped: List[str] = field(default_factory=list)
    ignored: Dict[str, str] = field(default_factory=dict)
    filled: Dict[str, str] = field(default_factory=dict)
    renamed: Dict[str, str] = field(default_factory=dict)


def unwrap_state_dict(checkpoint: Mapping) -> 'OrderedDict':
    """Get the state dict out of a loaded checkpoint file.

    Descends into ``state_dict`` (mmengine), ``model`` (the official
    release, MAE style) or ``module`` entries while they hold a mapping, and
    strips a leading ``module.`` (DDP) from the keys.

    Args:
        checkpoint (Mapping): What ``torch.load`` returned.

    Returns:
        OrderedDict: ``{key: value}`` without wrappers.

    Raises:
        TypeError: If ``checkpoint`` is not a mapping.
    """
    if not isinstance(checkpoint, Mapping):
        raise TypeError('expected a checkpoint dict, got '
                        f'{type(checkpoint).__name__}')
    sd = checkpoint
    descended = True
    while descended:
        descended = False
        for entry in STATE_DICT_ENTRIES:
            inner = sd.get(entry)
            if isinstance(inner, Mapping):
                sd, descended = inner, True
                break
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in sd.items())


def detect_layout(state_dict: Mapping) -> str:
    """Guess the layout of a state dict.

    Args:
        state_dict (Mapping): An unwrapped state dict.

    Returns:
        str: ``'official'`` (timm-style names of the release),
        ``'mmsiameseim'`` (``backbone.*`` / ``target_encoder.*``, i.e. our
        models and mmpretrain classifiers) or ``'backbone'`` (bare
        mmpretrain ``VisionTransformer`` names).

    Raises:
        ValueError: If the keys match none of these.
    """
    keys = list(state_dict)
    if any(k.startswith(('backbone.', 'target_encoder.')) for k in keys):
        return 'mmsiameseim'
    official = ('blocks.', 'mm_blocks.', 'patch_embed.proj.',
                'mm_patch_embed.proj.', 'projector_decoder_blocks.',
                'decoder_embed.')
    if any(k.startswith(official) for k in keys):
        return 'official'
    if any(k.startswith(('layers.', 'patch_embed.projection.')) for k in keys):
        return 'backbone'
    sample = ', '.join(keys[:5]) or '(no keys)'
    raise ValueError('unrecognised checkpoint layout: expected official '
                     'SiameseIM keys (blocks.*, mm_blocks.*, ...) or '
                     f'mmsiameseim keys (backbone.*, ...), got {sample}')


def _rename(state_dict: Mapping, rules: Sequence[Rule]) -> tuple:
    compiled = [(re.compile(p), r) for p, r in rules]
    out: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    origin: Dict[str, str] = {}
    unmatched, dropped = [], []
    for key, value in state_dict.items():
        for pattern, repl in compiled:
            if pattern.match(key):
                break
        else:
            unmatched.append(key)
            continue
        if repl is None:
            dropped.append(key)
            continue
        new_key = pattern.sub(repl, key)
        if new_key in out:
            raise ValueError(f'keys {origin[new_key]!r} and {key!r} both map '
                             f'to {new_key!r}')
        out[new_key] = value
        origin[new_key] = key
    return out, origin, unmatched, dropped


def rename_keys(
        state_dict: Mapping,
        rules: Sequence[Rule]) -> Tuple['OrderedDict', List[str], List[str]]:
    """Apply ``(regex, replacement)`` rules to every key (first match wins).

    Args:
        state_dict (Mapping): Source ``{key: tensor}``.
        rules (Sequence[tuple]): ``(pattern, replacement)`` pairs; a
            ``None`` replacement drops the key on purpose.

    Returns:
        tuple: The renamed ``OrderedDict``, the keys no rule matched and the
        keys dropped by a ``None`` rule.

    Raises:
        ValueError: If two source keys map to the same new key.
    """
    out, _, unmatched, dropped = _rename(state_dict, rules)
    return out, unmatched, dropped


def convert_official_checkpoint(checkpoint: Mapping) -> ConversionReport:
    """Convert an official SiameseIM checkpoint to our layout, with a report.

    Every key is renamed by :data:`OFFICIAL_TO_MMSIAMESEIM_RULES`; unknown
    keys are listed in ``unmapped`` and known unused ones in ``ignored``.
    Two entries of ours have no official counterpart and are filled in when
    the checkpoint has a momentum branch (``mm_*`` keys):

    * ``target_encoder.module.0.pos_embed`` (when there is no
      ``mm_pos_embed``): a copy of ``pos_embed``, the fixed sin-cos table
      both branches share (docs/method.md §3);
    * ``target_encoder.steps`` = 1: the update counter of mmengine's
      averaged model. At 0 the first EMA update would overwrite the
      converted target weights with the online ones.

    Args:
        checkpoint (Mapping): A loaded checkpoint or state dict (``model`` /
            ``state_dict`` entries and ``module.`` prefixes are handled).

    Returns:
        ConversionReport: The converted state dict and what was dropped or
        filled in.
    """
    sd = unwrap_state_dict(checkpoint)
    new, origin, unmapped, dropped = _rename(sd, OFFICIAL_TO_MMSIAMESEIM_RULES)
    reasons = [(re.compile(p), why) for p, why in OFFICIAL_IGNORED]
    ignored = {
        k: next(why for p, why in reasons if p.match(k))
        for k in dropped
    }
    renamed = {old: new_key for new_key, old in origin.items()}
    filled = {}
    target = BACKBONE_PREFIXES['target']
    if any(k.startswith('target_encoder.') for k in new):
        pos = target + 'pos_embed'
        if pos not in new and 'backbone.pos_embed' in new:
            new[pos] = new['backbone.pos_embed'].clone()
            filled[pos] = ('copy of pos_embed: the fixed sin-cos table is '
                           'shared by both branches')
        if 'target_encoder.steps' not in new:
            new['target_encoder.steps'] = torch.tensor(1, dtype=torch.long)
            filled['target_encoder.steps'] = (
                'EMA update counter set to 1 so that the first update '
                'averages into the converted target instead of resetting it')
    return ConversionReport(
        state_dict=new,
        unmapped=unmapped,
        ignored=ignored,
        filled=filled,
        renamed=renamed)


def official_to_mmsiameseim(
        state_dict: Mapping) -> Tuple['OrderedDict', List[str]]:
    """Convert official SiameseIM weights to the :class:`SiameseIM` layout.

    See :func:`convert_official_checkpoint` for the details (it also
    returns the ignored and filled-in keys).

    Args:
        state_dict (Mapping): Official state dict or whole checkpoint.

    Returns:
        tuple[OrderedDict, list[str]]: The converted state dict and the
        source keys that were not carried over because no rule knows them
        (known unused keys such as ``mm_mask_token`` are not listed).
    """
    report = convert_official_checkpoint(state_dict)
    return report.state_dict, report.unmapped


def mmsiameseim_to_backbone(state_dict: Mapping,
                            source: str = 'online',
                            prefix: Optional[str] = None,
                            layout: str = 'mmpretrain') -> 'OrderedDict':
    """Extract the ViT encoder weights for fine-tuning or transfer.

    Accepts our checkpoints (``backbone.*`` / ``target_encoder.*``; also any
    mmpretrain model with a ``backbone``), official release checkpoints
    (converted first) and bare backbone state dicts. Only the encoder is
    kept (docs/method.md §6): projector, predictor, BN buffers and the
    other branch are dropped.

    Args:
        state_dict (Mapping): State dict or whole checkpoint.
        source (str): ``'online'`` (the encoder trained by gradient, the
            one to transfer) or ``'target'`` (its EMA copy).
            Defaults to ``'online'``.
        prefix (str, optional): Prepended to every output key, e.g.
            ``'backbone.'`` for ``init_cfg=dict(type='Pretrained',
            prefix='backbone.')`` or ``''`` for a bare backbone / mmseg's
            ``pretrained=``. Defaults to ``'backbone.'`` for the
            ``'mmpretrain'`` layout and ``''`` for the others.
        layout (str): ``'mmpretrain'`` (``VisionTransformer`` names:
            ``patch_embed.projection``, ``layers.{i}.ln1``, ...),
            ``'timm'`` (``patch_embed.proj``, ``blocks.{i}.norm1``, ... as
            detectron2 ViTDet and MAE-style loaders expect), ``'mmseg'``
            (what mmseg's ``MAE`` backbone loads: the mmpretrain names
            without a prefix, and no final norm, see
            :data:`MMSEG_DROPPED`) or ``'vitdet'`` (what ``WindowedViT`` of
            ``mmsiameseim.downstream.vitdet`` loads: the mmpretrain names
            without a prefix, no cls token and no final norm, see
            :data:`VITDET_DROPPED`). Defaults to ``'mmpretrain'``.

    Returns:
        OrderedDict: The encoder weights: ``cls_token``, ``pos_embed``,
        ``patch_embed.*`` and the layers (a final norm ``ln1`` only if the
        source has one; SiameseIM pretraining has none).

    Raises:
        ValueError: For a bad ``source`` / ``layout``, a bare backbone asked
            for ``source='target'``, or when no encoder weights are found.
    """
    if source not in BACKBONE_PREFIXES:
        raise ValueError(f"source must be one of {list(BACKBONE_PREFIXES)}, "
                         f'got {source!r}')
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {list(LAYOUTS)}, '
                         f'got {layout!r}')
    if prefix is None:
        prefix = 'backbone.' if layout == 'mmpretrain' else ''
    sd = unwrap_state_dict(state_dict)
    kind = detect_layout(sd)
    if kind == 'official':
        sd = convert_official_checkpoint(sd).state_dict
    elif kind == 'backbone':
        if source != 'online':
            raise ValueError('a bare backbone state dict has no target '
                             "(EMA) encoder; use source='online'")
        sd = OrderedDict(('backbone.' + k, v) for k, v in sd.items())
    src = BACKBONE_PREFIXES[source]
    out = OrderedDict(
        (k[len(src):], v) for k, v in sd.items() if k.startswith(src))
    if not out:
        raise ValueError(f'no {source} encoder weights (keys starting with '
                         f'{src!r}) in this checkpoint')
    if layout in _SAME_NAME_RULES:
        out, _, _ = rename_keys(out, _SAME_NAME_RULES[layout])
    if layout == 'timm':
        out, unmatched, _ = rename_keys(out, MMPRETRAIN_TO_TIMM_BACKBONE_RULES)
        if unmatched:
            raise ValueError('no timm name for backbone keys: ' +
                             ', '.join(unmatched))
    return OrderedDict((prefix + k, v) for k, v in out.items())
