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

To look at scenes, :func:`.files.write_scenes` writes PNGs and a json
record (``tools/benchmarks/dense_probe.py --dump-scenes DIR`` calls it);
:class:`.dataset.FashionMNISTScenes` serves them as an mmpretrain dataset.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

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
    images, labels = load_split(data_root, split)
    out = generate_scenes(images, labels, num_scenes, seed, **kwargs)
    for m in out[2]:
        m['split'] = split
    return out
