"""Check that pretrained weights really arrived in a built model (mmengine,
mmseg and mmdet load with ``strict=False`` and report mismatches at INFO or
not at all)."""
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Sequence, Tuple

import torch
from mmpretrain.models.utils import resize_pos_embed as _resize_table

#: ``{regex: fn(source_tensor, model_tensor) -> expected model tensor}``.
Transforms = Mapping[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]


@dataclass
class WeightCheckReport:
    """What :func:`check_loaded_weights` found.

    Attributes:
        equal (list[str]): Source keys the model holds unchanged (or as a
            documented transform says); ``transformed`` the latter.
        mismatched (dict[str, float]): Keys whose values differ, with the
            largest absolute difference.
        shape_mismatch (dict[str, tuple]): ``{key: (source, model) shape}``.
        not_in_model (list[str]): Source keys the model does not have.
        fresh (list[str]): Model keys not in the source that an expected
            pattern explains; ``unexpected_fresh`` the others.
        arch (dict): Arguments of a model built for the comparison.
    """
    equal: List[str] = field(default_factory=list)
    transformed: List[str] = field(default_factory=list)
    mismatched: Dict[str, float] = field(default_factory=dict)
    shape_mismatch: Dict[str, Tuple[tuple,
                                    tuple]] = field(default_factory=dict)
    not_in_model: List[str] = field(default_factory=list)
    fresh: List[str] = field(default_factory=list)
    unexpected_fresh: List[str] = field(default_factory=list)
    arch: Dict[str, object] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Every source tensor arrived and only expected keys are fresh."""
        return not (self.mismatched or self.shape_mismatch or self.not_in_model
                    or self.unexpected_fresh)

    def summary(self) -> str:
        """A multi-line, human-readable account."""
        lines = [
            f'{len(self.equal)} source tensors equal in the model '
            f'({len(self.transformed)} after a documented transform: '
            f'{", ".join(self.transformed) or "none"}); '
            f'{len(self.fresh)} model tensors start fresh as expected'
        ]
        for key, diff in self.mismatched.items():
            lines.append(f'  DIFFERENT  {key} (max |diff| {diff:.3g})')
        for key, (src, dst) in self.shape_mismatch.items():
            lines.append(f'  SHAPE      {key}: source {src}, model {dst}')
        for key in self.not_in_model:
            lines.append(f'  NOT LOADED {key} (no such tensor in the model)')
        for key in self.unexpected_fresh:
            lines.append(f'  FRESH      {key} (not in the source and not '
                         'in the documented fresh set)')
        lines.append('OK' if self.ok else 'FAILED: the pretrained weights '
                     'did not arrive as documented')
        return '\n'.join(lines)

    def raise_if_failed(self, what: str = 'pretrained weights') -> None:
        """Raise ``RuntimeError`` with :meth:`summary` unless :attr:`ok`."""
        if not self.ok:
            raise RuntimeError(f'{what}: the load check failed\n' +
                               self.summary())


def check_loaded_weights(model_state: Mapping[str, torch.Tensor],
                         source: Mapping[str, torch.Tensor],
                         expected_fresh: Sequence[str] = (),
                         transforms: Transforms = None,
                         atol: float = 0.) -> WeightCheckReport:
    """Compare a model's tensors with the source it was initialised from.

    Args:
        model_state (Mapping): The model's (or a part's) state dict after
            ``init_weights()``, in the source's key names.
        source (Mapping): The tensors the model was meant to load.
        expected_fresh (Sequence[str]): Regexes (``re.fullmatch``) of the
            model keys no source tensor sets by design.
        transforms (Mapping, optional): ``{regex: fn}``: matching keys must
            hold ``fn(source_tensor, model_tensor)``.
        atol (float): Tolerance (at least 1e-5 for transformed tensors).

    Returns:
        WeightCheckReport: The comparison.
    """
    transforms = dict(transforms or {})
    fresh_patterns = [re.compile(p) for p in expected_fresh]
    report = WeightCheckReport()
    for key, src in source.items():
        if key not in model_state:
            report.not_in_model.append(key)
            continue
        dst = model_state[key]
        fn = next((f for p, f in transforms.items() if re.fullmatch(p, key)),
                  None)
        expected = src if fn is None else fn(src, dst)
        if tuple(expected.shape) != tuple(dst.shape):
            report.shape_mismatch[key] = (tuple(src.shape), tuple(dst.shape))
            continue
        tol = atol if fn is None else max(atol, 1e-5)
        diff = (dst.detach().cpu().double() -
                expected.detach().cpu().double()).abs()
        worst = float(diff.max()) if diff.numel() else 0.
        if worst > tol:
            report.mismatched[key] = worst
            continue
        report.equal.append(key)
        if fn is not None:
            report.transformed.append(key)
    for key in model_state:
        if key in source:
            continue
        if any(p.fullmatch(key) for p in fresh_patterns):
            report.fresh.append(key)
        else:
            report.unexpected_fresh.append(key)
    return report


def resize_pos_embed(source: torch.Tensor,
                     target: torch.Tensor) -> torch.Tensor:
    """The ``(1, 1 + s*s, C)`` table ``source`` on ``target``'s
    ``(1, 1 + t*t, C)`` grid as mmpretrain's ViT and mmseg's ``MAE`` load
    it (mmpretrain's bicubic ``resize_pos_embed``, cls row kept)."""
    n_src, n_dst = source.shape[1] - 1, target.shape[1] - 1
    s, t = int(round(n_src**0.5)), int(round(n_dst**0.5))
    if s * s != n_src or t * t != n_dst:
        raise ValueError(f'pos_embed of shapes {tuple(source.shape)} -> '
                         f'{tuple(target.shape)} is not 1 + square grid')
    return _resize_table(source, (s, s), (t, t))


def refuse_other_shapes(path: str,
                        source: Mapping[str, torch.Tensor],
                        own: Mapping[str, torch.Tensor],
                        what: str = 'model',
                        skip: str = r'^$') -> None:
    """A ``ValueError`` (one line naming ``path`` and two tensors) if tensors
    of ``source`` have other shapes than the model's ``own`` ones (but keys
    matching ``skip``, which the load resizes): torch would raise a wall of
    "size mismatch" lines, mmengine's non-strict load would go on."""
    wrong = [
        f'{k}: file {tuple(v.shape)}, {what} {tuple(own[k].shape)}'
        for k, v in source.items() if k in own and hasattr(v, 'shape')
        and tuple(v.shape) != tuple(own[k].shape) and not re.search(skip, k)
    ]
    if wrong:
        raise ValueError(
            f'{path}: {len(wrong)} tensors do not fit the {what} (e.g. '
            f'{"; ".join(wrong[:2])}): a checkpoint of another model or '
            'size?')
