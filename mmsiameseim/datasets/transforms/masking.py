"""Patch-mask generators with an exact number of masked patches
(docs/method.md §2), drawing from NumPy's global RNG."""
import math
from typing import Optional, Tuple, Union

import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS

from ...arg_checks import check_int, check_real, is_int, repr_fields


def random_top_up(mask: np.ndarray, count: int) -> np.ndarray:
    """Mask ``count`` more cells of the bool ``mask``, uniformly among the
    unmasked ones, in place."""
    if count > 0:
        free = np.flatnonzero(~mask)
        chosen = free[np.random.permutation(free.size)[:count]]
        mask.flat[chosen] = True
    return mask


class _ExactCountMask(BaseTransform):
    """Base of the mask generators: an ``(H, W)`` grid and an exact count;
    subclasses define ``generate()``.

    **Added Keys**: ``mask``: bool array ``(H, W)``, True = masked.
    """

    _repr_keys: Tuple[str, ...] = ()

    def __init__(self,
                 input_size: Union[int, Tuple[int, int]] = 14,
                 num_masking_patches: int = 118) -> None:
        owner = type(self).__name__
        size = (input_size, input_size) if is_int(input_size) else input_size
        if not (isinstance(size, (tuple, list)) and len(size) == 2
                and all(is_int(v) and v >= 1 for v in size)):
            raise ValueError(f'{owner}: `input_size` must be a positive int '
                             f'or a pair of positive ints, got {input_size!r}')
        self.height, self.width = int(size[0]), int(size[1])
        self.input_size = (self.height, self.width)
        self.num_patches = self.height * self.width
        self.num_masking_patches = check_int(
            num_masking_patches, f'{owner}: `num_masking_patches`', 0,
            self.num_patches + 1)

    def transform(self, results: dict) -> dict:
        """Add ``results['mask']`` (:meth:`generate`)."""
        results['mask'] = self.generate()
        return results

    def __repr__(self) -> str:
        return repr_fields(self, 'input_size', 'num_masking_patches',
                           *self._repr_keys)


# mmpretrain's ``BEiTMaskGenerator`` lacks the random top-up (it loops
# while the count differs, for long once no box adds cells) and its boxes
# never touch the last row or column (exclusive ``randint``).
@TRANSFORMS.register_module()
class BlockwiseMaskGenerator(_ExactCountMask):
    """BEiT-style block-wise mask with exactly ``num_masking_patches``
    cells (docs/method.md §2).

    Args:
        input_size (int | tuple[int, int]): Patch-grid size. Defaults to 14.
        num_masking_patches (int): Masked patches. Defaults to 118.
        min_num_patches (int): Minimum block area. Defaults to 16.
        min_aspect (float): Minimum block aspect ratio. Defaults to 0.3.
        max_aspect (float, optional): Defaults to ``1 / min_aspect``.
        max_num_patches (int, optional): Maximum block area. Defaults to
            the remaining budget.
    """

    _repr_keys = ('min_num_patches', 'max_num_patches', 'min_aspect',
                  'max_aspect')

    def __init__(self,
                 input_size: Union[int, Tuple[int, int]] = 14,
                 num_masking_patches: int = 118,
                 min_num_patches: int = 16,
                 min_aspect: float = 0.3,
                 max_aspect: Optional[float] = None,
                 max_num_patches: Optional[int] = None) -> None:
        super().__init__(input_size, num_masking_patches)
        owner = type(self).__name__
        self.min_num_patches = check_real(min_num_patches,
                                          f'{owner}: `min_num_patches`', 1)
        if max_num_patches is not None:
            check_real(max_num_patches, f'{owner}: `max_num_patches`', 1)
        self.max_num_patches = (
            self.num_masking_patches
            if max_num_patches is None else max_num_patches)
        self.min_aspect = float(
            check_real(min_aspect, f'{owner}: `min_aspect`', 0, strict=True))
        self.max_aspect = float(
            check_real(1 / min_aspect if max_aspect is None else max_aspect,
                       f'{owner}: `max_aspect`', min_aspect))
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
        """One bool ``(H, W)`` mask with ``num_masking_patches`` True cells."""
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


@TRANSFORMS.register_module()
class RandomPatchMaskGenerator(_ExactCountMask):
    """Uniformly random mask with exactly ``num_masking_patches`` cells.

    Args:
        input_size (int | tuple[int, int]): Patch-grid size. Defaults to 14.
        num_masking_patches (int): Masked patches. Defaults to 118.
    """

    def generate(self) -> np.ndarray:
        """One bool ``(H, W)`` mask with ``num_masking_patches`` True cells."""
        return random_top_up(
            np.zeros((self.height, self.width), dtype=bool),
            self.num_masking_patches)
