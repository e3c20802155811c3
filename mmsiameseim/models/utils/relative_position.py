"""Relative geometry of SiameseIM's two views and its sin-cos code
(docs/method.md §1, §3): :class:`RelPos` owns the record's layout."""
from typing import NamedTuple, Tuple, Union

import numpy as np
import torch

from ...arg_checks import check_int

#: (flip, (top, left, height, width)): one view's crop, its box in the
#: view's own (flipped or not) frame.
ViewBox = Tuple[bool, Tuple[int, int, int, int]]


class RelPos(NamedTuple):
    """View 2's geometry relative to view 1: ``(di, dj, dh, dw, rflip,
    dj_flip)``, the fields of docs/method.md §1, stored as a float32
    ``(6,)`` row (``results['rel_pos']``) or a ``(B, 6)`` batch."""
    di: Union[float, torch.Tensor]
    dj: Union[float, torch.Tensor]
    dh: Union[float, torch.Tensor]
    dw: Union[float, torch.Tensor]
    rflip: Union[float, torch.Tensor]
    dj_flip: Union[float, torch.Tensor]

    @classmethod
    def from_boxes(cls, view1: ViewBox, view2: ViewBox,
                   width: int) -> 'RelPos':
        """The geometry (Python floats) of two crops ``(flip, (i, j, h, w))``
        of an image ``width`` pixels wide."""
        flip1, (i1, j1, h1, w1) = view1
        flip2, (i2, j2, h2, w2) = view2
        return cls((i2 - i1) / h1, (j2 - j1) / w1, h2 / h1, w2 / w1,
                   float(bool(flip1) != bool(flip2)), (width - j1 - j2) / w1)

    def to_array(self) -> np.ndarray:
        """The float32 ``(6,)`` record a pipeline stores."""
        return np.array(self, dtype=np.float32)

    @classmethod
    def unpack(cls, rel_pos: torch.Tensor, name: str = 'RelPos') -> 'RelPos':
        """Six ``(B,)`` column views of a ``(B, 6)`` batch of records; a
        ``TypeError`` / ``ValueError`` starting with ``name`` otherwise."""
        if not isinstance(rel_pos, torch.Tensor):
            raise TypeError(f'{name}: `rel_pos` must be a Tensor, got '
                            f'{type(rel_pos).__name__}')
        if rel_pos.dim() != 2 or rel_pos.shape[1] != len(cls._fields):
            raise ValueError(f'{name}: `rel_pos` must have shape (B, '
                             f'{len(cls._fields)}) with columns '
                             f'{cls._fields}, got {tuple(rel_pos.shape)}')
        return cls(*rel_pos.unbind(1))


def relative_patch_coords(rel_pos: torch.Tensor,
                          grid_size: int) -> torch.Tensor:
    """``(B, g * g, 2)`` (y, x) of the view-2 patch centres in view-1 patch
    units (docs/method.md §1) from ``(B, 6)`` records, detached (float64
    for float64 input, else float32)."""
    check_int(grid_size, 'relative_patch_coords: `grid_size`')
    RelPos.unpack(rel_pos, 'relative_patch_coords')  # checks the shape
    dtype = torch.float64 if rel_pos.dtype == torch.float64 else \
        torch.float32
    rel = RelPos(*(t[:, None] for t in rel_pos.detach().to(dtype).unbind(1)))
    centre = torch.arange(
        grid_size, dtype=dtype, device=rel.di.device)[None] + 0.5
    y = grid_size * rel.di + rel.dh * centre - 0.5
    x_plain = grid_size * rel.dj + rel.dw * centre - 0.5
    x_flip = grid_size * rel.dj_flip - rel.dw * centre - 0.5
    x = torch.where(rel.rflip > 0.5, x_flip, x_plain)
    batch = y.shape[0]
    yy = y[:, :, None].expand(batch, grid_size, grid_size)
    xx = x[:, None, :].expand(batch, grid_size, grid_size)
    return torch.stack([yy, xx], dim=-1).reshape(batch, grid_size**2, 2)


def sincos_1d(pos: torch.Tensor,
              num_freqs: int,
              temperature: float = 10000.) -> torch.Tensor:
    """``[sin(pos ω), cos(pos ω)]``, ``ω_k = temperature ** (-k /
    num_freqs)``: ``(..., 2 * num_freqs)`` in ``pos``'s dtype (float32 for
    integers), computed like mmpretrain's absolute table."""
    check_int(num_freqs, 'sincos_1d: `num_freqs`')
    if not pos.is_floating_point():
        pos = pos.float()
    omega = torch.arange(
        num_freqs, dtype=pos.dtype, device=pos.device) / num_freqs
    omega = 1. / (temperature**omega)
    angles = pos[..., None] * omega
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def relative_sincos_embedding(rel_pos: torch.Tensor, grid_size: int,
                              embed_dims: int) -> torch.Tensor:
    """Relative sin-cos code ``(B, g * g, 2 * D)`` of the view-2 patches:
    ``sincos_1d`` of ``y``, ``x``, ``10 ln dh`` and ``10 ln dw`` with ``D /
    4`` frequencies each (docs/method.md §3); float32, detached."""
    check_int(embed_dims, 'relative_sincos_embedding: `embed_dims`')
    if embed_dims % 4 != 0:
        raise ValueError('relative_sincos_embedding: `embed_dims` must be '
                         f'divisible by 4, got {embed_dims}')
    num_freqs = embed_dims // 4
    RelPos.unpack(rel_pos, 'relative_sincos_embedding')  # checks the shape
    rel = rel_pos.detach().float()
    geo = RelPos.unpack(rel)
    y_x = relative_patch_coords(rel, grid_size).unbind(-1)
    scales = (10. * torch.log(geo.dh), 10. * torch.log(geo.dw))  # s_h, s_w
    codes = [sincos_1d(c, num_freqs) for c in y_x] + [
        sincos_1d(s, num_freqs)[:, None].expand(-1, grid_size**2, -1)
        for s in scales
    ]
    return torch.cat(codes, dim=-1)
