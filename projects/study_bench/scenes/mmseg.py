"""Fashion-MNIST scenes as an mmseg folder dataset (images + label PNGs).

Writes the seeded scenes of :mod:`.generate` in
the layout mmseg's ``BaseSegDataset`` reads::

    OUT/train/images/00000.png   8-bit gray scene
    OUT/train/masks/00000.png    palette PNG, pixel value = label (0-10)
    OUT/train/scenes.json        generator parameters, classes, per-scene meta
    OUT/test/...                 the same for the test scenes

Labels are the generator's 11 classes (``0`` = background, ``1 + class``
for the garments); no value is reserved for "ignore", so the dataset is read
with ``reduce_zero_label=False`` (background is a class, as in the dense
probe). Train scenes come from the Fashion-MNIST train split only and test
scenes from its test split only, with the default seeds (0 and 1).

Writing is idempotent: a split whose ``scenes.json`` records the same
parameters and scene count is kept as it is (the files are a pure function
of them); otherwise its numbered PNGs are replaced.
``tools/data/make_fashion_scenes_mmseg.py`` is the command line.
"""
import glob
import json
import os
import os.path as osp
from typing import Dict, Optional

from .files import write_scenes
from .generate import DEFAULT_SEEDS, SCENE_CLASSES, make_split_scenes

#: Sub-folders of a split, as ``data_prefix`` of mmseg's BaseSegDataset.
IMG_DIR, ANN_DIR = 'images', 'masks'


def _params_of(split: str, num_scenes: int, seed: int,
               scene_cfg: dict) -> dict:
    return dict(split=split, num_scenes=num_scenes, seed=seed, **scene_cfg)


def _up_to_date(json_path: str, params: dict, num_scenes: int) -> bool:
    if not osp.isfile(json_path):
        return False
    try:
        with open(json_path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    return (record.get('params') == params
            and len(record.get('meta', ())) == num_scenes)


def write_mmseg_scenes(out_dir: str,
                       data_root: str = 'data/fashion-mnist',
                       num_train: int = 2000,
                       num_test: int = 1000,
                       seeds: Optional[Dict[str, int]] = None,
                       **scene_cfg) -> Dict[str, dict]:
    """Write train and test scenes as an mmseg folder dataset.

    Args:
        out_dir (str): Output folder (created).
        data_root (str): Folder with the Fashion-MNIST IDX files. Defaults
            to ``'data/fashion-mnist'``.
        num_train (int): Train scenes. Defaults to 2000.
        num_test (int): Test scenes. Defaults to 1000.
        seeds (dict, optional): ``{'train': int, 'test': int}``. Defaults
            to None, i.e. :data:`DEFAULT_SEEDS` (0 and 1).
        **scene_cfg: Generator parameters of
            :func:`~.generate.generate_scenes`
            (``canvas``, ``min_items``, ``max_items``, ``min_size``,
            ``max_size``, ``threshold``).

    Returns:
        dict: Per split: ``img_path`` and ``seg_map_path`` (relative to
        ``out_dir``, for ``data_prefix``), ``num_scenes``, ``written``
        (False when the split was already up to date).
    """
    seeds = dict(DEFAULT_SEEDS, **(seeds or {}))
    out = {}
    for split, num in (('train', num_train), ('test', num_test)):
        if num < 1:
            raise ValueError(f'need at least one {split} scene, got {num}')
        split_dir = osp.join(out_dir, split)
        params = _params_of(split, num, seeds[split], scene_cfg)
        written = not _up_to_date(
            osp.join(split_dir, 'scenes.json'), params, num)
        if written:
            # scenes of an earlier, larger run must not stay in the folder
            for sub in (IMG_DIR, ANN_DIR):
                for old in glob.glob(osp.join(split_dir, sub, '[0-9]*.png')):
                    os.remove(old)
            imgs, masks, meta = make_split_scenes(
                data_root, split, num, seeds[split], **scene_cfg)
            write_scenes(split_dir, imgs, masks, meta, params=params)
        out[split] = dict(
            img_path=f'{split}/{IMG_DIR}',
            seg_map_path=f'{split}/{ANN_DIR}',
            num_scenes=num,
            written=written)
    return out


__all__ = ['write_mmseg_scenes', 'IMG_DIR', 'ANN_DIR', 'SCENE_CLASSES']
