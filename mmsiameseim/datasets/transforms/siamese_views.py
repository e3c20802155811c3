"""The joint two-view transform of SiameseIM (docs/method.md §1, §7)."""
import math
import numbers
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.image.geometric import cv2_interp_codes, pillow_interp_codes
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.registry import TRANSFORMS

from ...models.utils.colour_params import (COLOUR_PARAMS_KEY, STAGES,
                                           identity_record)
from ...models.utils.relative_position import RelPos
from ...models.utils.relative_position import ViewBox as ViewParams

# Interpolation names each resize backend accepts (mmcv's tables).
_INTERP_CODES = {'cv2': cv2_interp_codes, 'pillow': pillow_interp_codes}
COLOUR_ROUTES = ('worker', 'device')


def _check_range(value, name: str, low_open: float,
                 high: Optional[float]) -> Tuple[float, float]:
    ok = (
        isinstance(value, Sequence) and len(value) == 2
        and all(isinstance(v, numbers.Real) for v in value))
    if ok:
        lo, hi = float(value[0]), float(value[1])
        ok = low_open < lo <= hi and (high is None or hi <= high)
    if not ok:
        bound = '' if high is None else f' <= {high}'
        raise ValueError(f'SiameseIMViews: `{name}` must be a pair (lo, hi) '
                         f'with {low_open} < lo <= hi{bound}, got {value!r}')
    return lo, hi


def _swap_rb(img: np.ndarray) -> np.ndarray:
    """BGR <-> RGB of an ``(H, W, 3)`` uint8 image (cv2: one fast pass)."""
    if img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8:
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return np.ascontiguousarray(img[..., ::-1])


@TRANSFORMS.register_module()
class SiameseIMViews(BaseTransform):
    """Make SiameseIM's two views of one image and record their geometry.

    For each view independently: flip the whole image horizontally with
    probability ``flip_prob``, sample a torchvision ``RandomResizedCrop`` box
    on the (possibly flipped) image, crop it and resize it to
    ``img_size x img_size``. View 1 (online, masked) then goes through
    ``online_pipeline`` and view 2 (target) through ``target_pipeline``; these
    colour sub-pipelines always see RGB images.

    **Required Keys**: ``img`` (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``
    uint8, channel order ``channel_order``).

    **Modified Keys**: ``img`` (list of two ``(S, S, 3)`` uint8 views, in the
    input channel order), ``img_shape`` (``(S, S)``).

    **Added Keys**: ``rel_pos``: the float32 ``(6,)`` record of
    :class:`~mmsiameseim.models.utils.RelPos` (``di, dj, dh, dw, rflip,
    dj_flip``), computed from the two crop boxes in each view's flipped
    frame and the original width; ``view_boxes``: the two
    :data:`~mmsiameseim.models.utils.relative_position.ViewBox` records
    ``(flip, (top, left, height, width))`` it was computed from (for
    visualisation; ``PackInputs`` does not pack it unless asked); with
    ``colour_on='device'``, ``colour_params``: the float32 ``(2, 14)``
    records of the colour parameters of view 1 and view 2
    (:mod:`~mmsiameseim.models.utils.colour_params`).

    Randomness comes from NumPy's global RNG (``np.random``).

    Args:
        img_size (int): Output side length S. Defaults to 224.
        crop_scale (tuple[float, float]): Range of the crop area fraction.
            Defaults to (0.08, 1.0).
        crop_ratio (tuple[float, float]): Range of the crop aspect ratio
            (width / height), sampled log-uniformly. Defaults to (3/4, 4/3).
        flip_prob (float): Probability of the horizontal flip of each view.
            Defaults to 0.5.
        interpolation (str): Interpolation of the resize: 'nearest',
            'bilinear', 'bicubic', 'area' or 'lanczos' ('area' only with
            cv2, 'box' and 'hamming' only with pillow). Defaults to
            'bicubic'.
        backend (str): Resize library, ``'cv2'`` or ``'pillow'``. Pillow
            anti-aliases when it shrinks (its filter support grows with the
            scale factor), as torchvision's ``RandomResizedCrop`` on PIL
            images of the original implementation does; cv2 samples the
            kernel at the output pixels only, which aliases fine detail
            when a large crop shrinks to a small view. Pillow costs more
            time per sample (see ``docs/benchmarks.md``). Defaults to
            ``'cv2'``; the ImageNet configs use ``'pillow'``.
        online_pipeline (list[dict], optional): Transforms of view 1.
            Defaults to None (no colour ops).
        target_pipeline (list[dict], optional): Transforms of view 2.
            Defaults to None (no colour ops).
        channel_order (str): Channel order of the input image, 'bgr' (what
            mmcv loads) or 'rgb'. Defaults to 'bgr'.
        same_crop (bool): Whether view 2 reuses view 1's flip and crop
            (the "same view" ablation; ``rel_pos`` is then the identity).
            Defaults to False.
        colour_on (str): Where the colour ops run. ``'worker'``: here, on
            each view (the exact-to-the-original route). ``'device'``:
            here only their random draws, the same numbers in the same
            order from the same generator, written to ``colour_params``;
            the views stay uncoloured and
            :class:`~mmsiameseim.models.SiameseIMDataPreprocessor` applies
            the records to the batch on the model's device. The device
            route takes only the four ``Sim*`` colour ops, each at most
            once per view and in the order jitter, grayscale, blur,
            solarize. Defaults to ``'worker'``.
    """

    def __init__(self,
                 img_size: int = 224,
                 crop_scale: Tuple[float, float] = (0.08, 1.0),
                 crop_ratio: Tuple[float, float] = (3. / 4., 4. / 3.),
                 flip_prob: float = 0.5,
                 interpolation: str = 'bicubic',
                 online_pipeline: Optional[List[dict]] = None,
                 target_pipeline: Optional[List[dict]] = None,
                 channel_order: str = 'bgr',
                 same_crop: bool = False,
                 backend: str = 'cv2',
                 colour_on: str = 'worker') -> None:
        if (not isinstance(img_size, numbers.Integral)
                or isinstance(img_size, bool) or img_size < 1):
            raise ValueError('SiameseIMViews: `img_size` must be a positive '
                             f'int, got {img_size!r}')
        self.img_size = int(img_size)
        self.crop_scale = _check_range(crop_scale, 'crop_scale', 0., 1.)
        self.crop_ratio = _check_range(crop_ratio, 'crop_ratio', 0., None)
        if (not isinstance(flip_prob, numbers.Real)
                or isinstance(flip_prob, bool) or not 0 <= flip_prob <= 1):
            raise ValueError('SiameseIMViews: `flip_prob` must be in [0, 1], '
                             f'got {flip_prob!r}')
        self.flip_prob = float(flip_prob)
        codes = _INTERP_CODES.get(backend)
        if codes is None:
            raise ValueError("SiameseIMViews: `backend` must be 'cv2' or "
                             f"'pillow', got {backend!r}")
        self.backend = backend
        if interpolation not in codes:
            raise ValueError('SiameseIMViews: `interpolation` must be one of '
                             f'{sorted(codes)} with the {backend} backend, '
                             f'got {interpolation!r}')
        self.interpolation = interpolation
        if channel_order not in ('bgr', 'rgb'):
            raise ValueError("SiameseIMViews: `channel_order` must be 'bgr' "
                             f"or 'rgb', got {channel_order!r}")
        self.channel_order = channel_order
        if not isinstance(same_crop, bool):
            raise ValueError('SiameseIMViews: `same_crop` must be a bool, '
                             f'got {same_crop!r}')
        self.same_crop = same_crop
        self.online_pipeline = self._build_pipeline(online_pipeline,
                                                    'online_pipeline')
        self.target_pipeline = self._build_pipeline(target_pipeline,
                                                    'target_pipeline')
        if colour_on not in COLOUR_ROUTES:
            raise ValueError('SiameseIMViews: `colour_on` must be one of '
                             f'{COLOUR_ROUTES}, got {colour_on!r}')
        self.colour_on = colour_on
        if colour_on == 'device':
            self._check_device_pipeline(self.online_pipeline,
                                        'online_pipeline')
            self._check_device_pipeline(self.target_pipeline,
                                        'target_pipeline')

    @staticmethod
    def _build_pipeline(cfgs: Optional[Sequence], name: str) -> Compose:
        if cfgs is None:
            cfgs = []
        if not isinstance(cfgs, (list, tuple)):
            raise TypeError(f'SiameseIMViews: `{name}` must be a list of '
                            f'transform configs, got {type(cfgs).__name__}')
        built = []
        for cfg in cfgs:
            if isinstance(cfg, dict):
                built.append(TRANSFORMS.build(cfg))
            elif callable(cfg):
                built.append(cfg)
            else:
                raise TypeError(f'SiameseIMViews: every item of `{name}` '
                                'must be a dict or a callable, got '
                                f'{type(cfg).__name__}')
        return Compose(built)

    @staticmethod
    def _check_device_pipeline(pipeline: Compose, name: str) -> None:
        """The device applies the stages in a fixed order, once each."""
        stages = [getattr(t, 'colour_stage', '') for t in pipeline.transforms]
        known = all(s in STAGES for s in stages)
        ranks = [STAGES.index(s) for s in stages] if known else []
        if not known or ranks != sorted(set(ranks)):
            names = [type(t).__name__ for t in pipeline.transforms]
            raise ValueError(
                f"SiameseIMViews(colour_on='device'): `{name}` must hold "
                'only SimColorJitter, SimRandomGrayscale, SimGaussianBlur '
                'and SimSolarize, each at most once, in this order (the '
                f'order the data preprocessor applies them); got {names}')

    def _sample_flip(self) -> bool:
        return bool(np.random.rand() < self.flip_prob)

    def _sample_crop(self, height: int,
                     width: int) -> Tuple[int, int, int, int]:
        """torchvision ``RandomResizedCrop.get_params`` on NumPy's RNG."""
        area = height * width
        log_lo, log_hi = (math.log(r) for r in self.crop_ratio)
        for _ in range(10):
            target_area = area * np.random.uniform(*self.crop_scale)
            aspect = math.exp(np.random.uniform(log_lo, log_hi))
            w = int(round(math.sqrt(target_area * aspect)))
            h = int(round(math.sqrt(target_area / aspect)))
            if 0 < w <= width and 0 < h <= height:
                top = int(np.random.randint(0, height - h + 1))
                left = int(np.random.randint(0, width - w + 1))
                return top, left, h, w
        # Central fallback, as torchvision.
        in_ratio = width / height
        if in_ratio < self.crop_ratio[0]:
            w = width
            h = int(round(w / self.crop_ratio[0]))
        elif in_ratio > self.crop_ratio[1]:
            h = height
            w = int(round(h * self.crop_ratio[1]))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def sample_view_params(self, height: int,
                           width: int) -> Tuple[ViewParams, ViewParams]:
        """Sample the flip and crop box of both views.

        Args:
            height (int): Image height.
            width (int): Image width.

        Returns:
            tuple: ``((flip1, box1), (flip2, box2))`` with boxes
            ``(top, left, height, width)`` in each view's flipped frame.
        """
        view1 = (self._sample_flip(), self._sample_crop(height, width))
        if self.same_crop:
            return view1, view1
        view2 = (self._sample_flip(), self._sample_crop(height, width))
        return view1, view2

    @staticmethod
    def compute_rel_pos(view1: ViewParams, view2: ViewParams,
                        width: int) -> np.ndarray:
        """The float32 ``(6,)`` :class:`RelPos` record of two views.

        Args:
            view1 (tuple): ``(flip1, (i1, j1, h1, w1))``.
            view2 (tuple): ``(flip2, (i2, j2, h2, w2))``.
            width (int): Width W of the original image.

        Returns:
            np.ndarray: ``RelPos.from_boxes(view1, view2, width)``, as an
            array.
        """
        return RelPos.from_boxes(view1, view2, width).to_array()

    def crop_view(self, img: np.ndarray, params: ViewParams) -> np.ndarray:
        """Flip (optionally), crop and resize one view.

        Args:
            img (np.ndarray): ``(H, W, C)`` image.
            params (tuple): ``(flip, (top, left, height, width))``.

        Returns:
            np.ndarray: ``(S, S, C)`` view.
        """
        flip, (top, left, h, w) = params
        if flip:
            # the box lives in the flipped frame: crop the mirrored columns
            # of the original, then flip only the crop (same pixels as
            # flipping the whole image first, without touching the rest)
            width = img.shape[1]
            crop = cv2.flip(img[top:top + h, width - left - w:width - left],
                            1)
        else:
            crop = np.ascontiguousarray(img[top:top + h, left:left + w])
        view = mmcv.imresize(
            crop, (self.img_size, self.img_size),
            interpolation=self.interpolation,
            backend=self.backend)
        if view.ndim == 2:  # cv2 drops a singleton channel axis
            view = view[..., None]
        return view

    def _run_colour(self, pipeline: Compose, view: np.ndarray, results: dict,
                    name: str) -> np.ndarray:
        if not pipeline.transforms:
            return view
        if self.channel_order == 'bgr':
            view = _swap_rb(view)
        out = pipeline(
            dict(results, img=view, img_shape=(self.img_size, ) * 2))
        if out is None:
            raise RuntimeError(f'SiameseIMViews: `{name}` returned None')
        view = out['img']
        if self.channel_order == 'bgr':
            view = _swap_rb(view)
        return view

    @staticmethod
    def draw_colour(pipeline: Compose) -> np.ndarray:
        """Draw a colour pipeline's parameters without applying them.

        Every op draws from ``np.random`` exactly what it would draw when
        applied (:meth:`SimColorJitter.draw_params` and the like).

        Args:
            pipeline (Compose): A colour pipeline of device-route ops.

        Returns:
            np.ndarray: The view's float32 ``colour_params`` record.
        """
        record = identity_record()
        for t in pipeline.transforms:
            params = t.draw_params()
            if params is not None:
                t.write_params(record, params)
        return record

    def transform(self, results: dict) -> dict:
        """Make the two views and the relative geometry.

        Args:
            results (dict): Result dict with ``img``.

        Returns:
            dict: With ``img`` = [view1, view2], ``img_shape``,
            ``rel_pos``, ``view_boxes`` and, on the device route,
            ``colour_params``.
        """
        img = results['img']
        if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
            raise TypeError("SiameseIMViews needs results['img'] to be a "
                            'uint8 numpy array, got '
                            f'{type(img).__name__} '
                            f"{getattr(img, 'dtype', '')}")
        if img.ndim == 2:
            img = img[..., None]
        if img.ndim != 3 or img.shape[2] not in (1, 3):
            raise ValueError("SiameseIMViews needs results['img'] of shape "
                             f'(H, W), (H, W, 1) or (H, W, 3), got '
                             f'{img.shape}')
        if img.shape[2] == 1:
            img = np.repeat(img, 3, axis=2)
        height, width = img.shape[:2]
        params1, params2 = self.sample_view_params(height, width)
        if self.colour_on == 'device':  # draws in the worker route's order
            view1 = self.crop_view(img, params1)
            colour1 = self.draw_colour(self.online_pipeline)
            view2 = self.crop_view(img, params2)
            colour2 = self.draw_colour(self.target_pipeline)
            results[COLOUR_PARAMS_KEY] = np.stack([colour1, colour2])
        else:
            view1 = self._run_colour(self.online_pipeline,
                                     self.crop_view(img, params1), results,
                                     'online_pipeline')
            view2 = self._run_colour(self.target_pipeline,
                                     self.crop_view(img, params2), results,
                                     'target_pipeline')
        results['img'] = [view1, view2]
        results['img_shape'] = (self.img_size, self.img_size)
        results['rel_pos'] = self.compute_rel_pos(params1, params2, width)
        results['view_boxes'] = (params1, params2)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(img_size={self.img_size}, '
                f'crop_scale={self.crop_scale}, '
                f'crop_ratio={self.crop_ratio}, flip_prob={self.flip_prob}, '
                f'interpolation={self.interpolation!r}, '
                f'backend={self.backend!r}, '
                f'channel_order={self.channel_order!r}, '
                f'same_crop={self.same_crop}, '
                f'colour_on={self.colour_on!r}, '
                f'online_pipeline={self.online_pipeline}, '
                f'target_pipeline={self.target_pipeline})')
