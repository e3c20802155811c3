"""Colour transforms with RGB semantics for the SiameseIM two-view pipeline.

All ops read and write ``results['img']``, an ``(H, W, 3)`` uint8 array that
they treat as **RGB** (``SiameseIMViews`` converts mmcv's BGR images to RGB
before running the colour sub-pipelines, docs/method.md §1, §7). Every op is
applied with probability ``prob``. :func:`patch_mmcv_adjust_hue` is the
package's fix for mmcv 2.1's ``adjust_hue`` under NumPy 2, for pipelines
that use mmpretrain's own colour ops.

Randomness comes only from NumPy's global RNG (``np.random``), the same
generator mmpretrain's own transforms use, so ``mmengine``'s
``set_random_seed`` and its dataloader ``worker_init_fn`` make these ops
reproducible. Each op draws (:meth:`~_RandomColorOp.draw_params`) apart
from applying, so that the device colour route draws the same numbers
into a record (:mod:`~mmsiameseim.models.utils.colour_params`).
"""
import numbers
from typing import Any, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageFilter

from ...models.utils.colour_params import INDEX, JITTER_IDENTITY, JITTER_OPS

# ITU-R 601-2 luma weights (PIL's ``convert('L')``).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
_UINT8_RAMP = np.arange(256, dtype=np.uint8)


def _check_prob(prob: float, name: str = 'prob') -> float:
    if (not isinstance(prob, numbers.Real) or isinstance(prob, bool)
            or not 0 <= prob <= 1):
        raise ValueError(f'`{name}` must be a number in [0, 1], got {prob!r}')
    return float(prob)


def _check_rgb_image(img) -> np.ndarray:
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise TypeError("colour transforms need results['img'] to be a uint8 "
                        f'numpy array, got {type(img).__name__} '
                        f"{getattr(img, 'dtype', '')}")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError("colour transforms need results['img'] of shape "
                         f'(H, W, 3), got {img.shape}')
    return img


def _to_uint8(img: np.ndarray) -> np.ndarray:
    """Round half up and clip to [0, 255] (PIL-like rounding)."""
    return np.clip(np.floor(img + 0.5), 0, 255).astype(np.uint8)


def rgb_to_luma(img: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma ``0.299 R + 0.587 G + 0.114 B`` as float32 (H, W)."""
    img = img.astype(np.float32)
    r, g, b = LUMA_WEIGHTS
    return img[..., 0] * r + img[..., 1] * g + img[..., 2] * b


def adjust_brightness(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with black: ``factor * img`` (torchvision semantics).

    The map depends on the pixel value only, so it is evaluated once per
    value (the same float expression on 0..255) and applied as a lookup
    table: bit-identical to the per-pixel expression, several times faster.
    """
    lut = _to_uint8(_UINT8_RAMP.astype(np.float32) * factor)
    return cv2.LUT(img, lut)


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean of the grayscale image (torchvision semantics).

    Given the image mean the map is per value, hence a lookup table (see
    :func:`adjust_brightness`).
    """
    mean = float(rgb_to_luma(img).mean())
    lut = _to_uint8(
        _UINT8_RAMP.astype(np.float32) * factor + (1 - factor) * mean)
    return cv2.LUT(img, lut)


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the grayscale image (torchvision semantics).

    The same arithmetic as ``_to_uint8(img * factor + (1 - factor) * gray)``
    evaluated in place, without the temporaries.
    """
    gray = rgb_to_luma(img)[..., None]
    out = img.astype(np.float32) * factor
    out += (1 - factor) * gray
    out += 0.5
    np.floor(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def adjust_hue(img: np.ndarray, hue_shift: float) -> np.ndarray:
    """Rotate the hue by ``hue_shift`` of a full turn (in [-0.5, 0.5]).

    The rotation runs on float32 HSV with the hue in degrees and the modulo
    taken in floating point, so negative shifts work under NumPy 2 (unlike
    mmcv 2.1's ``adjust_hue``, which overflows a uint8; see
    :func:`patch_mmcv_adjust_hue`) and no 8-bit hue quantisation is
    introduced.
    """
    hsv = cv2.cvtColor(img.astype(np.float32) / 255., cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + 360. * hue_shift, 360.)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return _to_uint8(rgb * 255.)


def patch_mmcv_adjust_hue() -> bool:
    """Make ``mmcv.adjust_hue`` (mmcv 2.1) work with NumPy >= 2.

    The package's one workaround for mmcv's hue op: our own colour ops use
    :func:`adjust_hue` above and never call mmcv's; pipelines that use
    mmpretrain's ``ColorJitter`` (e.g. MoCo v3's) call this once first
    (``tools/benchmarks/pipeline_throughput.py`` does). mmcv adds the hue
    shift to a uint8 channel with ``np.uint8(hue_factor * 255)``, which
    NumPy 2 rejects for negative
    factors (``OverflowError``), so mmpretrain's MoCo-v3 ``ColorJitter``
    crashes on about half of the jittered images. NumPy 1 wrapped the
    truncated value modulo 256; this wrapper does the same arithmetic
    explicitly for negative factors (the same PIL / cv2 operations, hence
    the same cost) and calls mmcv's function otherwise.

    Returns:
        bool: Whether the patch was (already) installed.
    """
    import mmcv
    original = mmcv.adjust_hue
    if getattr(original, 'numpy2_safe', False):
        return True

    def adjust_hue(img, hue_factor, backend=None):
        if hue_factor >= 0:
            return original(img, hue_factor, backend=backend)
        shift = np.uint8(int(hue_factor * 255) % 256)  # NumPy 1 wrap
        if (backend or mmcv.image.io.imread_backend) == 'pillow':
            hsv = Image.fromarray(np.ascontiguousarray(img[..., ::-1]))
            h, s, v = hsv.convert('HSV').split()
            h = np.array(h, dtype=np.uint8)
            h += shift
            rgb = Image.merge('HSV', (Image.fromarray(h), s, v))
            return np.array(rgb.convert('RGB'), dtype=img.dtype)[..., ::-1]
        hsv = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_BGR2HSV_FULL)
        hsv[..., 0] += shift
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR_FULL).astype(img.dtype)

    adjust_hue.numpy2_safe = True
    mmcv.adjust_hue = adjust_hue
    return True


class _RandomColorOp(BaseTransform):
    """Base class: apply the op with probability ``prob``."""

    #: Which stage of the device route the op is (``colour_params.STAGES``).
    colour_stage = ''

    def __init__(self, prob: float) -> None:
        self.prob = _check_prob(prob)

    def sample_params(self) -> Any:
        """The op's parameters, drawn when it applies (none by default)."""
        return ()

    def draw_params(self) -> Any:
        """Draw what :meth:`transform` draws: None (not applied) or the
        op's parameters (:meth:`sample_params`)."""
        if np.random.rand() < self.prob:
            return self.sample_params()
        return None

    def apply_params(self, img: np.ndarray, params: Any) -> np.ndarray:
        """Apply the op with drawn ``params`` to an RGB uint8 image."""
        raise NotImplementedError

    def write_params(self, record: np.ndarray, params: Any) -> None:
        """Write drawn ``params`` into a view's ``colour_params`` record."""
        raise NotImplementedError

    def transform(self, results: dict) -> dict:
        """Apply the op to ``results['img']`` with probability ``prob``.

        Args:
            results (dict): Result dict with an RGB uint8 ``img``.

        Returns:
            dict: The result dict with ``img`` updated.
        """
        img = _check_rgb_image(results['img'])
        params = self.draw_params()
        if params is not None:
            results['img'] = self.apply_params(img, params)
        return results


@TRANSFORMS.register_module()
class SimColorJitter(_RandomColorOp):
    """torchvision ``ColorJitter`` on RGB uint8 images, applied with ``prob``.

    The four ops run in a random order. Factors are drawn like torchvision:
    brightness, contrast and saturation factors ~ U(max(0, 1 - v), 1 + v),
    the hue shift ~ U(-hue, hue) in fractions of a full turn. An op whose
    strength is 0 is skipped.

    Args:
        brightness (float): Brightness strength. Defaults to 0.4.
        contrast (float): Contrast strength. Defaults to 0.4.
        saturation (float): Saturation strength. Defaults to 0.2.
        hue (float): Hue strength, in [0, 0.5]. Defaults to 0.1.
        prob (float): Probability of applying the jitter. Defaults to 0.8.
    """

    colour_stage = 'jitter'

    def __init__(self,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.2,
                 hue: float = 0.1,
                 prob: float = 0.8) -> None:
        super().__init__(prob)
        for name, value in (('brightness', brightness), ('contrast', contrast),
                            ('saturation', saturation)):
            if (not isinstance(value, numbers.Real) or isinstance(value, bool)
                    or value < 0):
                raise ValueError(f'SimColorJitter: `{name}` must be a '
                                 f'non-negative number, got {value!r}')
        if (not isinstance(hue, numbers.Real) or isinstance(hue, bool)
                or not 0 <= hue <= 0.5):
            raise ValueError('SimColorJitter: `hue` must be a number in '
                             f'[0, 0.5], got {hue!r}')
        self.brightness = float(brightness)
        self.contrast = float(contrast)
        self.saturation = float(saturation)
        self.hue = float(hue)

    @staticmethod
    def _factor_range(value: float) -> Optional[Tuple[float, float]]:
        return None if value == 0 else (max(0., 1. - value), 1. + value)

    def sample_params(self) -> Tuple[np.ndarray, list]:
        """Draw the op order and the factors, like torchvision.

        Returns:
            tuple: ``(order, factors)``: a permutation of ``range(4)`` and
            the factors of (brightness, contrast, saturation, hue), ``None``
            for disabled ops.
        """
        order = np.random.permutation(4)
        factors = []
        for value in (self.brightness, self.contrast, self.saturation):
            rng = self._factor_range(value)
            factors.append(None if rng is None else np.random.uniform(*rng))
        hue = None
        if self.hue > 0:
            hue = np.random.uniform(-self.hue, self.hue)
        factors.append(hue)
        return order, factors

    def apply_params(self, img: np.ndarray, params: tuple) -> np.ndarray:
        """Apply ``(order, factors)`` of :meth:`sample_params`."""
        ops = (adjust_brightness, adjust_contrast, adjust_saturation,
               adjust_hue)
        order, factors = params
        for idx in order:
            if factors[idx] is not None:
                img = ops[idx](img, factors[idx])
        return img

    def write_params(self, record: np.ndarray, params: tuple) -> None:
        """Jitter on, the order, the factors (identity for ``None``)."""
        order, factors = params
        record[INDEX['jitter']] = 1
        record[INDEX['order_0']:INDEX['order_0'] + 4] = order
        for name, value, same in zip(JITTER_OPS, factors, JITTER_IDENTITY):
            record[INDEX[name]] = same if value is None else value

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, saturation={self.saturation}, '
                f'hue={self.hue}, prob={self.prob})')


@TRANSFORMS.register_module()
class SimRandomGrayscale(_RandomColorOp):
    """Convert to ITU-R 601-2 luma replicated on 3 channels, with ``prob``.

    Args:
        prob (float): Probability of the conversion. Defaults to 0.2.
    """

    colour_stage = 'grayscale'

    def __init__(self, prob: float = 0.2) -> None:
        super().__init__(prob)

    def apply_params(self, img: np.ndarray, params: Any = ()) -> np.ndarray:
        """Rounded luma on 3 channels."""
        gray = _to_uint8(rgb_to_luma(img))
        return np.repeat(gray[..., None], 3, axis=2)

    def write_params(self, record: np.ndarray, params: Any = ()) -> None:
        """Grayscale on."""
        record[INDEX['grayscale']] = 1

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class SimGaussianBlur(_RandomColorOp):
    """PIL ``GaussianBlur(radius=sigma)``, sigma ~ U(sigma_min, sigma_max).

    Args:
        sigma_min (float): Lower bound of sigma. Defaults to 0.1.
        sigma_max (float): Upper bound of sigma. Defaults to 2.0.
        prob (float): Probability of blurring. Defaults to 1.0.
    """

    colour_stage = 'blur'

    def __init__(self,
                 sigma_min: float = 0.1,
                 sigma_max: float = 2.0,
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        if (not isinstance(sigma_min, numbers.Real)
                or not isinstance(sigma_max, numbers.Real)
                or not 0 <= sigma_min <= sigma_max):
            raise ValueError('SimGaussianBlur: need 0 <= `sigma_min` <= '
                             f'`sigma_max`, got sigma_min={sigma_min!r}, '
                             f'sigma_max={sigma_max!r}')
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)

    def sample_params(self) -> float:
        """sigma ~ U(sigma_min, sigma_max)."""
        return np.random.uniform(self.sigma_min, self.sigma_max)

    def apply_params(self, img: np.ndarray, params: float) -> np.ndarray:
        """PIL's Gaussian blur with ``radius=params`` (sigma)."""
        blurred = Image.fromarray(img).filter(
            ImageFilter.GaussianBlur(radius=params))
        return np.array(blurred, dtype=np.uint8)

    def write_params(self, record: np.ndarray, params: float) -> None:
        """Blur on, its sigma."""
        record[INDEX['blur']] = 1
        record[INDEX['sigma']] = params

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(sigma_min={self.sigma_min}, '
                f'sigma_max={self.sigma_max}, prob={self.prob})')


@TRANSFORMS.register_module()
class SimSolarize(_RandomColorOp):
    """PIL ``ImageOps.solarize``: invert pixels ``>= threshold``.

    Args:
        threshold (int): Pixels at or above it are inverted; 256 inverts
            nothing. Defaults to 128.
        prob (float): Probability of solarizing. Defaults to 0.2.
    """

    colour_stage = 'solarize'

    def __init__(self, threshold: int = 128, prob: float = 0.2) -> None:
        super().__init__(prob)
        if (not isinstance(threshold, numbers.Real)
                or isinstance(threshold, bool) or not 0 <= threshold <= 256):
            raise ValueError('SimSolarize: `threshold` must be a number in '
                             f'[0, 256], got {threshold!r}')
        self.threshold = threshold

    def apply_params(self, img: np.ndarray, params: Any = ()) -> np.ndarray:
        """Invert the pixels ``>= threshold``."""
        return np.where(img >= self.threshold, 255 - img, img).astype(np.uint8)

    def write_params(self, record: np.ndarray, params: Any = ()) -> None:
        """Solarize on, its threshold."""
        record[INDEX['solarize']] = 1
        record[INDEX['threshold']] = self.threshold

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(threshold={self.threshold}, '
                f'prob={self.prob})')
