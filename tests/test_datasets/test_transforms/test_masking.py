"""Tests of the exact-count mask generators (docs/method.md §2)."""
import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS

from mmsiameseim.datasets.transforms import (BlockwiseMaskGenerator,
                                             RandomPatchMaskGenerator)


def equal_neighbour_fraction(masks: np.ndarray) -> float:
    """Mean fraction of 4-neighbour pairs with equal value (blockiness)."""
    horiz = masks[:, :, 1:] == masks[:, :, :-1]
    vert = masks[:, 1:, :] == masks[:, :-1, :]
    pairs = horiz.sum((1, 2)) + vert.sum((1, 2))
    total = horiz[0].size + vert[0].size
    return float((pairs / total).mean())


def draw(gen, n: int) -> np.ndarray:
    return np.stack([gen(dict())['mask'] for _ in range(n)])


def test_blockwise_default_exact_count_1e4():
    np.random.seed(0)
    gen = TRANSFORMS.build(dict(type='BlockwiseMaskGenerator'))
    assert isinstance(gen, BlockwiseMaskGenerator)
    masks = draw(gen, 10_000)
    assert masks.shape == (10_000, 14, 14)
    assert masks.dtype == np.bool_
    counts = masks.sum((1, 2))
    assert counts.min() == 118 and counts.max() == 118


@pytest.mark.parametrize('kwargs, shape, count', [
    (dict(input_size=8, num_masking_patches=38, min_num_patches=4),
     (8, 8), 38),
    (dict(input_size=14, num_masking_patches=75), (14, 14), 75),
    (dict(input_size=(6, 10), num_masking_patches=31, min_num_patches=4),
     (6, 10), 31),
    (dict(input_size=14, num_masking_patches=118, max_num_patches=30),
     (14, 14), 118),
    (dict(input_size=3, num_masking_patches=5, min_num_patches=9), (3, 3), 5),
    (dict(input_size=7, num_masking_patches=0), (7, 7), 0),
    (dict(input_size=7, num_masking_patches=49), (7, 7), 49),
])
def test_blockwise_other_settings_exact(kwargs, shape, count):
    np.random.seed(1)
    masks = draw(BlockwiseMaskGenerator(**kwargs), 1000)
    assert masks.shape[1:] == shape
    assert (masks.sum((1, 2)) == count).all()


def test_blockwise_is_blocky_and_random_is_not():
    np.random.seed(2)
    block = draw(BlockwiseMaskGenerator(), 2000)
    rand = draw(RandomPatchMaskGenerator(), 2000)
    block_eq = equal_neighbour_fraction(block)
    rand_eq = equal_neighbour_fraction(rand)
    # Independent cells with p = 118/196 give p^2 + (1-p)^2 ~= 0.52
    # (measured: blockwise ~0.88, random ~0.52).
    assert 0.49 < rand_eq < 0.55
    assert block_eq > 0.8
    assert block_eq - rand_eq > 0.25

    small_block = draw(BlockwiseMaskGenerator(8, 38, min_num_patches=4), 2000)
    small_rand = draw(RandomPatchMaskGenerator(8, 38), 2000)
    # measured: ~0.80 vs ~0.51
    assert equal_neighbour_fraction(small_block) > 0.72
    assert equal_neighbour_fraction(small_rand) < 0.55


def test_blockwise_reaches_every_cell():
    # Block corners are drawn inclusively (U{0..14-h}); mmpretrain's
    # BEiTMaskGenerator draws them exclusively and never masks the last row.
    np.random.seed(3)
    freq = draw(BlockwiseMaskGenerator(), 3000).mean(0)
    assert freq.min() > 0.03  # corners, measured ~0.08
    assert freq[-1].mean() > 0.2 and freq[:, -1].mean() > 0.2
    # symmetric up to sampling noise
    assert abs(freq[0].mean() - freq[-1].mean()) < 0.05
    assert abs(freq[:, 0].mean() - freq[:, -1].mean()) < 0.05


def test_random_patch_exact_and_uniform():
    np.random.seed(4)
    gen = TRANSFORMS.build(
        dict(
            type='RandomPatchMaskGenerator',
            input_size=14,
            num_masking_patches=118))
    masks = draw(gen, 5000)
    assert masks.dtype == np.bool_
    assert (masks.sum((1, 2)) == 118).all()
    freq = masks.mean(0)
    # each cell ~ 118/196 = 0.602, std ~0.007 over 5000 draws
    assert np.abs(freq - 118 / 196).max() < 0.035
    assert (RandomPatchMaskGenerator(5, 25).generate()).all()
    assert not (RandomPatchMaskGenerator(5, 0).generate()).any()


def test_seeding_reproduces_masks():
    gen = BlockwiseMaskGenerator()
    np.random.seed(5)
    first = draw(gen, 20)
    np.random.seed(5)
    second = draw(gen, 20)
    assert (first == second).all()
    assert not (first[0] == first[1]).all()


@pytest.mark.parametrize('kwargs, option', [
    (dict(num_masking_patches=197), 'num_masking_patches'),
    (dict(num_masking_patches=-1), 'num_masking_patches'),
    (dict(input_size=0), 'input_size'),
    (dict(input_size=(3, 4, 5)), 'input_size'),
    (dict(min_num_patches=0), 'min_num_patches'),
    (dict(max_num_patches=0), 'max_num_patches'),
    (dict(min_aspect=0), 'min_aspect'),
    (dict(min_aspect=0.5, max_aspect=0.4), 'max_aspect'),
])
def test_blockwise_validation(kwargs, option):
    with pytest.raises(ValueError, match=option):
        BlockwiseMaskGenerator(**kwargs)


def test_random_patch_validation():
    with pytest.raises(ValueError, match='num_masking_patches'):
        RandomPatchMaskGenerator(4, 17)
    with pytest.raises(ValueError, match='input_size'):
        RandomPatchMaskGenerator(-2, 1)
