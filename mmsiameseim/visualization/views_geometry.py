"""Where the patches of SiameseIM's two views lie (docs/visualization.md).

Pixel coordinates are continuous: pixel edges at integers, a view spans
``[0, S]``, patch ``(i, j)`` is centred at ``((i + 0.5) p, (j + 0.5) p)``;
points are ``(y, x)``.
"""
from typing import List, Tuple

import numpy as np

from ..models.utils.relative_position import ViewBox


def patch_centres(grid_size: int, patch_size: int) -> np.ndarray:
    """Pixel centres of a view's ``g * g`` patches, raster order, (L, 2)."""
    centre = (np.arange(grid_size, dtype=np.float64) + 0.5) * patch_size
    yy, xx = np.meshgrid(centre, centre, indexing='ij')
    return np.stack([yy.ravel(), xx.ravel()], axis=1)


def view2_centres_in_view1(rel_pos: np.ndarray, grid_size: int,
                           patch_size: int) -> np.ndarray:
    """Where every view-2 patch centre lies in view 1, ``(g * g, 2)`` view-1
    pixels in view-2 raster order (possibly outside view 1):
    :func:`~mmsiameseim.models.utils.relative_patch_coords` puts view-1
    patch ``(r, c)`` at the integer ``(r, c)``, so a pixel is
    ``(coord + 0.5) * p``."""
    import torch

    from ..models.utils import relative_patch_coords
    rel = torch.as_tensor(np.asarray(rel_pos, dtype=np.float64))
    coords = relative_patch_coords(rel.reshape(1, -1), grid_size)[0]
    return (coords.numpy() + 0.5) * patch_size


def box_in_original(params: ViewBox, width: int) -> Tuple[int, ...]:
    """A view's crop box ``(top, left, h, w)`` in the unflipped image."""
    flip, (top, left, h, w) = params
    if flip:
        left = width - left - w
    return top, left, h, w


def pick_patches(src: np.ndarray, dst: np.ndarray, size: int,
                 num: int) -> List[int]:
    """Up to ``num`` well-spread view-2 patches whose centre lands in view 1.

    Farthest-point sampling on the view-2 centres ``src``, from the one
    nearest the view's centre; ``dst``: their places in view 1, ``size``:
    the view side.
    """
    inside = np.flatnonzero(np.all((dst >= 0) & (dst < size), axis=1))
    if inside.size == 0 or num <= 0:
        return []
    pts = src[inside]
    chosen = [int(np.argmin(np.linalg.norm(pts - size / 2, axis=1)))]
    dist = np.linalg.norm(pts - pts[chosen[0]], axis=1)
    while len(chosen) < min(num, inside.size) and dist.max() > 0:
        chosen.append(int(np.argmax(dist)))
        dist = np.minimum(dist, np.linalg.norm(pts - pts[chosen[-1]], axis=1))
    return [int(inside[i]) for i in chosen]
