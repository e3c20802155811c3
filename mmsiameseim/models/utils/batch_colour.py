"""Batched colour ops with one parameter per image, on any device: the
worker ops' formulas on ``(B, 3, H, W)`` float RGB in [0, 255], ending on
the uint8 grid (torchvision's ops take one factor per call, kornia's
``ColorJitter`` one jitter order per batch; docs/design.md, Data path).
"""
from typing import List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .colour_params import AFTER_JITTER, INDEX, JITTER_IDENTITY, JITTER_OPS

# ITU-R 601-2 luma weights (PIL's ``convert('L')``), as the worker ops.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
# HSV -> RGB: the sextant offset n of R, G and B
_HUE_OFFSETS = torch.tensor([5., 3., 1.]).view(1, 3, 1, 1)


def _per_image(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``(B,)`` values -> ``(B, 1, 1, 1)`` in ``x``'s dtype and device."""
    return values.to(device=x.device, dtype=x.dtype).view(-1, 1, 1, 1)


def round_to_pixels(x: torch.Tensor) -> torch.Tensor:
    """Round half up and clip to [0, 255] (the uint8 ops' rounding), in
    place on an op's fresh result (no new large tensors)."""
    return x.add_(0.5).floor_().clamp_(0, 255)


def batch_luma(x: torch.Tensor) -> torch.Tensor:
    """``0.299 R + 0.587 G + 0.114 B`` of ``(B, 3, H, W)``: ``(B, 1, H, W)``
    (the worker ops' float32 expression, in their order)."""
    r, g, b = LUMA_WEIGHTS
    luma = x[:, 0:1] * r
    luma += x[:, 1:2] * g
    luma += x[:, 2:3] * b
    return luma


def batch_blend(x: torch.Tensor, factor: torch.Tensor,
                luma_weight: torch.Tensor,
                mean_weight: torch.Tensor) -> torch.Tensor:
    """``factor x + luma_weight luma(x) + mean_weight mean(luma(x))`` per
    image, rounded: brightness ``(f, 0, 0)``, contrast ``(f, 0, 1 - f)``,
    saturation ``(f, 1 - f, 0)`` (a zero weight adds an exact 0)."""
    luma = batch_luma(x)
    out = x * _per_image(factor, x)
    out += _per_image(luma_weight, x) * luma
    out += _per_image(mean_weight, x) * luma.mean(dim=(1, 2, 3), keepdim=True)
    return round_to_pixels(out)


def batch_hue(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Rotate the HSV hue by ``shift`` turns (in [-0.5, 0.5]), per image.

    Hue in sextants from the max channel, plus the shift modulo 6, back by
    ``c = V - chroma * clamp(min(k, 4 - k), 0, 1)``, ``k = (hue + n) mod
    6``, n = 5, 3, 1 for R, G, B (saturation and value kept).
    """
    maxc = x.amax(dim=1, keepdim=True)
    chroma = maxc - x.amin(dim=1, keepdim=True)
    r, g, b = x.split(1, dim=1)
    # sextant numerators (g - b, b - r + 2 chroma, r - g + 4 chroma); a
    # gray pixel (chroma 0) has r == max and g - b == 0, hence hue 0
    num = torch.where(
        r == maxc, g - b,
        torch.where(g == maxc, b - r + 2 * chroma, r - g + 4 * chroma))
    turn = 6 * _per_image(shift, x)
    hue = torch.remainder(num / chroma.clamp_min(1e-6) + turn, 6)
    k = torch.remainder(hue + _HUE_OFFSETS.to(x.device, x.dtype), 6)
    rgb = maxc - chroma * torch.minimum(k, 4 - k).clamp_(0, 1)
    return round_to_pixels(rgb)


def batch_grayscale(x: torch.Tensor) -> torch.Tensor:
    """Rounded luma on 3 channels."""
    return round_to_pixels(batch_luma(x)).expand(-1, 3, -1, -1)


#: Box passes of PIL's Gaussian blur (an extended box blur).
BOX_PASSES = 3


def _box_half_width(var: torch.Tensor) -> torch.Tensor:
    """Half-width ``l`` of the widest box (variance ``l (l + 1) / 3``) of
    variance at most ``var``."""
    return torch.floor((torch.sqrt(12 * var + 1) - 1) / 2)


def blur_radius(sigma_max: float) -> int:
    """Half-width of :func:`extended_box_kernels` for sigmas up to
    ``sigma_max``: ``BOX_PASSES * (l + 1)`` (6 for sigma 2)."""
    var = torch.tensor(float(sigma_max)**2 / BOX_PASSES)
    return BOX_PASSES * (int(_box_half_width(var)) + 1)


def extended_box_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """1-D kernels of PIL's Gaussian blur with radius ``sigma``: (B, 2r+1).

    PIL's ``BOX_PASSES`` extended box passes of variance ``sigma**2 /
    passes``: weight 1 on ``|x| <= l``, ``a`` on ``|x| = l + 1`` with
    ``(l (l+1) (2l+1) / 3 + 2 a (l+1)**2) / (2 l + 1 + 2 a) = var``,
    normalised, composed into one kernel per image (sigma 0: identity).
    ``radius``: :func:`blur_radius` of the largest sigma.
    """
    var = sigma.to(torch.float32).clamp_min(0).view(-1, 1)**2 / BOX_PASSES
    half = _box_half_width(var)
    frac = (2 * half + 1) * (var - half * (half + 1) / 3) / (
        2 * ((half + 1)**2 - var))
    width = radius // BOX_PASSES  # one pass's support: l + 1 <= width
    taps = torch.arange(-width, width + 1, device=var.device).abs().view(1, -1)
    box = torch.where(taps <= half, torch.ones_like(frac),
                      torch.where(taps == half + 1, frac,
                                  torch.zeros_like(frac)))
    box = box / box.sum(dim=1, keepdim=True)
    kernel, n = box, box.shape[0]
    for _ in range(BOX_PASSES - 1):  # full convolution, per image
        kernel = F.conv1d(
            F.pad(kernel[None], (2 * width, 2 * width)), box[:, None],
            groups=n)[0]
    return kernel


def batch_gaussian_blur(x: torch.Tensor, sigma: torch.Tensor,
                        radius: int) -> torch.Tensor:
    """PIL's ``GaussianBlur(radius=sigma)`` with one sigma per image: the
    kernels of :func:`extended_box_kernels` as separable depthwise
    convolutions, border pixels repeated as PIL does (PIL rounds after
    every pass, this only at the end)."""
    n, c, h, w = x.shape
    k = 2 * radius + 1
    kernels = extended_box_kernels(sigma.to(x.device), radius).to(x.dtype)
    kernels = kernels.repeat_interleave(c, dim=0)  # (n * c, k)
    planes = F.pad(
        x.reshape(1, n * c, h, w), (radius, ) * 4, mode='replicate')
    planes = F.conv2d(planes, kernels.view(n * c, 1, k, 1), groups=n * c)
    planes = F.conv2d(planes, kernels.view(n * c, 1, 1, k), groups=n * c)
    return round_to_pixels(planes.view(n, c, h, w))


def batch_solarize(x: torch.Tensor, threshold: torch.Tensor) -> torch.Tensor:
    """Invert (``255 - x``) the values ``>= threshold``, per image."""
    return torch.where(x >= _per_image(threshold, x), 255 - x, x)


def _jitter_groups(rec: np.ndarray, pos: int) -> list:
    """The blend and hue groups of jitter position ``pos`` (images whose
    op there has the identity factor left out)."""
    n = np.arange(len(rec))
    op = np.where(rec[:, INDEX['jitter']] > 0, rec[:, INDEX[f'order_{pos}']],
                  -1).astype(np.int64)
    fields = np.array([INDEX[name] for name in JITTER_OPS])
    value = rec[n, fields[np.maximum(op, 0)]]
    changes = value != np.asarray(JITTER_IDENTITY, np.float32)[np.maximum(
        op, 0)]
    one_minus = np.float32(1) - value
    weights = np.stack([
        value,
        np.where(op == 2, one_minus, np.float32(0)),  # saturation: luma
        np.where(op == 1, one_minus, np.float32(0)),  # contrast: mean
    ], axis=1)
    blend = np.flatnonzero((op >= 0) & (op < 3) & changes)
    hue = np.flatnonzero((op == 3) & changes)
    return [('blend', blend, weights[blend]), ('hue', hue, value[hue, None])]


def colour_groups(params: np.ndarray) -> List[Tuple[str, np.ndarray,
                                                    np.ndarray]]:
    """``(op, image indices, (n, k) float32 parameters)`` of ``(B,
    NUM_FIELDS)`` records, in application order: per jitter position a
    blend and a hue group, then grayscale, blur, solarize (none empty)."""
    rec = np.asarray(params, dtype=np.float32)
    groups = []
    for pos in range(4):
        groups += _jitter_groups(rec, pos)
    for name, field in AFTER_JITTER.items():
        idx = np.flatnonzero(rec[:, INDEX[name]] > 0)
        cols = [] if field is None else [INDEX[field]]
        groups.append((name, idx, rec[idx][:, cols]))
    return [g for g in groups if len(g[1])]


def _run_op(name: str, x: torch.Tensor, p: torch.Tensor,
            host: np.ndarray) -> torch.Tensor:
    """One group's op with its parameters ``p`` (device) / ``host``."""
    if name == 'blend':
        return batch_blend(x, p[:, 0], p[:, 1], p[:, 2])
    if name == 'hue':
        return batch_hue(x, p[:, 0])
    if name == 'grayscale':
        return batch_grayscale(x)
    if name == 'blur':
        return batch_gaussian_blur(x, p[:, 0], blur_radius(host.max()))
    return batch_solarize(x, p[:, 0])


def apply_colour_params_(x: torch.Tensor, params: np.ndarray) -> torch.Tensor:
    """Apply colour records to a batch, in place (both views may go in one
    call): the groups are made on the host (no device sync), then each is
    one gather, op and scatter.

    Args:
        x (Tensor): ``(B, 3, H, W)`` float RGB images in [0, 255] on any
            device; overwritten.
        params (np.ndarray): ``(B, NUM_FIELDS)`` host records, one per
            image of ``x``.

    Returns:
        Tensor: ``x``.
    """
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError('colour records apply to (B, 3, H, W) images, got '
                         f'{tuple(x.shape)}')
    host = np.asarray(params, dtype=np.float32)
    if host.shape[0] != x.shape[0]:
        raise ValueError(f'{host.shape[0]} colour records for a batch of '
                         f'{x.shape[0]} images')
    groups = colour_groups(host)
    if not groups:
        return x
    idx_dev = torch.from_numpy(np.concatenate(
        [idx for _, idx, _ in groups]).astype(np.int64)).to(
            x.device, non_blocking=True)
    par_dev = torch.from_numpy(np.concatenate(
        [par.ravel() for _, _, par in groups])).to(
            x.device, x.dtype, non_blocking=True)
    start = offset = 0
    for name, idx, par in groups:
        n, size = len(idx), par.size
        p = par_dev[offset:offset + size].view(par.shape)
        if n == x.shape[0]:  # every image: no gather
            x.copy_(_run_op(name, x, p, par))
        else:
            # advanced indexing: CPU index_select is slow with threads
            sel = idx_dev[start:start + n]
            x[sel] = _run_op(name, x[sel], p, par)
        start, offset = start + n, offset + size
    return x
