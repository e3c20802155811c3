"""The joint two-view transform of SiameseIM (docs/method.md §1, §7)."""
import numbers
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmcv.image.geometric import cv2_interp_codes, pillow_interp_codes
from mmcv.transforms import BaseTransform, Compose
from mmpretrain.datasets.transforms import RandomResizedCrop
from mmpretrain.registry import TRANSFORMS

from ...arg_checks import check_choice, check_int, check_real, repr_fields
from ...models.utils.colour_params import (COLOUR_PARAMS_KEY, STAGES,
                                           identity_record)
from ...models.utils.relative_position import RelPos
from ...models.utils.relative_position import ViewBox as ViewParams
from .color import check_uint8_image

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


@TRANSFORMS.register_module()
class SiameseIMViews(BaseTransform):
    """Make SiameseIM's two views of one image and record their geometry.

    Per view: flip the whole image with probability ``flip_prob``, sample
    a torchvision ``RandomResizedCrop`` box on it, crop, resize to
    ``img_size`` (docs/method.md §1); then view 1 (online, masked) goes
    through ``online_pipeline``, view 2 (target) through
    ``target_pipeline``, both in RGB. Randomness: NumPy's global RNG.

    **Required Keys**: ``img`` (``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``
    uint8 in ``channel_order``). **Modified Keys**: ``img`` (the two
    ``(S, S, 3)`` views, input channel order), ``img_shape``. **Added
    Keys**: ``rel_pos`` (the float32 ``(6,)`` :class:`RelPos` record),
    ``view_boxes`` (the two ``(flip, box)`` it comes from, for the
    visualiser) and, with ``colour_on='device'``, ``colour_params`` (the
    ``(2, 14)`` records of :mod:`~mmsiameseim.models.utils.colour_params`).

    Args:
        img_size (int): Output side length S. Defaults to 224.
        crop_scale (tuple[float, float]): Range of the crop area fraction.
            Defaults to (0.08, 1.0).
        crop_ratio (tuple[float, float]): Range of the crop aspect ratio
            (width / height), log-uniform. Defaults to (3/4, 4/3).
        flip_prob (float): Probability of each view's horizontal flip.
            Defaults to 0.5.
        interpolation (str): Resize interpolation, one of mmcv's names for
            ``backend``. Defaults to 'bicubic'.
        online_pipeline (list[dict], optional): Colour ops of view 1.
            Defaults to None (none).
        target_pipeline (list[dict], optional): Colour ops of view 2.
            Defaults to None (none).
        channel_order (str): 'bgr' (mmcv's decoding) or 'rgb'. Defaults to
            'bgr'.
        same_crop (bool): View 2 reuses view 1's flip and crop (the "same
            view" ablation). Defaults to False.
        backend (str): 'cv2' or 'pillow' (anti-aliased shrinking, as the
            original's torchvision crops; docs/design.md). Defaults to
            'cv2'.
        colour_on (str): 'worker' (the colour ops run here) or 'device'
            (only their draws, applied by ``SiameseIMDataPreprocessor``;
            only the four ``Sim*`` ops, each at most once, in the order
            jitter, grayscale, blur, solarize; docs/method.md §1). Defaults
            to 'worker'.
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
        name = 'SiameseIMViews: `{}`'.format
        self.img_size = check_int(img_size, name('img_size'))
        self.crop_scale = _check_range(crop_scale, 'crop_scale', 0., 1.)
        self.crop_ratio = _check_range(crop_ratio, 'crop_ratio', 0., None)
        self._crop = RandomResizedCrop(
            self.img_size,
            crop_ratio_range=self.crop_scale,
            aspect_ratio_range=self.crop_ratio)
        self.flip_prob = float(
            check_real(flip_prob, name('flip_prob'), 0, high=1))
        self.backend = check_choice(backend, name('backend'),
                                    tuple(_INTERP_CODES))
        self.interpolation = check_choice(
            interpolation,
            name('interpolation') + f' ({backend} backend)',
            tuple(sorted(_INTERP_CODES[backend])))
        self.channel_order = check_choice(channel_order, name('channel_order'),
                                          ('bgr', 'rgb'))
        if not isinstance(same_crop, bool):
            raise ValueError(f'{name("same_crop")} must be a bool, got '
                             f'{same_crop!r}')
        self.same_crop = same_crop
        self.online_pipeline = self._build_pipeline(online_pipeline,
                                                    'online_pipeline')
        self.target_pipeline = self._build_pipeline(target_pipeline,
                                                    'target_pipeline')
        self.colour_on = check_choice(colour_on, name('colour_on'),
                                      COLOUR_ROUTES)
        if colour_on == 'device':
            self._check_device_pipeline(self.online_pipeline,
                                        'online_pipeline')
            self._check_device_pipeline(self.target_pipeline,
                                        'target_pipeline')

    @staticmethod
    def _build_pipeline(cfgs: Optional[Sequence], name: str) -> Compose:
        cfgs = [] if cfgs is None else cfgs
        if not isinstance(cfgs, (list, tuple)) or not all(
                isinstance(cfg, dict) or callable(cfg) for cfg in cfgs):
            raise TypeError(f'SiameseIMViews: `{name}` must be a list of '
                            f'transform configs or callables, got {cfgs!r}')
        return Compose([
            TRANSFORMS.build(cfg) if isinstance(cfg, dict) else cfg
            for cfg in cfgs
        ])

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
        """mmpretrain's ``RandomResizedCrop`` box (torchvision's sampling,
        NumPy's RNG) on an image ``height x width``."""
        # rand_crop_params reads only the shape of the image it is given
        shape_only = np.empty((height, width, 0), np.uint8)
        return tuple(int(v) for v in self._crop.rand_crop_params(shape_only))

    def sample_view_params(self, height: int,
                           width: int) -> Tuple[ViewParams, ViewParams]:
        """``((flip1, box1), (flip2, box2))`` of an image ``height x width``:
        boxes ``(top, left, height, width)`` in each view's flipped frame."""
        view1 = (self._sample_flip(), self._sample_crop(height, width))
        if self.same_crop:
            return view1, view1
        view2 = (self._sample_flip(), self._sample_crop(height, width))
        return view1, view2

    def crop_view(self, img: np.ndarray, params: ViewParams) -> np.ndarray:
        """The ``(S, S, C)`` view ``(flip, (top, left, height, width))`` of
        an ``(H, W, C)`` image: flipped, cropped and resized."""
        flip, (top, left, h, w) = params
        if flip:
            # the box lives in the flipped frame: crop the mirrored columns
            # of the original, then flip only the crop (same pixels as
            # flipping the whole image first, without touching the rest)
            width = img.shape[1]
            crop = cv2.flip(img[top:top + h, width - left - w:width - left], 1)
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
            view = mmcv.bgr2rgb(view)
        out = pipeline(
            dict(results, img=view, img_shape=(self.img_size, ) * 2))
        if out is None:
            raise RuntimeError(f'SiameseIMViews: `{name}` returned None')
        view = out['img']
        if self.channel_order == 'bgr':
            view = mmcv.rgb2bgr(view)
        return view

    @staticmethod
    def draw_colour(pipeline: Compose) -> np.ndarray:
        """The float32 ``colour_params`` record of a pipeline of device-route
        ops: each draws what it would draw when applied, nothing applied."""
        record = identity_record()
        for t in pipeline.transforms:
            params = t.draw_params()
            if params is not None:
                t.write_params(record, params)
        return record

    def transform(self, results: dict) -> dict:
        """Make the two views and their geometry (the keys of the class
        docstring)."""
        img = check_uint8_image(results['img'], 'SiameseIMViews', gray=True)
        if img.ndim == 2 or img.shape[2] == 1:
            img = mmcv.gray2rgb(img)
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
        geo = RelPos.from_boxes(params1, params2, width)
        results['rel_pos'] = geo.to_array()
        results['view_boxes'] = (params1, params2)
        return results

    def __repr__(self) -> str:
        return repr_fields(self, 'img_size', 'crop_scale', 'crop_ratio',
                           'flip_prob', 'interpolation', 'backend',
                           'channel_order', 'same_crop', 'colour_on',
                           'online_pipeline', 'target_pipeline')
