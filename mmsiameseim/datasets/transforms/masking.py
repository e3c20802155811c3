"""Patch-mask generators with an exact number of masked patches.

See docs/method.md §2.

Randomness comes from NumPy's global RNG (``np.random``), which mmengine
seeds (also per dataloader worker).
"""
import math
import numbers
from typing import Optional, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS


def _grid_shape(input_size, owner: str) -> Tuple[int, int]:
    if isinstance(input_size,
                  numbers.Integral) and not isinstance(input_size, bool):
        input_size = (input_size, input_size)
    ok = (
        isinstance(input_size, (tuple, list)) and len(input_size) == 2 and all(
            isinstance(v, numbers.Integral) and not isinstance(v, bool)
            and v >= 1 for v in input_size))
    if not ok:
        raise ValueError(f'{owner}: `input_size` must be a positive int or a '
                         f'pair of positive ints, got {input_size!r}')
    return int(input_size[0]), int(input_size[1])


def _check_count(num_masking_patches, num_patches: int, owner: str) -> int:
    if (not isinstance(num_masking_patches, numbers.Integral)
            or isinstance(num_masking_patches, bool)
            or not 0 <= num_masking_patches <= num_patches):
        raise ValueError(f'{owner}: `num_masking_patches` must be an int in '
                         f'[0, {num_patches}] (the grid size), got '
                         f'{num_masking_patches!r}')
    return int(num_masking_patches)


def random_top_up(mask: np.ndarray, count: int) -> np.ndarray:
    """Mask ``count`` extra cells chosen uniformly among the unmasked ones.

    Args:
        mask (np.ndarray): Bool mask, modified in place.
        count (int): Number of cells to add.

    Returns:
        np.ndarray: The mask.
    """
    if count > 0:
        free = np.flatnonzero(~mask)
        chosen = free[np.random.permutation(free.size)[:count]]
        mask.flat[chosen] = True
    return mask


# mmpretrain's ``BEiTMaskGenerator`` is not subclassed: its ``transform`` has
# no random top-up and loops ``while count != num_masking_patches``, which
# can spin for a long time once the remaining budget is smaller than any box
# that still adds new cells, and its ``_mask`` draws the box corner with
# ``np.random.randint(0, H - h)`` (exclusive), so blocks never touch the last
# row or column. Both methods would have to be rewritten, so this is a
# standalone implementation of the loop described in docs/method.md §2.
@TRANSFORMS.register_module()
class BlockwiseMaskGenerator(BaseTransform):
    """BEiT-style block-wise mask with exactly ``num_masking_patches`` cells.

    Blocks of area ~ U(min_num_patches, budget) and log-uniform aspect ratio
    are placed (up to 10 tries per block) while they add new cells within
    the remaining budget; once no block fits, the remaining cells are masked
    uniformly at random among the unmasked ones.

    **Added Keys**: ``mask``: bool array ``(H, W)``, True = masked.

    Args:
        input_size (int | tuple[int, int]): Patch-grid size. Defaults to 14.
        num_masking_patches (int): Exact number of masked patches.
            Defaults to 118.
        min_num_patches (int): Minimum block area. Defaults to 16.
        min_aspect (float): Minimum block aspect ratio. Defaults to 0.3.
        max_aspect (float, optional): Maximum block aspect ratio; None means
            ``1 / min_aspect``. Defaults to None.
        max_num_patches (int, optional): Maximum block area; None means the
            remaining budget. Defaults to None.
    """

    def __init__(self,
                 input_size: Union[int, Tuple[int, int]] = 14,
                 num_masking_patches: int = 118,
                 min_num_patches: int = 16,
                 min_aspect: float = 0.3,
                 max_aspect: Optional[float] = None,
                 max_num_patches: Optional[int] = None) -> None:
        owner = self.__class__.__name__
        self.height, self.width = _grid_shape(input_size, owner)
        self.num_patches = self.height * self.width
        self.num_masking_patches = _check_count(num_masking_patches,
                                                self.num_patches, owner)
        if (not isinstance(min_num_patches, numbers.Real)
                or isinstance(min_num_patches, bool) or min_num_patches < 1):
            raise ValueError(f'{owner}: `min_num_patches` must be >= 1, got '
                             f'{min_num_patches!r}')
        self.min_num_patches = min_num_patches
        if max_num_patches is not None and (
                not isinstance(max_num_patches, numbers.Real)
                or isinstance(max_num_patches, bool) or max_num_patches < 1):
            raise ValueError(f'{owner}: `max_num_patches` must be None or '
                             f'>= 1, got {max_num_patches!r}')
        self.max_num_patches = (
            self.num_masking_patches
            if max_num_patches is None else max_num_patches)
        if not isinstance(min_aspect, numbers.Real) or min_aspect <= 0:
            raise ValueError(f'{owner}: `min_aspect` must be > 0, got '
                             f'{min_aspect!r}')
        if max_aspect is None:
            max_aspect = 1 / min_aspect
        if not isinstance(max_aspect, numbers.Real) or max_aspect < min_aspect:
            raise ValueError(f'{owner}: `max_aspect` must be None or >= '
                             f'`min_aspect` ({min_aspect}), got '
                             f'{max_aspect!r}')
        self.min_aspect = float(min_aspect)
        self.max_aspect = float(max_aspect)
        self.log_aspect = (math.log(self.min_aspect),
                           math.log(self.max_aspect))

    def _place_block(self, mask: np.ndarray, budget: int) -> int:
        """Try up to 10 times to place one block; return the cells added."""
        lo, hi = sorted((self.min_num_patches, budget))
        for _ in range(10):
            area = np.random.uniform(lo, hi)
            aspect = math.exp(np.random.uniform(*self.log_aspect))
            h = int(round(math.sqrt(area * aspect)))
            w = int(round(math.sqrt(area / aspect)))
            if w < self.width and h < self.height:
                top = np.random.randint(0, self.height - h + 1)
                left = np.random.randint(0, self.width - w + 1)
                box = mask[top:top + h, left:left + w]
                new = h * w - int(box.sum())
                if 0 < new <= budget:
                    box[...] = True
                    return new
        return 0

    def generate(self) -> np.ndarray:
        """Draw one mask.

        Returns:
            np.ndarray: Bool ``(H, W)`` mask with exactly
            ``num_masking_patches`` True cells.
        """
        mask = np.zeros((self.height, self.width), dtype=bool)
        count = 0
        while count < self.num_masking_patches:
            budget = min(self.num_masking_patches - count,
                         self.max_num_patches)
            placed = self._place_block(mask, budget)
            if placed == 0:
                break
            count += placed
        return random_top_up(mask, self.num_masking_patches - count)

    def transform(self, results: dict) -> dict:
        """Add ``results['mask']``.

        Args:
            results (dict): Result dict.

        Returns:
            dict: With the bool ``mask``.
        """
        results['mask'] = self.generate()
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size=({self.height}, '
                f'{self.width}), num_masking_patches='
                f'{self.num_masking_patches}, min_num_patches='
                f'{self.min_num_patches}, max_num_patches='
                f'{self.max_num_patches}, min_aspect={self.min_aspect}, '
                f'max_aspect={self.max_aspect})')


@TRANSFORMS.register_module()
class RandomPatchMaskGenerator(BaseTransform):
    """Uniformly random mask with exactly ``num_masking_patches`` cells.

    **Added Keys**: ``mask``: bool array ``(H, W)``, True = masked.

    Args:
        input_size (int | tuple[int, int]): Patch-grid size. Defaults to 14.
        num_masking_patches (int): Exact number of masked patches.
            Defaults to 118.
    """

    def __init__(self,
                 input_size: Union[int, Tuple[int, int]] = 14,
                 num_masking_patches: int = 118) -> None:
        owner = self.__class__.__name__
        self.height, self.width = _grid_shape(input_size, owner)
        self.num_masking_patches = _check_count(num_masking_patches,
                                                self.height * self.width,
                                                owner)

    def generate(self) -> np.ndarray:
        """Draw one mask.

        Returns:
            np.ndarray: Bool ``(H, W)`` mask with exactly
            ``num_masking_patches`` True cells.
        """
        mask = np.zeros((self.height, self.width), dtype=bool)
        return random_top_up(mask, self.num_masking_patches)

    def transform(self, results: dict) -> dict:
        """Add ``results['mask']``.

        Args:
            results (dict): Result dict.

        Returns:
            dict: With the bool ``mask``.
        """
        results['mask'] = self.generate()
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(input_size=({self.height}, '
                f'{self.width}), num_masking_patches='
                f'{self.num_masking_patches})')
