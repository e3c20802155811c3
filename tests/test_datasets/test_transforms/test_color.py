"""Tests of the RGB colour ops (docs/method.md §1, §7)."""
import colorsys

import numpy as np
import pytest
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from mmsiameseim.datasets.transforms import (SimColorJitter, SimGaussianBlur,
                                             SimRandomGrayscale, SimSolarize)
from mmsiameseim.datasets.transforms.color import (adjust_brightness,
                                                   adjust_contrast, adjust_hue,
                                                   adjust_saturation)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def pixel(rgb) -> np.ndarray:
    return np.array(rgb, dtype=np.uint8).reshape(1, 1, 3)


def rand_img(h=17, w=23, seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    'src, shift, dst',
    [
        (RED, -1 / 3, BLUE),
        (RED, 1 / 3, GREEN),
        (GREEN, -1 / 3, RED),
        (BLUE, 1 / 3, RED),
        (RED, -1 / 6, (255, 0, 255)),  # magenta (hue 300 deg)
        (RED, 0.5, (0, 255, 255)),  # cyan
        (RED, -0.5, (0, 255, 255)),
    ])
def test_hue_analytic(src, shift, dst):
    out = adjust_hue(pixel(src), shift)
    assert out.dtype == np.uint8
    assert tuple(out[0, 0]) == dst


def test_hue_matches_colorsys_oracle_for_negative_shifts():
    img = rand_img(9, 11, seed=1)
    for shift in (-0.1, -0.37, 0.23):
        out = adjust_hue(img, shift).astype(int)
        expected = np.empty_like(out)
        for idx in np.ndindex(img.shape[:2]):
            h, s, v = colorsys.rgb_to_hsv(*(img[idx] / 255.))
            rgb = colorsys.hsv_to_rgb((h + shift) % 1.0, s, v)
            expected[idx] = np.floor(np.array(rgb) * 255 + 0.5)
        assert np.abs(out - expected).max() <= 1


def test_jitter_hue_only_negative_draws_do_not_crash():
    np.random.seed(0)
    jitter = SimColorJitter(
        brightness=0., contrast=0., saturation=0., hue=0.5, prob=1.)
    img = rand_img(8, 8, seed=2)
    shifts = []
    for _ in range(50):
        _, factors = jitter.sample_params()
        assert factors[:3] == [None, None, None]
        shifts.append(factors[3])
        out = jitter(dict(img=img.copy()))['img']
        assert out.shape == img.shape and out.dtype == np.uint8
    assert min(shifts) < -0.2 and max(shifts) > 0.2
    # gray pixels have no hue: unchanged by any hue shift
    gray = np.full((4, 4, 3), 77, np.uint8)
    assert (jitter(dict(img=gray.copy()))['img'] == gray).all()


def test_brightness_oracle():
    img = rand_img(seed=3)
    for factor in (0.0, 0.63, 1.0, 1.37):
        out = adjust_brightness(img, factor)
        expected = np.clip(np.floor(img * factor + 0.5), 0, 255)
        assert (out == expected).all()
        pil = np.asarray(
            ImageEnhance.Brightness(Image.fromarray(img)).enhance(factor))
        assert np.abs(out.astype(int) - pil).max() <= 1


def test_contrast_and_saturation_oracles():
    img = np.zeros((4, 4, 3), np.uint8)
    img[:2] = 200  # grayscale mean = 100
    out = adjust_contrast(img, 0.5)
    assert (out[:2] == 150).all() and (out[2:] == 50).all()
    # contrast mean uses the luma of RGB: pure red has luma 76.245
    red = np.tile(pixel(RED), (2, 2, 1))
    out = adjust_contrast(red, 0.0)
    assert (out == 76).all()
    col = rand_img(seed=4)
    assert (adjust_saturation(col, 1.0) == col).all()
    luma = (0.299 * col[..., 0] + 0.587 * col[..., 1] + 0.114 * col[..., 2])
    desat = adjust_saturation(col, 0.0).astype(int)
    assert np.abs(desat - np.floor(luma + 0.5)[..., None]).max() <= 1
    assert (desat[..., 0] == desat[..., 2]).all()


def test_jitter_factor_ranges():
    np.random.seed(5)
    jitter = SimColorJitter(
        brightness=0.4, contrast=0., saturation=0., hue=0., prob=1.)
    flat = np.full((2, 2, 3), 100, np.uint8)
    ratios = np.array([
        jitter(dict(img=flat.copy()))['img'][0, 0, 0] / 100.
        for _ in range(300)
    ])
    assert ratios.min() >= 0.6 - 0.005 and ratios.max() <= 1.4 + 0.005
    assert ratios.min() < 0.65 and ratios.max() > 1.35
    assert abs(ratios.mean() - 1.0) < 0.05
    orders = {tuple(jitter.sample_params()[0]) for _ in range(200)}
    assert len(orders) > 12  # random permutation of the 4 ops


def test_jitter_prob():
    np.random.seed(6)
    jitter = SimColorJitter(
        brightness=0.4, contrast=0., saturation=0., hue=0., prob=0.8)
    flat = np.full((2, 2, 3), 100, np.uint8)
    changed = np.mean([
        jitter(dict(img=flat.copy()))['img'][0, 0, 0] != 100
        for _ in range(500)
    ])
    assert 0.72 < changed < 0.88


def test_grayscale_luma():
    gray_op = TRANSFORMS.build(dict(type='SimRandomGrayscale', prob=1.0))
    assert isinstance(gray_op, SimRandomGrayscale)
    img = np.concatenate(
        [pixel(RED),
         pixel(GREEN),
         pixel(BLUE),
         pixel((10, 20, 30))], axis=1)
    out = gray_op(dict(img=img))['img']
    # 0.299*255 = 76.2, 0.587*255 = 149.7, 0.114*255 = 29.1,
    # 0.299*10 + 0.587*20 + 0.114*30 = 18.15
    assert out[0, :, 0].tolist() == [76, 150, 29, 18]
    assert (out == out[..., :1]).all()
    col = rand_img(seed=7)
    pil = np.asarray(Image.fromarray(col).convert('L')).astype(int)
    ours = gray_op(dict(img=col))['img'][..., 0].astype(int)
    assert np.abs(ours - pil).max() <= 1
    assert np.mean(ours == pil) > 0.98
    keep = SimRandomGrayscale(prob=0.0)(dict(img=col.copy()))['img']
    assert (keep == col).all()


def test_solarize_threshold():
    img = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, 2)
    out = SimSolarize(threshold=128, prob=1.0)(dict(img=img))['img']
    assert out[..., 0].ravel()[127] == 127
    assert out[..., 0].ravel()[128] == 127  # 255 - 128
    assert out[..., 0].ravel()[255] == 0
    pil = np.asarray(ImageOps.solarize(Image.fromarray(img), 128))
    assert (out == pil).all()
    out = SimSolarize(threshold=200, prob=1.0)(dict(img=img))['img']
    assert (out == np.asarray(ImageOps.solarize(Image.fromarray(img),
                                                200))).all()
    np.random.seed(8)
    op = SimSolarize(prob=0.2)
    flat = np.full((2, 2, 3), 200, np.uint8)
    rate = np.mean(
        [op(dict(img=flat.copy()))['img'][0, 0, 0] == 55 for _ in range(500)])
    assert 0.13 < rate < 0.27


def test_gaussian_blur_matches_pil():
    img = rand_img(20, 30, seed=9)
    op = SimGaussianBlur(sigma_min=1.3, sigma_max=1.3, prob=1.0)
    out = op(dict(img=img))['img']
    pil = np.asarray(
        Image.fromarray(img).filter(ImageFilter.GaussianBlur(radius=1.3)))
    assert out.dtype == np.uint8 and (out == pil).all()
    assert out.astype(float).std() < 0.6 * img.astype(float).std()
    np.random.seed(10)
    op = SimGaussianBlur(prob=0.1)
    rate = np.mean([(op(dict(img=img.copy()))['img'] != img).any()
                    for _ in range(400)])
    assert 0.05 < rate < 0.16


@pytest.mark.parametrize('cls, kwargs, option', [
    (SimColorJitter, dict(hue=0.6), 'hue'),
    (SimColorJitter, dict(hue=-0.1), 'hue'),
    (SimColorJitter, dict(brightness=-1), 'brightness'),
    (SimColorJitter, dict(saturation='a'), 'saturation'),
    (SimColorJitter, dict(prob=1.5), 'prob'),
    (SimRandomGrayscale, dict(prob=-0.1), 'prob'),
    (SimGaussianBlur, dict(sigma_min=2., sigma_max=1.), 'sigma_min'),
    (SimSolarize, dict(threshold=300), 'threshold'),
])
def test_validation(cls, kwargs, option):
    with pytest.raises(ValueError, match=option):
        cls(**kwargs)


def test_bad_image_type():
    with pytest.raises(TypeError, match='uint8'):
        SimSolarize(prob=1.)(dict(img=np.zeros((4, 4, 3), np.float32)))
    with pytest.raises(ValueError, match='H, W, 3'):
        SimSolarize(prob=1.)(dict(img=np.zeros((4, 4), np.uint8)))


def test_mmcv_adjust_hue_patch_handles_negative_shift(monkeypatch):
    """NumPy 2: mmcv 2.1's op raises for negative shifts; the patched one
    rotates the 8-bit hue by ``int(f * 255) mod 256`` (NumPy 1's wrap), the
    colorsys rotation up to the 8-bit hue step, and keeps positive
    shifts bit-identical."""
    import mmcv

    from projects.study_bench.throughput.mmcv_hue import patch_mmcv_adjust_hue
    monkeypatch.setattr(mmcv, 'adjust_hue', mmcv.adjust_hue)  # restore
    original = mmcv.adjust_hue
    if int(np.__version__.split('.')[0]) >= 2:
        with pytest.raises(OverflowError):
            original(rand_img(4, 4), -0.1, backend='cv2')
    assert patch_mmcv_adjust_hue()
    assert mmcv.adjust_hue is not original
    assert patch_mmcv_adjust_hue()  # idempotent
    rgb = rand_img(9, 11, seed=3)
    bgr = np.ascontiguousarray(rgb[..., ::-1])
    turns = (int(-0.1 * 255) % 256) / 256  # -25 of 256 hue steps
    expected = np.empty(rgb.shape, dtype=int)
    for idx in np.ndindex(rgb.shape[:2]):
        h, s, v = colorsys.rgb_to_hsv(*(rgb[idx] / 255.))
        expected[idx] = np.floor(
            np.array(colorsys.hsv_to_rgb((h + turns) % 1.0, s, v)) * 255 +
            0.5)
    for backend in ('pillow', 'cv2'):
        out = mmcv.adjust_hue(bgr, -0.1, backend=backend)
        assert out.shape == bgr.shape and out.dtype == np.uint8
        diff = np.abs(out[..., ::-1].astype(int) - expected)
        # one 8-bit hue step moves a saturated channel by up to ~6 levels
        assert diff.max() <= 8 and diff.mean() < 1.5, (backend, diff.max())
        assert np.array_equal(
            mmcv.adjust_hue(bgr, 0.1, backend=backend),
            original(bgr, 0.1, backend=backend))
