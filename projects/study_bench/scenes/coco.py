"""Fashion-MNIST scenes as a COCO instance-segmentation dataset.

Each item of a scene (see :mod:`.generate`) becomes one COCO
instance: its *visible* pixels (where it is the topmost foreground item,
the scene's instance map) are the mask, the tight box around them is the
box, their count is the area and its Fashion-MNIST class is the category
(ids 1-10 in the order of the Fashion-MNIST ``CLASSES``). Items with fewer than
``min_area`` visible pixels (:data:`MIN_VISIBLE_AREA`, 32 by default; about
3 % of the items of the default scenes, mostly thin slivers under later
items) are left out. Masks are stored as compressed RLE (``pycocotools``),
so the annotation is exact.

Layout written by :func:`write_coco_scenes` (read by mmdet's
``CocoDataset`` and ``CocoMetric``)::

    OUT/annotations/instances_{split}.json
    OUT/{split}/{i:05d}.png            # 8-bit gray scenes

``tools/data/make_fashion_scenes_coco.py`` is the command line.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..fashion_mnist import CLASSES
from .files import save_png
from .generate import DEFAULT_SEEDS, make_split_scenes

#: Items with fewer visible pixels than this get no annotation.
MIN_VISIBLE_AREA = 32

#: COCO categories: id ``1 + class``, in Fashion-MNIST's class order.
COCO_CATEGORIES = tuple(
    dict(id=i + 1, name=name, supercategory='fashion')
    for i, name in enumerate(CLASSES))


def encode_mask(mask: np.ndarray) -> dict:
    """Compressed COCO RLE of a binary mask, JSON-ready (``counts`` str)."""
    from pycocotools import mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return dict(size=[int(s) for s in rle['size']],
                counts=rle['counts'].decode('ascii'))


def scene_annotations(instances: np.ndarray,
                      items: Sequence[dict],
                      image_id: int,
                      first_id: int,
                      min_area: int = MIN_VISIBLE_AREA) -> List[dict]:
    """COCO annotations of one scene.

    Args:
        instances (np.ndarray): The scene's instance map (``1 + k`` where
            item ``k`` is visible, 0 elsewhere).
        items (Sequence[dict]): The scene's items, in paste order, each
            with ``label`` (class in ``[0, 10)``).
        image_id (int): COCO image id.
        first_id (int): Id of the first annotation.
        min_area (int): Fewest visible pixels an item needs. Defaults to
            :data:`MIN_VISIBLE_AREA`.

    Returns:
        list[dict]: ``id``, ``image_id``, ``category_id``, ``bbox``
        (``[x, y, w, h]`` around the visible pixels), ``area`` (visible
        pixels), ``segmentation`` (RLE) and ``iscrowd`` 0, in paste order.
    """
    anns = []
    for k, item in enumerate(items):
        visible = instances == k + 1
        area = int(visible.sum())
        if area < min_area:
            continue
        ys, xs = np.nonzero(visible)
        x0, y0 = int(xs.min()), int(ys.min())
        anns.append(
            dict(
                id=first_id + len(anns),
                image_id=image_id,
                category_id=int(item['label']) + 1,
                bbox=[x0, y0, int(xs.max()) + 1 - x0,
                      int(ys.max()) + 1 - y0],
                area=area,
                segmentation=encode_mask(visible),
                iscrowd=0))
    return anns


def scenes_to_coco(instances: np.ndarray,
                   meta: Sequence[dict],
                   file_names: Sequence[str],
                   min_area: int = MIN_VISIBLE_AREA,
                   info: Optional[dict] = None) -> dict:
    """A COCO instances dict for a list of scenes.

    Args:
        instances (np.ndarray): ``(N, H, W)`` instance maps.
        meta (Sequence[dict]): Per-scene meta (``items``) of
            :func:`~.generate.generate_scenes`.
        file_names (Sequence[str]): Image file name of each scene,
            relative to the image folder.
        min_area (int): See :func:`scene_annotations`.
        info (dict, optional): Stored as the ``info`` entry (generation
            parameters).

    Returns:
        dict: ``info``, ``images`` (id ``i + 1`` for scene ``i``),
        ``annotations``, ``categories``.
    """
    if not len(instances) == len(meta) == len(file_names):
        raise ValueError('instances, meta and file_names must have the '
                         'same length')
    images, annotations = [], []
    for i, (inst, m, name) in enumerate(zip(instances, meta, file_names)):
        height, width = inst.shape
        images.append(dict(id=i + 1, file_name=name, height=int(height),
                           width=int(width)))
        annotations += scene_annotations(inst, m['items'], i + 1,
                                         len(annotations) + 1, min_area)
    return dict(
        info=dict(info or {}),
        images=images,
        annotations=annotations,
        categories=[dict(c) for c in COCO_CATEGORIES])


def write_coco_scenes(out_dir: str,
                      data_root: str,
                      split: str,
                      num_scenes: int,
                      seed: Optional[int] = None,
                      min_area: int = MIN_VISIBLE_AREA,
                      **scene_kwargs) -> Dict[str, str]:
    """Generate one split's scenes and write images + COCO json.

    Args:
        out_dir (str): Output root (see the module doc for the layout).
        data_root (str): Folder with the Fashion-MNIST IDX files.
        split (str): ``'train'`` or ``'test'`` (source split of the items).
        num_scenes (int): Number of scenes.
        seed (int, optional): Scene seed. Defaults to None (0 for train, 1
            for test, as the dense probe).
        min_area (int): See :func:`scene_annotations`.
        **scene_kwargs: Other arguments of
            :func:`~.generate.generate_scenes` (``canvas``, ...).

    Returns:
        dict: ``images`` (folder) and ``ann_file`` paths, and the number of
        ``instances`` written (as a string, like the paths).
    """
    if split not in DEFAULT_SEEDS:
        raise ValueError(f'split must be one of {sorted(DEFAULT_SEEDS)}, '
                         f'got {split!r}')
    seed = DEFAULT_SEEDS[split] if seed is None else seed
    imgs, _, meta, instances = make_split_scenes(
        data_root, split, num_scenes, seed, return_instances=True,
        **scene_kwargs)
    img_dir = osp.join(out_dir, split)
    ann_dir = osp.join(out_dir, 'annotations')
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    names = [f'{i:05d}.png' for i in range(len(imgs))]
    for name, img in zip(names, imgs):
        save_png(osp.join(img_dir, name), img)
    coco = scenes_to_coco(
        instances, meta, names, min_area,
        info=dict(
            description='Fashion-MNIST scenes (mmsiameseim)',
            split=split,
            seed=int(seed),
            num_scenes=int(num_scenes),
            min_area=int(min_area),
            **scene_kwargs))
    ann_file = osp.join(ann_dir, f'instances_{split}.json')
    with open(ann_file, 'w') as f:
        json.dump(coco, f)
    return dict(images=img_dir, ann_file=ann_file,
                instances=str(len(coco['annotations'])))
