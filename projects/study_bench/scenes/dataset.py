"""The seeded Fashion-MNIST scenes as an mmpretrain dataset, generated in
memory (:func:`.generate.make_split_scenes`)."""
import os.path as osp
from typing import List, Optional, Sequence

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

from .generate import (DEFAULT_SEEDS, SCENE_CLASSES, SCENE_PALETTE,
                       make_split_scenes)

#: The scene generator's parameters a scene dataset passes on.
SCENE_PARAMS = ('canvas', 'min_items', 'max_items', 'min_size', 'max_size',
                'threshold')


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
        pipeline (Sequence): Processing pipeline. Defaults to ().
        **kwargs: The generator's :data:`SCENE_PARAMS` (``canvas``,
            ``min_items``, ... as :func:`~.generate.generate_scenes` takes
            them, with its defaults) and other arguments of
            :class:`BaseDataset` (``indices``, ``test_mode``, ...).
    """

    METAINFO = {'classes': SCENE_CLASSES, 'palette': SCENE_PALETTE}

    def __init__(self,
                 data_root: str = 'data/fashion-mnist',
                 split: str = 'train',
                 num_scenes: int = 1000,
                 seed: Optional[int] = None,
                 pipeline: Sequence = (),
                 **kwargs) -> None:
        if split not in DEFAULT_SEEDS:
            raise ValueError(f'`split` must be one of {sorted(DEFAULT_SEEDS)}'
                             f', got {split!r}.')
        self.split = split
        self.num_scenes = num_scenes
        self.seed = DEFAULT_SEEDS[split] if seed is None else seed
        self.scene_cfg = {
            key: kwargs.pop(key)
            for key in SCENE_PARAMS if key in kwargs
        }
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
