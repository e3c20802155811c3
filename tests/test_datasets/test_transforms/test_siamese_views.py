"""Tests of SiameseIMViews: crops, flips, channel order and geometry."""
import itertools

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.registry import TRANSFORMS

from mmsiameseim.datasets.transforms import SiameseIMViews
from mmsiameseim.models.utils.relative_position import relative_patch_coords

FLIP_COMBOS = list(itertools.product((False, True), repeat=2))


def instrument(views: SiameseIMViews, flips=None) -> list:
    """Record the sampled view parameters; optionally force the flips."""
    records = []
    sample = views.sample_view_params
    if flips is not None:
        flip_iter = iter(flips)
        views._sample_flip = lambda: next(flip_iter)

    def recording(height, width):
        params = sample(height, width)
        records.append(params)
        return params

    views.sample_view_params = recording
    return records


def oracle_coords(params1, params2, width: int, size: int,
                  grid: int) -> np.ndarray:
    """Map view-2 patch centres to view-1 patch units, step by step.

    Continuous pixel coordinates (pixel edges at integers); a flip maps
    ``x -> width - x``.
    """
    patch = size / grid
    rows, cols = np.meshgrid(np.arange(grid), np.arange(grid), indexing='ij')
    # patch centre in view-2 output pixels
    u2, v2 = (cols + 0.5) * patch, (rows + 0.5) * patch
    flip2, (i2, j2, h2, w2) = params2
    # undo the resize, then the crop: view-2 flipped frame
    x, y = u2 * w2 / size + j2, v2 * h2 / size + i2
    # undo view 2's flip: original image
    if flip2:
        x = width - x
    flip1, (i1, j1, h1, w1) = params1
    # view 1's flip, crop, resize
    if flip1:
        x = width - x
    u1, v1 = (x - j1) * size / w1, (y - i1) * size / h1
    # view-1 patch units, patch centres at integers
    return np.stack([v1 / patch - 0.5, u1 / patch - 0.5],
                    axis=-1).reshape(-1, 2)


@pytest.mark.parametrize('size, grid', [(224, 14), (64, 8)])
def test_geometry_matches_pixel_oracle(size, grid):
    rng = np.random.default_rng(0)
    draws = 200
    flips = [f for combo in FLIP_COMBOS * (draws // 4) for f in combo]
    views = SiameseIMViews(img_size=size, interpolation='nearest')
    records = instrument(views, flips)
    np.random.seed(0)
    seen = set()
    for _ in range(draws):
        height, width = (int(v) for v in rng.integers(40, 601, 2))
        img = np.zeros((height, width, 3), np.uint8)
        out = views(dict(img=img))
        params1, params2 = records[-1]
        seen.add((params1[0], params2[0]))
        for flip, (top, left, h, w) in (params1, params2):
            assert 0 <= top and top + h <= height
            assert 0 <= left and left + w <= width
        rel = out['rel_pos']
        assert rel.dtype == np.float32 and rel.shape == (6, )
        assert rel[4] == float(params1[0] != params2[0])
        got = relative_patch_coords(torch.from_numpy(rel)[None], grid)[0]
        want = oracle_coords(params1, params2, width, size, grid)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=2e-3)
    assert seen == set(FLIP_COMBOS)


def bilinear(img: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Sample ``img`` (H, W, C) at fractional pixel-index coordinates."""
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    img = img.astype(np.float64)
    return ((1 - fy) * (1 - fx) * img[y0, x0] +
            (1 - fy) * fx * img[y0, x0 + 1] + fy * (1 - fx) * img[y0 + 1, x0] +
            fy * fx * img[y0 + 1, x0 + 1])


def linear_region(pix: np.ndarray, crop_len: int, size: int) -> np.ndarray:
    """Output pixels ``floor(pix)`` and ``+1`` sample inside the crop."""
    low = np.floor(pix)
    src_lo = (low + 0.5) * crop_len / size - 0.5
    src_hi = (low + 1.5) * crop_len / size - 0.5
    return (src_lo >= 0) & (src_hi <= crop_len - 1) & (low >= 0) & (
        low + 1 <= size - 1)


def test_image_content_matches_predicted_location():
    """Pixel values encode original (x, y); compare across the views."""
    size, grid = 112, 14
    patch = size // grid
    rng = np.random.default_rng(1)
    views = SiameseIMViews(
        img_size=size, interpolation='bilinear', channel_order='rgb')
    flips = [f for combo in FLIP_COMBOS * 20 for f in combo]
    records = instrument(views, flips)
    np.random.seed(1)
    errors, shifted_errors = [], []
    for _ in range(80):
        height, width = (int(v) for v in rng.integers(40, 256, 2))
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = np.arange(width)[None]
        img[..., 1] = np.arange(height)[:, None]
        img[..., 2] = 128
        out = views(dict(img=img))
        view1, view2 = out['img']
        (_, box1), (_, box2) = records[-1]
        coords = relative_patch_coords(
            torch.from_numpy(out['rel_pos'])[None], grid)[0].double().numpy()
        centre = (np.arange(grid) + 0.5) * patch - 0.5
        py2, px2 = (
            a.ravel() for a in np.meshgrid(centre, centre, indexing='ij'))
        py1 = (coords[:, 0] + 0.5) * patch - 0.5
        px1 = (coords[:, 1] + 0.5) * patch - 0.5
        keep = (
            linear_region(py2, box2[2], size)
            & linear_region(px2, box2[3], size)
            & linear_region(py1, box1[2], size)
            & linear_region(px1, box1[3], size))
        if not keep.any():
            continue
        val2 = bilinear(view2, py2[keep], px2[keep])
        val1 = bilinear(view1, py1[keep], px1[keep])
        errors.append(np.abs(val1 - val2)[:, :2].max(1))
        # The same check with x wrong by half a patch must fail often.
        val1_bad = bilinear(view1, py1[keep],
                            np.clip(px1[keep] + patch / 2, 0, size - 1.01))
        shifted_errors.append(np.abs(val1_bad - val2)[:, :2].max(1))
    errors = np.concatenate(errors)
    shifted_errors = np.concatenate(shifted_errors)
    assert errors.size > 2000
    # uint8 rounding of both resizes: at most ~1 grey level (1 pixel)
    assert errors.max() < 1.5
    assert np.mean(shifted_errors > 1.5) > 0.3


def manual_view(img, params, size, interp):
    flip, (top, left, h, w) = params
    if flip:
        img = img[:, ::-1]
    crop = np.ascontiguousarray(img[top:top + h, left:left + w])
    return cv2.resize(crop, (size, size), interpolation=interp)


@pytest.mark.parametrize('interpolation, code',
                         [('bicubic', cv2.INTER_CUBIC),
                          ('bilinear', cv2.INTER_LINEAR)])
def test_empty_pipelines_give_exact_crops(interpolation, code):
    rng = np.random.default_rng(2)
    views = SiameseIMViews(img_size=48, interpolation=interpolation)
    records = instrument(views)
    np.random.seed(2)
    for _ in range(20):
        img = rng.integers(
            0,
            256, (int(rng.integers(30, 90)), int(rng.integers(30, 90)), 3),
            dtype=np.uint8)
        out = views(dict(img=img.copy()))
        assert out['img_shape'] == (48, 48)
        for view, params in zip(out['img'], records[-1]):
            assert view.shape == (48, 48, 3) and view.dtype == np.uint8
            assert (view == manual_view(img, params, 48, code)).all()


def test_pillow_backend_gives_pil_resized_crops():
    """``backend='pillow'``: each view is PIL's bicubic resize of the crop
    (what the original's torchvision crop on PIL images computes), which
    anti-aliases a shrink; the geometry is the cv2 backend's."""
    from PIL import Image
    rng = np.random.default_rng(5)
    # high-frequency content: a 1-pixel checkerboard plus noise
    yy, xx = np.mgrid[:160, :200]
    board = ((yy + xx) % 2 * 200).astype(np.uint8)
    img = np.clip(board[..., None] + rng.integers(0, 40, (160, 200, 3)), 0,
                  255).astype(np.uint8)
    kwargs = dict(img_size=32, crop_scale=(0.5, 1.0))
    pil_views = SiameseIMViews(backend='pillow', **kwargs)
    cv2_views = SiameseIMViews(**kwargs)
    pil_records, cv2_records = instrument(pil_views), instrument(cv2_views)
    for seed in range(6):
        np.random.seed(seed)
        out = pil_views(dict(img=img.copy()))
        np.random.seed(seed)
        ref = cv2_views(dict(img=img.copy()))
        assert pil_records[-1] == cv2_records[-1]  # same boxes and flips
        assert (out['rel_pos'] == ref['rel_pos']).all()
        for view, cv2_view, (flip, (top, left, h, w)) in zip(
                out['img'], ref['img'], pil_records[-1]):
            src = img[:, ::-1] if flip else img
            crop = np.ascontiguousarray(src[top:top + h, left:left + w])
            expected = np.asarray(
                Image.fromarray(crop).resize((32, 32), Image.BICUBIC))
            assert (view == expected).all()
            # the checkerboard averages out in PIL's shrink (anti-aliased)
            # but survives as large swings in cv2's point-sampled resize
            assert view.astype(float).std() < 0.5 * cv2_view.std()


def test_crop_fallback_and_scale_range():
    views = SiameseIMViews(img_size=8, crop_scale=(1.0, 1.0), flip_prob=0.)
    # Too wide for any ratio in (3/4, 4/3) at full area: central fallback
    # with the largest ratio, like torchvision.
    assert views._sample_crop(40, 600) == (0, (600 - 53) // 2, 40, 53)
    assert views._sample_crop(600, 40) == ((600 - 53) // 2, 0, 53, 40)
    np.random.seed(3)
    views = SiameseIMViews()
    boxes = np.array([views._sample_crop(300, 400) for _ in range(2000)])
    area = boxes[:, 2] * boxes[:, 3] / (300 * 400)
    ratio = boxes[:, 3] / boxes[:, 2]
    assert area.min() > 0.07 and area.max() <= 1.0
    assert area.min() < 0.1 and area.max() > 0.9
    assert ratio.min() > 0.7 and ratio.max() < 1.4
    assert (boxes[:, 0] + boxes[:, 2] <= 300).all()
    assert (boxes[:, 1] + boxes[:, 3] <= 400).all()


def test_flip_probability():
    np.random.seed(4)
    views = SiameseIMViews(img_size=8, flip_prob=0.5)
    flips = np.array([[p[0] for p in views.sample_view_params(50, 50)]
                      for _ in range(1000)])
    assert 0.45 < flips.mean() < 0.55
    # the two views flip independently
    assert 0.44 < np.mean(flips[:, 0] != flips[:, 1]) < 0.56


class Recorder:
    """A sub-pipeline step that records what it sees."""

    def __init__(self):
        self.seen = []

    def __call__(self, results):
        self.seen.append(results['img'].copy())
        return results


def test_colour_ops_see_rgb_and_output_keeps_bgr():
    rng = np.random.default_rng(5)
    bgr = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    bgr[..., 0] = 250  # strong blue channel, weak red
    bgr[..., 2] = rng.integers(0, 60, (32, 32))
    recorder = Recorder()
    views = SiameseIMViews(
        img_size=32,
        crop_scale=(1., 1.),
        crop_ratio=(1., 1.),
        flip_prob=0.,
        online_pipeline=[recorder,
                         dict(type='SimRandomGrayscale', prob=1.)],
        channel_order='bgr')
    out = views(dict(img=bgr.copy()))
    view1, view2 = out['img']
    # full-image crop at the same size: view 2 is the input, unchanged
    assert (view2 == bgr).all()
    # the colour pipeline saw RGB
    assert (recorder.seen[0] == bgr[..., ::-1]).all()
    r, g, b = (bgr[..., c].astype(float) for c in (2, 1, 0))
    luma = np.floor(0.299 * r + 0.587 * g + 0.114 * b + 0.5)
    assert np.abs(view1[..., 0] - luma).max() <= 1
    assert (view1 == view1[..., :1]).all()
    wrong = np.floor(0.299 * b + 0.587 * g + 0.114 * r + 0.5)
    assert np.abs(view1[..., 0] - wrong).min() > 10

    # With channel_order='rgb' the same op treats channel 0 as red.
    views_rgb = SiameseIMViews(
        img_size=32,
        crop_scale=(1., 1.),
        crop_ratio=(1., 1.),
        flip_prob=0.,
        online_pipeline=[dict(type='SimRandomGrayscale', prob=1.)],
        channel_order='rgb')
    view1_rgb = views_rgb(dict(img=bgr.copy()))['img'][0]
    assert np.abs(view1_rgb[..., 0] - wrong).max() <= 1


def test_same_crop_identity_geometry():
    np.random.seed(6)
    views = TRANSFORMS.build(
        dict(
            type='SiameseIMViews', img_size=32, same_crop=True, flip_prob=0.5))
    records = instrument(views)
    img = np.random.randint(0, 256, (50, 70, 3)).astype(np.uint8)
    for _ in range(10):
        out = views(dict(img=img.copy()))
        (flip1, (_, j1, _, w1)), params2 = records[-1]
        assert params2 == records[-1][0]
        np.testing.assert_allclose(out['rel_pos'][:5], [0, 0, 1, 1, 0])
        np.testing.assert_allclose(
            out['rel_pos'][5], (70 - 2 * j1) / w1, rtol=1e-6)
        assert (out['img'][0] == out['img'][1]).all()


def test_grayscale_input_and_seeding():
    img = np.random.default_rng(7).integers(0, 256, (40, 50), dtype=np.uint8)
    views = SiameseIMViews(
        img_size=16,
        online_pipeline=[dict(type='SimColorJitter', prob=1.)],
        target_pipeline=[dict(type='SimSolarize', prob=0.5)])
    np.random.seed(8)
    first = views(dict(img=img.copy()))
    np.random.seed(8)
    second = views(dict(img=img[..., None].copy()))
    for a, b in zip(first['img'], second['img']):
        assert a.shape == (16, 16, 3)
        assert (a == b).all()
    assert (first['rel_pos'] == second['rel_pos']).all()


@pytest.mark.parametrize('kwargs, option', [
    (dict(img_size=0), 'img_size'),
    (dict(crop_scale=(0.5, 0.2)), 'crop_scale'),
    (dict(crop_scale=(0.0, 1.0)), 'crop_scale'),
    (dict(crop_scale=(0.2, 1.5)), 'crop_scale'),
    (dict(crop_ratio=(0.0, 1.0)), 'crop_ratio'),
    (dict(crop_ratio=0.5), 'crop_ratio'),
    (dict(flip_prob=1.2), 'flip_prob'),
    (dict(interpolation='cubic'), 'interpolation'),
    (dict(interpolation='area', backend='pillow'), 'interpolation'),
    (dict(backend='PIL'), 'backend'),
    (dict(channel_order='BGRA'), 'channel_order'),
    (dict(same_crop='yes'), 'same_crop'),
])
def test_validation(kwargs, option):
    with pytest.raises(ValueError, match=option):
        SiameseIMViews(**kwargs)


def test_bad_pipelines_and_images():
    with pytest.raises(TypeError, match='online_pipeline'):
        SiameseIMViews(online_pipeline=dict(type='SimSolarize'))
    with pytest.raises(TypeError, match='target_pipeline'):
        SiameseIMViews(target_pipeline=[3])
    views = SiameseIMViews(img_size=8)
    with pytest.raises(TypeError, match='uint8'):
        views(dict(img=np.zeros((10, 10, 3), np.float32)))
    with pytest.raises(ValueError, match='shape'):
        views(dict(img=np.zeros((10, 10, 4), np.uint8)))
