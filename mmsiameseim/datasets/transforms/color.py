"""Colour transforms of the two views on ``(H, W, 3)`` uint8 RGB images
(docs/method.md §1, §7), each applied with probability ``prob``; they draw
from NumPy's global RNG (``draw_params``) apart from applying, so that the
device route draws the same numbers.
"""
from typing import Any, Optional, Tuple

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmpretrain.registry import TRANSFORMS
from PIL import Image, ImageFilter

from ...arg_checks import check_real, repr_fields
from ...models.utils.colour_params import INDEX, JITTER_IDENTITY, JITTER_OPS

# ITU-R 601-2 luma weights (PIL's ``convert('L')``).
LUMA_WEIGHTS = (0.299, 0.587, 0.114)
_UINT8_RAMP = np.arange(256, dtype=np.uint8)


def check_uint8_image(img, who: str, gray: bool = False) -> np.ndarray:
    """``img`` if it is an ``(H, W, 3)`` uint8 array (or, if ``gray``,
    ``(H, W)`` / ``(H, W, 1)``), else an error naming ``who``."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        raise TypeError(f"{who} needs results['img'] to be a uint8 numpy "
                        f"array, got {type(img).__name__} "
                        f"{getattr(img, 'dtype', '')}")
    shape = img.shape if img.ndim != 2 else img.shape + (1, )
    if len(shape) != 3 or shape[2] not in ((1, 3) if gray else (3, )):
        shapes = '(H, W), (H, W, 1) or (H, W, 3)' if gray else '(H, W, 3)'
        raise ValueError(f"{who} needs results['img'] of shape {shapes}, "
                         f'got {img.shape}')
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
    """Blend with black: ``factor * img`` (torchvision semantics), as a
    lookup table of the same float expression on 0..255 (bit-identical to
    the per-pixel expression, several times faster)."""
    lut = _to_uint8(_UINT8_RAMP.astype(np.float32) * factor)
    return cv2.LUT(img, lut)


def adjust_contrast(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the mean of the grayscale image (torchvision semantics);
    per value given the mean, hence a lookup table."""
    mean = float(rgb_to_luma(img).mean())
    lut = _to_uint8(
        _UINT8_RAMP.astype(np.float32) * factor + (1 - factor) * mean)
    return cv2.LUT(img, lut)


def adjust_saturation(img: np.ndarray, factor: float) -> np.ndarray:
    """Blend with the grayscale image (torchvision semantics): the
    arithmetic of ``_to_uint8(img * factor + (1 - factor) * gray)`` in
    place."""
    gray = rgb_to_luma(img)[..., None]
    out = img.astype(np.float32) * factor
    out += (1 - factor) * gray
    out += 0.5
    np.floor(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def adjust_hue(img: np.ndarray, hue_shift: float) -> np.ndarray:
    """Rotate the hue by ``hue_shift`` of a full turn (in [-0.5, 0.5]).

    On float32 HSV with the modulo in floating point: no 8-bit hue
    quantisation, and negative shifts work under NumPy 2 (mmcv 2.1's
    ``adjust_hue`` overflows a uint8).
    """
    hsv = cv2.cvtColor(img.astype(np.float32) / 255., cv2.COLOR_RGB2HSV)
    hsv[..., 0] = np.mod(hsv[..., 0] + 360. * hue_shift, 360.)
    rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
    return _to_uint8(rgb * 255.)


class _RandomColorOp(BaseTransform):
    """Base class: apply the op with probability ``prob``."""

    #: Which stage of the device route the op is (``colour_params.STAGES``).
    colour_stage = ''
    #: The options ``repr`` shows.
    _repr_keys: Tuple[str, ...] = ('prob', )

    def __init__(self, prob: float) -> None:
        name = f'{type(self).__name__}: `prob`'
        self.prob = float(check_real(prob, name, 0, high=1))

    def sample_params(self) -> Any:
        """The op's parameters, drawn when it applies."""
        return ()

    def draw_params(self) -> Any:
        """None (not applied) or :meth:`sample_params`."""
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
        """Apply the op to ``results['img']`` with probability ``prob``."""
        img = check_uint8_image(results['img'], type(self).__name__)
        params = self.draw_params()
        if params is not None:
            results['img'] = self.apply_params(img, params)
        return results

    def __repr__(self) -> str:
        return repr_fields(self, *self._repr_keys)


@TRANSFORMS.register_module()
class SimColorJitter(_RandomColorOp):
    """torchvision ``ColorJitter`` on RGB uint8 images, applied with ``prob``.

    The four ops run in a random order. Brightness, contrast and saturation
    factors ~ U(max(0, 1 - v), 1 + v), the hue shift ~ U(-hue, hue) in
    turns, as torchvision; an op of strength 0 is skipped.

    Args:
        brightness (float): Brightness strength. Defaults to 0.4.
        contrast (float): Contrast strength. Defaults to 0.4.
        saturation (float): Saturation strength. Defaults to 0.2.
        hue (float): Hue strength, in [0, 0.5]. Defaults to 0.1.
        prob (float): Probability of applying the jitter. Defaults to 0.8.
    """

    colour_stage = 'jitter'
    _repr_keys = ('brightness', 'contrast', 'saturation', 'hue', 'prob')

    def __init__(self,
                 brightness: float = 0.4,
                 contrast: float = 0.4,
                 saturation: float = 0.2,
                 hue: float = 0.1,
                 prob: float = 0.8) -> None:
        super().__init__(prob)
        for name, value in (('brightness', brightness), ('contrast', contrast),
                            ('saturation', saturation), ('hue', hue)):
            high = 0.5 if name == 'hue' else None
            check_real(value, f'SimColorJitter: `{name}`', 0, high=high)
            setattr(self, name, float(value))

    @staticmethod
    def _factor_range(value: float) -> Optional[Tuple[float, float]]:
        return None if value == 0 else (max(0., 1. - value), 1. + value)

    def sample_params(self) -> Tuple[np.ndarray, list]:
        """A permutation of ``range(4)`` and the factors of (brightness,
        contrast, saturation, hue), ``None`` for disabled ops."""
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


@TRANSFORMS.register_module()
class SimGaussianBlur(_RandomColorOp):
    """PIL ``GaussianBlur(radius=sigma)``, sigma ~ U(sigma_min, sigma_max).

    Args:
        sigma_min (float): Lower bound of sigma. Defaults to 0.1.
        sigma_max (float): Upper bound of sigma. Defaults to 2.0.
        prob (float): Probability of blurring. Defaults to 1.0.
    """

    colour_stage = 'blur'
    _repr_keys = ('sigma_min', 'sigma_max', 'prob')

    def __init__(self,
                 sigma_min: float = 0.1,
                 sigma_max: float = 2.0,
                 prob: float = 1.0) -> None:
        super().__init__(prob)
        self.sigma_min = float(
            check_real(sigma_min, 'SimGaussianBlur: `sigma_min`', 0))
        self.sigma_max = float(
            check_real(sigma_max, 'SimGaussianBlur: `sigma_max` (>= '
                       '`sigma_min`)', self.sigma_min))

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


@TRANSFORMS.register_module()
class SimSolarize(_RandomColorOp):
    """PIL ``ImageOps.solarize``: invert pixels ``>= threshold``.

    Args:
        threshold (int): Pixels at or above it are inverted; 256 inverts
            nothing. Defaults to 128.
        prob (float): Probability of solarizing. Defaults to 0.2.
    """

    colour_stage = 'solarize'
    _repr_keys = ('threshold', 'prob')

    def __init__(self, threshold: int = 128, prob: float = 0.2) -> None:
        super().__init__(prob)
        self.threshold = check_real(
            threshold, 'SimSolarize: `threshold`', 0, high=256)

    def apply_params(self, img: np.ndarray, params: Any = ()) -> np.ndarray:
        """Invert the pixels ``>= threshold``."""
        return np.where(img >= self.threshold, 255 - img, img).astype(np.uint8)

    def write_params(self, record: np.ndarray, params: Any = ()) -> None:
        """Solarize on, its threshold."""
        record[INDEX['solarize']] = 1
        record[INDEX['threshold']] = self.threshold
