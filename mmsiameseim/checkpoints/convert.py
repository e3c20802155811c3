"""Convert a checkpoint to a layout: the one conversion route
(:func:`convert_checkpoint`, the tables of :mod:`.layouts`;
docs/checkpoints.md)."""
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import torch

from ..arg_checks import check_choice
from .layouts import (BACKBONE_PREFIXES, LAYOUT_DROPPED, LAYOUTS,
                      MMPRETRAIN_TO_TIMM_BACKBONE_RULES, OFFICIAL_IGNORED,
                      OFFICIAL_TO_MMSIAMESEIM_RULES, STATE_DICT_ENTRIES, Rule)


@dataclass
class ConversionReport:
    """What :func:`convert_checkpoint` made, and what it left out.

    Attributes:
        state_dict (OrderedDict): The converted state dict.
        source_layout (str): The input's layout (:func:`detect_layout`).
        unmapped (list[str]): Source keys no rule knows (dropped).
        dropped (dict[str, str]): Keys left out on purpose, with the reason.
        filled (dict[str, str]): Keys filled in, with the reason.
        renamed (dict[str, str]): Official key -> our key.
    """
    state_dict: 'OrderedDict[str, torch.Tensor]'
    source_layout: str = ''
    unmapped: List[str] = field(default_factory=list)
    dropped: Dict[str, str] = field(default_factory=dict)
    filled: Dict[str, str] = field(default_factory=dict)
    renamed: Dict[str, str] = field(default_factory=dict)


def unwrap_state_dict(checkpoint: Mapping) -> 'OrderedDict':
    """The state dict of a loaded checkpoint: inside ``state_dict``
    (mmengine), ``model`` (the release) or ``module`` entries, without a
    leading ``module.`` (DDP); a ``TypeError`` for a non-mapping."""
    if not isinstance(checkpoint, Mapping):
        raise TypeError('expected a checkpoint dict, got '
                        f'{type(checkpoint).__name__}')
    for entry in STATE_DICT_ENTRIES:
        if isinstance(checkpoint.get(entry), Mapping):
            return unwrap_state_dict(checkpoint[entry])
    return OrderedDict(
        (k[len('module.'):] if k.startswith('module.') else k, v)
        for k, v in checkpoint.items())


def detect_layout(state_dict: Mapping) -> str:
    """``'official'`` (the release's names), ``'mmsiameseim'`` (ours,
    mmpretrain classifiers) or ``'backbone'`` (bare ViT names): the layout
    of an unwrapped state dict; a ``ValueError`` for none of these."""
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


def rename_keys(state_dict: Mapping, rules: Sequence[Rule]) -> Tuple:
    """Apply ``(regex, replacement)`` rules to every key (first match wins;
    ``None`` drops the key): the renamed ``OrderedDict``, the unmatched and
    dropped keys, ``{new key: source key}``; a ``ValueError`` if two keys
    map to one."""
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
    return out, unmatched, dropped, origin


def _reasons(keys: Iterable[str], table) -> Dict[str, str]:
    """``{key: reason}`` of the keys a ``(regex, reason)`` table names."""
    compiled = [(re.compile(p), why) for p, why in table]
    found = {}
    for key in keys:
        why = next((w for p, w in compiled if p.match(key)), None)
        if why is not None:
            found[key] = why
    return found


def _official_to_ours(sd: Mapping) -> ConversionReport:
    """Rename an official state dict into our layout, filling in the two
    entries without an official counterpart (:func:`convert_checkpoint`)."""
    new, unmapped, dropped, origin = rename_keys(
        sd, OFFICIAL_TO_MMSIAMESEIM_RULES)
    filled = {}
    renamed = {old: key for key, old in origin.items()}
    if any(k.startswith('target_encoder.') for k in new):
        pos = BACKBONE_PREFIXES['target'] + 'pos_embed'
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
        dropped=_reasons(dropped, OFFICIAL_IGNORED),
        filled=filled,
        renamed=renamed)


def convert_checkpoint(checkpoint: Mapping,
                       layout: str = 'mmsiameseim',
                       source: str = 'online',
                       prefix: Optional[str] = None) -> ConversionReport:
    """Convert a loaded checkpoint to ``layout`` (the layouts:
    docs/checkpoints.md).

    Args:
        checkpoint (Mapping): A loaded checkpoint or state dict (ours,
            mmpretrain's, the release's, or a bare backbone).
        layout (str): One of :data:`~.layouts.LAYOUTS`. Defaults to
            ``'mmsiameseim'`` (the whole model).
        source (str): ``'online'`` (the encoder to transfer) or ``'target'``
            (its EMA copy) for the encoder layouts. Defaults to ``'online'``.
        prefix (str, optional): Prepended to every encoder key. Defaults to
            ``'backbone.'`` for ``'mmpretrain'``, else ``''``.

    Returns:
        ConversionReport: The state dict and what was dropped or filled in.

    Raises:
        ValueError: For an unknown layout or source, a request the input
            cannot serve, or keys without a timm name.
    """
    check_choice(layout, 'layout', LAYOUTS)
    check_choice(source, 'source', tuple(BACKBONE_PREFIXES))
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
    dropped = _reasons(out, LAYOUT_DROPPED.get(layout, ()))
    out = OrderedDict((k, v) for k, v in out.items() if k not in dropped)
    if layout == 'timm':
        out, unmatched, _, _ = rename_keys(out,
                                           MMPRETRAIN_TO_TIMM_BACKBONE_RULES)
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
