"""Fashion-MNIST scenes as files to look at: gray PNGs, palette label PNGs
and a json record of the generator's parameters and each scene's items."""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from .generate import SCENE_CLASSES, SCENE_PALETTE


def save_png(path: str, array: np.ndarray, palette: bool = False) -> None:
    """A gray PNG, or with ``palette`` one coloured by the scene classes."""
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
        save_png(osp.join(img_dir, f'{i:05d}.png'), img)
        save_png(osp.join(mask_dir, f'{i:05d}.png'), mask, palette=True)
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
