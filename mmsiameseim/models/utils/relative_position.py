"""Relative geometry between SiameseIM's two views (docs/method.md §1, §3).

This module owns the layout of the geometry record: :class:`RelPos` names
its six fields, :meth:`RelPos.from_boxes` computes them from the two crop
boxes (``SiameseIMViews`` calls it), and :meth:`RelPos.unpack` reads a
batch of records (the predictor, the visualiser). View-1 patch (r, c) has
its centre at the integer position (r, c), the convention of the fixed
absolute sin-cos table, so the first half of
:func:`relative_sincos_embedding` coincides with
``mmpretrain.models.utils.build_2d_sincos_position_embedding`` when view 2
equals view 1.
"""
from typing import NamedTuple, Tuple, Union

import numpy as np
import torch

#: (flip, (top, left, height, width)): one view's crop, its box in the
#: view's own (flipped or not) frame.
ViewBox = Tuple[bool, Tuple[int, int, int, int]]


class RelPos(NamedTuple):
    """The relative geometry of view 2 with respect to view 1.

    Stored as a float32 row ``(di, dj, dh, dw, rflip, dj_flip)`` (this field
    order) in ``results['rel_pos']`` and, batched, as a ``(B, 6)`` tensor.
    With crop boxes ``(i, j, h, w)`` in each view's flipped frame and ``W``
    the original width:

    Attributes:
        di: ``(i2 - i1) / h1``, vertical offset in view-1 heights.
        dj: ``(j2 - j1) / w1``, horizontal offset in view-1 widths.
        dh: ``h2 / h1``, relative height.
        dw: ``w2 / w1``, relative width.
        rflip: ``flip1 xor flip2`` (1.0 or 0.0).
        dj_flip: ``(W - j1 - j2) / w1``, the horizontal offset to use when
            exactly one view is mirrored.
    """
    di: Union[float, torch.Tensor]
    dj: Union[float, torch.Tensor]
    dh: Union[float, torch.Tensor]
    dw: Union[float, torch.Tensor]
    rflip: Union[float, torch.Tensor]
    dj_flip: Union[float, torch.Tensor]

    @classmethod
    def from_boxes(cls, view1: ViewBox, view2: ViewBox,
                   width: int) -> 'RelPos':
        """The geometry of two crops of an image ``width`` pixels wide.

        Args:
            view1 (tuple): ``(flip1, (i1, j1, h1, w1))``.
            view2 (tuple): ``(flip2, (i2, j2, h2, w2))``.
            width (int): Width W of the original image.

        Returns:
            RelPos: Python floats.
        """
        flip1, (i1, j1, h1, w1) = view1
        flip2, (i2, j2, h2, w2) = view2
        return cls((i2 - i1) / h1, (j2 - j1) / w1, h2 / h1, w2 / w1,
                   float(bool(flip1) != bool(flip2)),
                   (width - j1 - j2) / w1)

    def to_array(self) -> np.ndarray:
        """The float32 ``(6,)`` record a pipeline stores."""
        return np.array(self, dtype=np.float32)

    @classmethod
    def unpack(cls, rel_pos: torch.Tensor, name: str = 'RelPos') -> 'RelPos':
        """Name the columns of a ``(B, 6)`` batch of records.

        Args:
            rel_pos (Tensor): ``(B, 6)`` records.
            name (str): Who asks, for the error message.

        Returns:
            RelPos: Six ``(B,)`` tensors (views of ``rel_pos``).

        Raises:
            TypeError | ValueError: If ``rel_pos`` is not a ``(B, 6)``
                tensor.
        """
        _check_rel_pos(rel_pos, name)
        return cls(*rel_pos.unbind(1))


def _check_rel_pos(rel_pos: torch.Tensor, name: str) -> None:
    if not isinstance(rel_pos, torch.Tensor):
        raise TypeError(f'{name}: `rel_pos` must be a Tensor, got '
                        f'{type(rel_pos).__name__}')
    if rel_pos.dim() != 2 or rel_pos.shape[1] != len(RelPos._fields):
        raise ValueError(f'{name}: `rel_pos` must have shape (B, '
                         f'{len(RelPos._fields)}) with columns '
                         f'{RelPos._fields}, got {tuple(rel_pos.shape)}')


def _check_positive_int(value, option: str, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'{name}: `{option}` must be a positive int, got '
                         f'{value!r}')


def relative_patch_coords(rel_pos: torch.Tensor,
                          grid_size: int) -> torch.Tensor:
    """(y, x) of every view-2 patch centre in view-1 patch units.

    ``y(r) = g di + dh (r + 0.5) - 0.5``; ``x(c) = g dj + dw (c + 0.5) - 0.5``
    without relative flip, ``x(c) = g dj_flip - dw (c + 0.5) - 0.5`` with it.

    Args:
        rel_pos (Tensor): ``(B, 6)`` :class:`RelPos` records.
        grid_size (int): Patch-grid side g (the same for both views).

    Returns:
        Tensor: ``(B, g * g, 2)`` coordinates, patches in raster order (row
        outer), float64 for float64 input and float32 otherwise, detached.
    """
    _check_positive_int(grid_size, 'grid_size', 'relative_patch_coords')
    dtype = torch.float64 if isinstance(rel_pos, torch.Tensor) and \
        rel_pos.dtype == torch.float64 else torch.float32
    if isinstance(rel_pos, torch.Tensor):
        rel_pos = rel_pos.detach().to(dtype)
    rel = RelPos(*(t[:, None] for t in RelPos.unpack(
        rel_pos, 'relative_patch_coords')))
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
    """1-D sin-cos code ``[sin(pos ω), cos(pos ω)]``.

    ``ω_k = temperature ** (-k / num_freqs)``, ``k = 0 .. num_freqs - 1``,
    computed like mmpretrain's absolute table (same float ops).

    Args:
        pos (Tensor): Positions of any shape ``(...)``.
        num_freqs (int): Number of frequencies.
        temperature (float): Base of the frequencies. Defaults to 10000.

    Returns:
        Tensor: ``(..., 2 * num_freqs)`` in the dtype of ``pos`` (float32
        for integer input).
    """
    _check_positive_int(num_freqs, 'num_freqs', 'sincos_1d')
    if not pos.is_floating_point():
        pos = pos.float()
    omega = torch.arange(
        num_freqs, dtype=pos.dtype, device=pos.device) / num_freqs
    omega = 1. / (temperature**omega)
    angles = pos[..., None] * omega
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)


def relative_sincos_embedding(rel_pos: torch.Tensor, grid_size: int,
                              embed_dims: int) -> torch.Tensor:
    """Relative sin-cos code of the view-2 patches (docs/method.md §3).

    ``concat[sin yω, cos yω, sin xω, cos xω, sin s_hω, cos s_hω, sin s_wω,
    cos s_wω]`` with ``embed_dims / 4`` frequencies each, ``(y, x)`` from
    :func:`relative_patch_coords`, ``s_h = 10 ln dh``, ``s_w = 10 ln dw``.

    Args:
        rel_pos (Tensor): ``(B, 6)`` :class:`RelPos` records.
        grid_size (int): Patch-grid side g.
        embed_dims (int): D, divisible by 4.

    Returns:
        Tensor: ``(B, g * g, 2 * D)`` float32, detached.
    """
    _check_positive_int(embed_dims, 'embed_dims', 'relative_sincos_embedding')
    if embed_dims % 4 != 0:
        raise ValueError('relative_sincos_embedding: `embed_dims` must be '
                         f'divisible by 4, got {embed_dims}')
    num_freqs = embed_dims // 4
    _check_rel_pos(rel_pos, 'relative_sincos_embedding')
    rel = rel_pos.detach().float()
    geo = RelPos.unpack(rel, 'relative_sincos_embedding')
    coords = relative_patch_coords(rel, grid_size)
    pos_code = torch.cat([
        sincos_1d(coords[..., 0], num_freqs),
        sincos_1d(coords[..., 1], num_freqs)
    ],
                         dim=-1)
    scale = 10. * torch.log(torch.stack([geo.dh, geo.dw], 1))  # s_h, s_w
    scale_code = torch.cat(
        [sincos_1d(scale[:, 0], num_freqs),
         sincos_1d(scale[:, 1], num_freqs)],
        dim=-1)
    scale_code = scale_code[:, None].expand(-1, grid_size**2, -1)
    return torch.cat([pos_code, scale_code], dim=-1)
