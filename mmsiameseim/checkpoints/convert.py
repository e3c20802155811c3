"""Convert a checkpoint to a layout: the one conversion route.

:func:`convert_checkpoint` turns any checkpoint the package knows (ours,
mmpretrain models, the official release, bare backbones) into one of the
:data:`~.layouts.LAYOUTS`: the whole model in our names (``'mmsiameseim'``,
the official release converted with a report of every key), or the online
(or EMA) encoder alone in the names a downstream backbone loads
(``'mmpretrain'``, ``'timm'``, ``'mmseg'``, ``'vitdet'``). The tables it
applies are in :mod:`.layouts`; reading files is :mod:`.reading`'s job.
"""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import torch

from .layouts import (BACKBONE_PREFIXES, LAYOUTS, MMSEG_DROPPED,
                      MMPRETRAIN_TO_TIMM_BACKBONE_RULES, OFFICIAL_IGNORED,
                      OFFICIAL_TO_MMSIAMESEIM_RULES, STATE_DICT_ENTRIES,
                      VITDET_DROPPED, Rule, _SAME_NAME_RULES)

#: Keys each encoder layout leaves out on purpose, with the reason.
_LAYOUT_DROPPED = {'mmseg': MMSEG_DROPPED, 'vitdet': VITDET_DROPPED}


@dataclass
class ConversionReport:
    """What :func:`convert_checkpoint` made, and what it left out.

    Attributes:
        state_dict (OrderedDict): The converted state dict.
        source_layout (str): The input's layout (:func:`detect_layout`).
        unmapped (list[str]): Source keys no rule knows (dropped).
        dropped (dict[str, str]): Known keys left out on purpose (unused
            official keys, keys the target layout has no place for), with
            the reason.
        filled (dict[str, str]): Keys of ours absent from the source that
            were filled in, with the reason.
        renamed (dict[str, str]): Official key -> our key, for every mapped
            key of an official checkpoint.
    """
    state_dict: 'OrderedDict[str, torch.Tensor]'
    source_layout: str = ''
    unmapped: List[str] = field(default_factory=list)
    dropped: Dict[str, str] = field(default_factory=dict)
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


def _official_to_ours(sd: Mapping) -> ConversionReport:
    """Rename an official state dict into our layout (see
    :func:`convert_checkpoint`)."""
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
        source_layout='official',
        unmapped=unmapped,
        dropped=ignored,
        filled=filled,
        renamed=renamed)


def convert_checkpoint(checkpoint: Mapping,
                       layout: str = 'mmsiameseim',
                       source: str = 'online',
                       prefix: Optional[str] = None) -> ConversionReport:
    """Convert a loaded checkpoint to ``layout``.

    ``'mmsiameseim'``: the whole model in our names. An official release
    checkpoint is renamed by :data:`~.layouts.OFFICIAL_TO_MMSIAMESEIM_RULES`
    (unknown keys in ``unmapped``, known unused ones in ``dropped``); two
    entries without an official counterpart are filled in when it has a
    momentum branch: ``target_encoder.module.0.pos_embed`` (a copy of the
    fixed sin-cos table both branches share) and ``target_encoder.steps``
    = 1 (at 0 the first EMA update would overwrite the converted target
    with the online weights). Our checkpoints pass unchanged.

    The encoder layouts keep only the ``source`` encoder (docs/method.md
    §6: no projector, predictor, BN buffers or other branch):
    ``'mmpretrain'`` (``VisionTransformer`` names: ``patch_embed.
    projection``, ``layers.{i}.ln1``, ...), ``'timm'`` (``patch_embed.
    proj``, ``blocks.{i}.norm1``, ...: detectron2's ViTDet, MAE-style
    loaders), ``'mmseg'`` (what mmseg's ``MAE`` loads: mmpretrain names
    without a prefix and without a final norm) and ``'vitdet'`` (what
    ``WindowedViT`` loads: mmpretrain names without a prefix, cls token or
    final norm). Keys a layout leaves out are in ``dropped``.

    Args:
        checkpoint (Mapping): A loaded checkpoint or state dict (``model``
            / ``state_dict`` entries and ``module.`` prefixes are handled)
            of ours, of an mmpretrain model, of the official release, or a
            bare backbone.
        layout (str): One of :data:`~.layouts.LAYOUTS`. Defaults to
            ``'mmsiameseim'``.
        source (str): Encoder layouts: ``'online'`` (the encoder trained by
            gradient, the one to transfer) or ``'target'`` (its EMA copy).
            Defaults to ``'online'``.
        prefix (str, optional): Encoder layouts: prepended to every output
            key. Defaults to ``'backbone.'`` for ``'mmpretrain'`` (as
            ``init_cfg=dict(type='Pretrained', prefix='backbone.')`` reads
            it) and ``''`` for the others.

    Returns:
        ConversionReport: The converted state dict and what was dropped or
        filled in.

    Raises:
        ValueError: For an unknown ``layout`` / ``source``, a bare backbone
            asked for its target encoder, keys without a timm name, or a
            checkpoint without the requested encoder.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {list(LAYOUTS)}, '
                         f'got {layout!r}')
    if source not in BACKBONE_PREFIXES:
        raise ValueError(f"source must be one of {list(BACKBONE_PREFIXES)}, "
                         f'got {source!r}')
    sd = unwrap_state_dict(checkpoint)
    kind = detect_layout(sd)
    if kind == 'official':
        report = _official_to_ours(sd)
    else:
        report = ConversionReport(state_dict=sd, source_layout=kind)
    if layout == 'mmsiameseim':
        if kind == 'backbone':
            raise ValueError('a bare backbone state dict is not a whole '
                             "model; convert it to an encoder layout")
        return report
    sd = report.state_dict
    if kind == 'backbone':
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
    dropped = {}
    if layout in _SAME_NAME_RULES:
        reasons = [(re.compile(p), why) for p, why in _LAYOUT_DROPPED[layout]]
        out, _, gone = rename_keys(out, _SAME_NAME_RULES[layout])
        dropped = {k: next(w for p, w in reasons if p.match(k)) for k in gone}
    elif layout == 'timm':
        out, unmatched, _ = rename_keys(out, MMPRETRAIN_TO_TIMM_BACKBONE_RULES)
        if unmatched:
            raise ValueError('no timm name for backbone keys: ' +
                             ', '.join(unmatched))
    if prefix is None:
        prefix = 'backbone.' if layout == 'mmpretrain' else ''
    return ConversionReport(
        state_dict=OrderedDict((prefix + k, v) for k, v in out.items()),
        source_layout=kind,
        unmapped=report.unmapped,
        dropped=dropped)
