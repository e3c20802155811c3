"""Fashion-MNIST scenes: a small, seeded semantic-segmentation benchmark.

Each scene is a square gray canvas with a few real Fashion-MNIST items
pasted at random positions and scales; later items occlude earlier ones.
The per-pixel label is ``1 + class`` of the topmost item whose resized
intensity exceeds a threshold at that pixel, and ``0`` (background) where no
item does, so there are 11 classes. Train scenes are built from the train
split only and test scenes from the test split only.

Everything is a pure function of the source images and the seed: scene
``i`` draws from its own generator ``numpy.random.default_rng([seed, i])``
and items are resized by a float64 bilinear resize written here (no
OpenCV / PIL resampling), so the bytes do not depend on library versions
or on how many scenes are requested. See ``docs/dense_probe.md``.

To look at scenes, :func:`write_scenes` writes PNGs and a json record
(``tools/benchmarks/dense_probe.py --dump-scenes DIR`` calls it).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from ..fashion_mnist import CLASSES, load_split

SCENE_CLASSES = ('background', ) + CLASSES
NUM_SCENE_CLASSES = len(SCENE_CLASSES)  # 11
# Seeds used when none is given: different layouts for the two splits.
DEFAULT_SEEDS = {'train': 0, 'test': 1}
SCENE_PALETTE = ((0, 0, 0), (230, 25, 75), (60, 180, 75), (255, 225, 25),
                 (0, 130, 200), (245, 130, 48), (145, 30, 180),
                 (70, 240, 240), (240, 50, 230), (210, 245, 60),
                 (250, 190, 212))


def resize_bilinear(img: np.ndarray, size: int) -> np.ndarray:
    """Resize a 2-D uint8 image to ``size x size``, bilinearly.

    Half-pixel centres (``align_corners=False``) with edge clamping, computed
    in float64 and rounded half-to-even, so the result is the same on every
    platform. Sizes used here are within 1.5x of the input, where bilinear
    resampling needs no anti-aliasing.

    Args:
        img (np.ndarray): ``(h, w)`` uint8 image.
        size (int): Output side length (>= 1).

    Returns:
        np.ndarray: ``(size, size)`` uint8 image.
    """
    if img.ndim != 2:
        raise ValueError(f'expected a 2-D image, got shape {img.shape}')
    if size < 1:
        raise ValueError(f'size must be >= 1, got {size}')

    def axis(n_out: int, n_in: int):
        x = (np.arange(n_out, dtype=np.float64) + 0.5) * n_in / n_out - 0.5
        x = np.clip(x, 0., n_in - 1.)
        lo = np.floor(x).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, x - lo

    y0, y1, fy = axis(size, img.shape[0])
    x0, x1, fx = axis(size, img.shape[1])
    src = img.astype(np.float64)
    top = src[y0][:, x0] * (1. - fx) + src[y0][:, x1] * fx
    bottom = src[y1][:, x0] * (1. - fx) + src[y1][:, x1] * fx
    out = top * (1. - fy)[:, None] + bottom * fy[:, None]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _check_params(num_images: int, canvas: int, min_items: int,
                  max_items: int, min_size: int, max_size: int,
                  threshold: int) -> None:
    if num_images < 1:
        raise ValueError('need at least one source image')
    if not 1 <= min_items <= max_items:
        raise ValueError('need 1 <= min_items <= max_items, got '
                         f'{min_items}, {max_items}')
    if not 1 <= min_size <= max_size <= canvas:
        raise ValueError('need 1 <= min_size <= max_size <= canvas, got '
                         f'{min_size}, {max_size}, {canvas}')
    if not 0 <= threshold < 255:
        raise ValueError(f'threshold must be in [0, 255), got {threshold}')


def render_scene(images: np.ndarray,
                 labels: np.ndarray,
                 items: Sequence[dict],
                 canvas: int,
                 threshold: int,
                 return_instances: bool = False) -> Tuple[np.ndarray, ...]:
    """Paste ``items`` in order onto an empty canvas.

    Each item's source image is resized to ``size x size`` and placed with
    its top-left corner at ``(top, left)``. Its *foreground* is where the
    resized intensity is ``> threshold``. In paste order:

    - foreground pixels overwrite the image and set the label to
      ``labels[source_index] + 1`` (so later items occlude earlier ones);
    - below-threshold pixels of the item only brighten still-unlabelled
      pixels (``max`` with the canvas): soft item borders stay visible but
      never change a label or cover an earlier item.

    Args:
        images (np.ndarray): ``(N, h, w)`` uint8 source images.
        labels (np.ndarray): ``(N, )`` integer classes in ``[0, 10)``.
        items (Sequence[dict]): Each with ``source_index``, ``size``,
            ``top`` and ``left``.
        canvas (int): Canvas side length.
        threshold (int): Foreground threshold on uint8 intensities.
        return_instances (bool): Also return the instance map. It only
            records which item set each label; image and label bytes are
            the same either way. Defaults to False.

    Returns:
        tuple[np.ndarray, ...]: ``(canvas, canvas)`` uint8 image and uint8
        label mask; with ``return_instances`` also the uint8 instance map:
        ``1 + k`` where the ``k``-th pasted item is the visible (topmost
        foreground) one, 0 where no item is (exactly where the label is 0).
    """
    img = np.zeros((canvas, canvas), dtype=np.uint8)
    mask = np.zeros((canvas, canvas), dtype=np.uint8)
    instances = np.zeros((canvas, canvas), dtype=np.uint8)
    if len(items) > 255:
        raise ValueError('at most 255 items fit a uint8 instance map')
    for k, item in enumerate(items):
        size, top, left = item['size'], item['top'], item['left']
        if top < 0 or left < 0 or top + size > canvas or \
                left + size > canvas:
            raise ValueError(f'item {item} does not fit a {canvas} canvas')
        patch = resize_bilinear(images[item['source_index']], size)
        fg = patch > threshold
        img_r = img[top:top + size, left:left + size]
        mask_r = mask[top:top + size, left:left + size]
        soft = ~fg & (mask_r == 0)
        img_r[soft] = np.maximum(img_r[soft], patch[soft])
        img_r[fg] = patch[fg]
        mask_r[fg] = int(labels[item['source_index']]) + 1
        instances[top:top + size, left:left + size][fg] = k + 1
    if return_instances:
        return img, mask, instances
    return img, mask


def generate_scenes(images: np.ndarray,
                    labels: np.ndarray,
                    num_scenes: int,
                    seed: int,
                    canvas: int = 64,
                    min_items: int = 2,
                    max_items: int = 4,
                    min_size: int = 20,
                    max_size: int = 40,
                    threshold: int = 32,
                    return_instances: bool = False) -> tuple:
    """Generate ``num_scenes`` seeded Fashion-MNIST scenes.

    Scene ``i`` uses ``numpy.random.default_rng([seed, i])`` to draw, in
    this order: the number of items ``n`` in ``[min_items, max_items]``,
    then per item a source image (uniform over ``images``), a side length
    in ``[min_size, max_size]``, and a top-left corner such that the item
    lies inside the canvas. Scene ``i`` is therefore the same whatever
    ``num_scenes`` is. Items are composed by :func:`render_scene`.

    Args:
        images (np.ndarray): ``(N, h, w)`` uint8 source images (one split).
        labels (np.ndarray): ``(N, )`` classes in ``[0, 10)``.
        num_scenes (int): Number of scenes.
        seed (int): Non-negative seed.
        canvas (int): Canvas side length. Defaults to 64.
        min_items (int): Fewest items per scene. Defaults to 2.
        max_items (int): Most items per scene. Defaults to 4.
        min_size (int): Smallest item side. Defaults to 20.
        max_size (int): Largest item side. Defaults to 40.
        threshold (int): An item covers a pixel where its resized uint8
            intensity is ``> threshold``. Defaults to 32.
        return_instances (bool): Also return the instance maps (see
            :func:`render_scene`); the other outputs do not change.
            Defaults to False.

    Returns:
        tuple: ``imgs`` ``(num_scenes, canvas, canvas)`` uint8, ``masks`` of
        the same shape (uint8, 0 = background, ``1 + class`` otherwise) and
        ``meta``, one dict per scene with ``index`` and ``items`` (in paste
        order, each with ``source_index``, ``label``, ``size``, ``top``,
        ``left``); with ``return_instances`` also ``instances`` (uint8, like
        ``masks``: ``1 + k`` for the ``k``-th item of the scene's
        ``items``, 0 where no item is visible).
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError('images must be (N, h, w) uint8, got '
                         f'{images.shape} {images.dtype}')
    if labels.shape != (len(images), ):
        raise ValueError('labels must be (N, ) with one label per image')
    if num_scenes < 0:
        raise ValueError(f'num_scenes must be >= 0, got {num_scenes}')
    if int(seed) < 0:
        raise ValueError(f'seed must be >= 0, got {seed}')
    _check_params(len(images), canvas, min_items, max_items, min_size,
                  max_size, threshold)
    if len(labels) and (labels.min() < 0 or labels.max() >= 10):
        raise ValueError('labels must lie in [0, 10)')
    imgs = np.zeros((num_scenes, canvas, canvas), dtype=np.uint8)
    masks = np.zeros((num_scenes, canvas, canvas), dtype=np.uint8)
    instances = np.zeros((num_scenes, canvas, canvas), dtype=np.uint8)
    meta = []
    for i in range(num_scenes):
        rng = np.random.default_rng([int(seed), i])
        items = []
        for _ in range(int(rng.integers(min_items, max_items + 1))):
            src = int(rng.integers(len(images)))
            size = int(rng.integers(min_size, max_size + 1))
            top = int(rng.integers(0, canvas - size + 1))
            left = int(rng.integers(0, canvas - size + 1))
            items.append(
                dict(
                    source_index=src,
                    label=int(labels[src]),
                    size=size,
                    top=top,
                    left=left))
        imgs[i], masks[i], instances[i] = render_scene(
            images, labels, items, canvas, threshold, return_instances=True)
        meta.append(dict(index=i, items=items))
    if return_instances:
        return imgs, masks, meta, instances
    return imgs, masks, meta


def load_fashion_split(data_root: str,
                       split: str) -> Tuple[np.ndarray, np.ndarray]:
    """All images and labels of one Fashion-MNIST split.

    Args:
        data_root (str): Folder with the IDX files.
        split (str): ``'train'`` or ``'test'``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(N, 28, 28)`` uint8 images and
        ``(N, )`` labels.
    """
    return load_split(data_root, split)


def make_split_scenes(data_root: str,
                      split: str,
                      num_scenes: int,
                      seed: Optional[int] = None,
                      **kwargs) -> tuple:
    """Scenes built from one split only (see :func:`generate_scenes`).

    Args:
        data_root (str): Folder with the IDX files.
        split (str): ``'train'`` or ``'test'``; items come only from it.
        num_scenes (int): Number of scenes.
        seed (int, optional): Seed. Defaults to None, i.e.
            ``DEFAULT_SEEDS[split]`` (0 for train, 1 for test).
        **kwargs: Other arguments of :func:`generate_scenes`.

    Returns:
        tuple: As :func:`generate_scenes`; each scene's meta also records
        ``split``.
    """
    if seed is None:
        seed = DEFAULT_SEEDS[split]
    images, labels = load_fashion_split(data_root, split)
    out = generate_scenes(images, labels, num_scenes, seed, **kwargs)
    for m in out[2]:
        m['split'] = split
    return out


def _save_png(path: str, array: np.ndarray, palette: bool = False) -> None:
    from PIL import Image
    image = Image.fromarray(array, mode='L' if not palette else 'P')
    if palette:
        flat = [c for rgb in SCENE_PALETTE for c in rgb]
        image.putpalette(flat + [0] * (768 - len(flat)))
    image.save(path)


def write_scenes(out_dir: str,
                 imgs: np.ndarray,
                 masks: np.ndarray,
                 meta: Sequence[dict],
                 params: Optional[dict] = None) -> Dict[str, str]:
    """Write scenes as PNG files plus a JSON record.

    Layout: ``images/{i:05d}.png`` (8-bit gray), ``masks/{i:05d}.png``
    (palette PNG whose pixel values are the labels 0-10 and whose palette
    colours them for viewing) and ``scenes.json`` with ``params``,
    ``classes`` and ``meta``.

    Args:
        out_dir (str): Output folder (created).
        imgs (np.ndarray): ``(N, H, W)`` uint8 images.
        masks (np.ndarray): ``(N, H, W)`` uint8 labels.
        meta (Sequence[dict]): Per-scene meta from :func:`generate_scenes`.
        params (dict, optional): Generation parameters to record.

    Returns:
        dict: Paths of the ``images`` and ``masks`` folders and the json.
    """
    if not len(imgs) == len(masks) == len(meta):
        raise ValueError('imgs, masks and meta must have the same length')
    img_dir = osp.join(out_dir, 'images')
    mask_dir = osp.join(out_dir, 'masks')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(mask_dir, exist_ok=True)
    for i, (img, mask) in enumerate(zip(imgs, masks)):
        _save_png(osp.join(img_dir, f'{i:05d}.png'), img)
        _save_png(osp.join(mask_dir, f'{i:05d}.png'), mask, palette=True)
    json_path = osp.join(out_dir, 'scenes.json')
    with open(json_path, 'w') as f:
        json.dump(
            dict(
                params=params or {},
                classes=list(SCENE_CLASSES),
                meta=list(meta)),
            f,
            indent=1)
    return dict(images=img_dir, masks=mask_dir, json=json_path)


@DATASETS.register_module()
class FashionMNISTScenes(BaseDataset):
    """Seeded Fashion-MNIST scenes for semantic segmentation.

    Scenes are generated in memory by :func:`make_split_scenes` when the
    dataset is initialised (64x64 canvases take 4 KiB each). Each sample
    has ``img`` (``HxWx3`` uint8, gray replicated), ``gt_seg_map`` (``HxW``
    uint8 labels, 0 = background, ``1 + class`` otherwise; the key mmseg's
    transforms use) and the same array as ``gt_seg``, ``img_shape``,
    ``ori_shape``, ``sample_idx`` and ``items`` (the scene's meta).

    Args:
        data_root (str): Folder with the Fashion-MNIST IDX files.
            Defaults to ``'data/fashion-mnist'``.
        split (str): Source split of the items, ``'train'`` or ``'test'``.
            Defaults to ``'train'``.
        num_scenes (int): Number of scenes. Defaults to 1000.
        seed (int, optional): Seed. Defaults to None (0 for train, 1 for
            test).
        canvas (int): Canvas side. Defaults to 64.
        min_items (int): Defaults to 2.
        max_items (int): Defaults to 4.
        min_size (int): Defaults to 20.
        max_size (int): Defaults to 40.
        threshold (int): Foreground threshold. Defaults to 32.
        pipeline (Sequence): Processing pipeline. Defaults to ().
        **kwargs: Other arguments of :class:`BaseDataset` (``indices``,
            ``test_mode``, ``lazy_init``, ...).
    """

    METAINFO = {'classes': SCENE_CLASSES, 'palette': SCENE_PALETTE}

    def __init__(self,
                 data_root: str = 'data/fashion-mnist',
                 split: str = 'train',
                 num_scenes: int = 1000,
                 seed: Optional[int] = None,
                 canvas: int = 64,
                 min_items: int = 2,
                 max_items: int = 4,
                 min_size: int = 20,
                 max_size: int = 40,
                 threshold: int = 32,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in DEFAULT_SEEDS:
            raise ValueError(f'`split` must be one of {sorted(DEFAULT_SEEDS)}'
                             f', got {split!r}.')
        self.split = split
        self.num_scenes = num_scenes
        self.seed = DEFAULT_SEEDS[split] if seed is None else seed
        self.scene_cfg = dict(
            canvas=canvas,
            min_items=min_items,
            max_items=max_items,
            min_size=min_size,
            max_size=max_size,
            threshold=threshold)
        self.imgs: Optional[np.ndarray] = None
        self.masks: Optional[np.ndarray] = None
        super().__init__(
            ann_file='',
            data_root=osp.expanduser(data_root),
            pipeline=pipeline,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Generate the scenes; keep the arrays, list one dict per scene."""
        self.imgs, self.masks, meta = make_split_scenes(
            self.data_root, self.split, self.num_scenes, self.seed,
            **self.scene_cfg)
        return [dict(scene_index=m['index'], items=m['items']) for m in meta]

    def get_data_info(self, idx: int) -> dict:
        """Scene ``idx`` with its image and label mask.

        Args:
            idx (int): Index in the (possibly sliced) dataset.

        Returns:
            dict: ``img``, ``gt_seg_map``, ``gt_seg``, ``img_shape``,
            ``ori_shape``, ``items`` and ``sample_idx``.
        """
        if not self._fully_initialized:
            self.full_init()
        info = super().get_data_info(idx)
        i = info.pop('scene_index')
        gray = self.imgs[i]
        info['img'] = np.repeat(gray[:, :, None], 3, axis=2)
        info['gt_seg_map'] = self.masks[i]
        info['gt_seg'] = self.masks[i]
        info['img_shape'] = gray.shape
        info['ori_shape'] = gray.shape
        return info

    def extra_repr(self) -> List[str]:
        """Split, seed and scene parameters, for ``repr``."""
        return [
            f'Split: \t{self.split}', f'Seed: \t{self.seed}',
            f'Scenes: \t{self.scene_cfg}'
        ]
