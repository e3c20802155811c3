"""Tiny COCO / LVIS instance datasets written from the formats' own specs.

COCO (cocodataset.org "data format", instances): ``images`` with ``id``,
``file_name``, ``height``, ``width``; ``annotations`` with ``id``,
``image_id``, ``category_id``, ``bbox`` ``[x, y, w, h]``, ``area``,
``segmentation`` (polygons ``[[x1, y1, x2, y2, ...]]``) and ``iscrowd``;
``categories`` with ``id``, ``name``, ``supercategory``. LVIS v1 adds, per
image, ``coco_url`` (mmdet derives ``file_name`` from it),
``not_exhaustive_category_ids`` and ``neg_category_ids``, and per category
``synset``, ``synonyms``, ``def``, ``frequency`` (``r`` / ``c`` / ``f``),
``image_count`` and ``instance_count``.
"""
import json
import os
import os.path as osp

import numpy as np
from PIL import Image

#: Per image: rectangles ``(x0, y0, x1, y1, category index)``.
BOXES = (
    ((10, 12, 60, 70, 0), (70, 20, 118, 60, 1)),
    ((20, 30, 100, 110, 2), ),
    ((5, 5, 45, 45, 1), (60, 64, 120, 124, 0), (30, 80, 60, 120, 2)),
)
#: COCO's 80 category ids (the official, non-contiguous numbering); the
#: names are mmdet's ``CocoDataset`` classes in the same order. The images
#: use three of them: person (1), car (3) and dog (18).
COCO_IDS = (tuple(range(1, 12)) + tuple(range(13, 26)) + (27, 28) +
            tuple(range(31, 45)) + tuple(range(46, 66)) + (67, 70) +
            tuple(range(72, 83)) + tuple(range(84, 91)))
USED = (0, 2, 16)  # indices into COCO_IDS of the drawn categories


def _draw(size, boxes, seed):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 40, size=(size, size, 3)).astype(np.uint8)
    for x0, y0, x1, y1, c in boxes:
        img[y0:y1, x0:x1] = (200 - 60 * c, 80 + 50 * c, 60 + 70 * c)
    return img


def _annotation(ann_id, image_id, box, cat_ids):
    x0, y0, x1, y1, c = box
    return dict(
        id=ann_id,
        image_id=image_id,
        category_id=cat_ids[c],
        bbox=[x0, y0, x1 - x0, y1 - y0],
        area=(x1 - x0) * (y1 - y0),
        segmentation=[[x0, y0, x1, y0, x1, y1, x0, y1]],
        iscrowd=0)


def write_coco(root, size=128):
    """COCO-layout ``root/images/*.jpg`` + ``root/annotations/coco.json``."""
    from mmdet.datasets import CocoDataset
    names = CocoDataset.METAINFO['classes']
    assert len(names) == len(COCO_IDS) == 80
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    cat_ids = [COCO_IDS[i] for i in USED]
    images, anns = [], []
    for i, boxes in enumerate(BOXES):
        name = f'{i:012d}.jpg'
        Image.fromarray(_draw(size, boxes, i)).save(
            osp.join(root, 'images', name), quality=95)
        images.append(dict(id=i + 1, file_name=name, height=size,
                           width=size))
        for box in boxes:
            anns.append(_annotation(len(anns) + 1, i + 1, box, cat_ids))
    coco = dict(
        images=images,
        annotations=anns,
        categories=[
            dict(id=c, name=n, supercategory='thing')
            for c, n in zip(COCO_IDS, names)
        ])
    path = osp.join(root, 'annotations', 'coco.json')
    with open(path, 'w') as f:
        json.dump(coco, f)
    return path


def write_lvis(root, size=128):
    """LVIS-v1-layout ``root/val2017/*.jpg`` + ``root/annotations/lvis.json``.

    All 1203 LVIS v1 categories (ids 1-1203, mmdet's ``LVISV1Dataset``
    names); the images use a rare (3), a common (450) and a frequent (1203)
    one.
    """
    from mmdet.datasets import LVISV1Dataset
    names = LVISV1Dataset.METAINFO['classes']
    assert len(names) == 1203
    os.makedirs(osp.join(root, 'val2017'), exist_ok=True)
    os.makedirs(osp.join(root, 'annotations'), exist_ok=True)
    cat_ids = (3, 450, 1203)
    freqs = {3: 'r', 450: 'c', 1203: 'f'}
    images, anns = [], []
    for i, boxes in enumerate(BOXES):
        name = f'{i:012d}.jpg'
        Image.fromarray(_draw(size, boxes, 10 + i)).save(
            osp.join(root, 'val2017', name), quality=95)
        images.append(
            dict(
                id=i + 1,
                coco_url=f'http://images.cocodataset.org/val2017/{name}',
                height=size,
                width=size,
                not_exhaustive_category_ids=[],
                neg_category_ids=[]))
        for box in boxes:
            anns.append(_annotation(len(anns) + 1, i + 1, box, cat_ids))
    categories = []
    for c, n in enumerate(names, start=1):
        count = sum(a['category_id'] == c for a in anns)
        categories.append(
            dict(id=c, name=n, synset=f'{n}.n.01', synonyms=[n],
                 frequency=freqs.get(c, 'f'), image_count=count,
                 instance_count=count, **{'def': n}))
    lvis = dict(images=images, annotations=anns, categories=categories)
    path = osp.join(root, 'annotations', 'lvis.json')
    with open(path, 'w') as f:
        json.dump(lvis, f)
    return path
