"""Relative geometry between SiameseIM's two views (docs/method.md §1, §3).

``rel_pos`` rows are ``(Δi, Δj, Δh, Δw, rflip, Δj_flip)`` as recorded by
``SiameseIMViews``. View-1 patch (r, c) has its centre at the integer
position (r, c), the convention of the fixed absolute sin-cos table, so the
first half of :func:`relative_sincos_embedding` coincides with
``mmpretrain.models.utils.build_2d_sincos_position_embedding`` when view 2
equals view 1.
"""
import torch


def _check_rel_pos(rel_pos: torch.Tensor, name: str) -> None:
    if not isinstance(rel_pos, torch.Tensor):
        raise TypeError(f'{name}: `rel_pos` must be a Tensor, got '
                        f'{type(rel_pos).__name__}')
    if rel_pos.dim() != 2 or rel_pos.shape[1] != 6:
        raise ValueError(f'{name}: `rel_pos` must have shape (B, 6), got '
                         f'{tuple(rel_pos.shape)}')


def _check_positive_int(value, option: str, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f'{name}: `{option}` must be a positive int, got '
                         f'{value!r}')


def relative_patch_coords(rel_pos: torch.Tensor,
                          grid_size: int) -> torch.Tensor:
    """(y, x) of every view-2 patch centre in view-1 patch units.

    ``y(r) = g Δi + Δh (r + 0.5) - 0.5``; ``x(c) = g Δj + Δw (c + 0.5) - 0.5``
    without relative flip, ``x(c) = g Δj_flip - Δw (c + 0.5) - 0.5`` with it.

    Args:
        rel_pos (Tensor): ``(B, 6)`` relative geometry.
        grid_size (int): Patch-grid side g (the same for both views).

    Returns:
        Tensor: ``(B, g * g, 2)`` coordinates, patches in raster order (row
        outer), float64 for float64 input and float32 otherwise, detached.
    """
    _check_rel_pos(rel_pos, 'relative_patch_coords')
    _check_positive_int(grid_size, 'grid_size', 'relative_patch_coords')
    dtype = torch.float64 if rel_pos.dtype == torch.float64 else \
        torch.float32
    rel = rel_pos.detach().to(dtype)
    d_i, d_j, d_h, d_w, rflip, d_j_flip = (t[:, None] for t in rel.unbind(1))
    centre = torch.arange(
        grid_size, dtype=dtype, device=rel.device)[None] + 0.5
    y = grid_size * d_i + d_h * centre - 0.5
    x_plain = grid_size * d_j + d_w * centre - 0.5
    x_flip = grid_size * d_j_flip - d_w * centre - 0.5
    x = torch.where(rflip > 0.5, x_flip, x_plain)
    batch = rel.shape[0]
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
    :func:`relative_patch_coords`, ``s_h = 10 ln Δh``, ``s_w = 10 ln Δw``.

    Args:
        rel_pos (Tensor): ``(B, 6)`` relative geometry.
        grid_size (int): Patch-grid side g.
        embed_dims (int): D, divisible by 4.

    Returns:
        Tensor: ``(B, g * g, 2 * D)`` float32, detached.
    """
    _check_rel_pos(rel_pos, 'relative_sincos_embedding')
    _check_positive_int(embed_dims, 'embed_dims', 'relative_sincos_embedding')
    if embed_dims % 4 != 0:
        raise ValueError('relative_sincos_embedding: `embed_dims` must be '
                         f'divisible by 4, got {embed_dims}')
    num_freqs = embed_dims // 4
    rel = rel_pos.detach().float()
    coords = relative_patch_coords(rel, grid_size)
    pos_code = torch.cat([
        sincos_1d(coords[..., 0], num_freqs),
        sincos_1d(coords[..., 1], num_freqs)
    ],
                         dim=-1)
    scale = 10. * torch.log(rel[:, 2:4])  # (B, 2): s_h, s_w
    scale_code = torch.cat(
        [sincos_1d(scale[:, 0], num_freqs),
         sincos_1d(scale[:, 1], num_freqs)],
        dim=-1)
    scale_code = scale_code[:, None].expand(-1, grid_size**2, -1)
    return torch.cat([pos_code, scale_code], dim=-1)
