"""Fashion-MNIST for the study bench, around mmpretrain's ``FashionMNIST``.

The configs read Fashion-MNIST with mmpretrain's ``FashionMNIST``: the four
uncompressed IDX files of ``data_root`` (``tools/data/fetch_fashion_mnist.py``
places them), offline with ``download=False``, the test images only with
``test_mode=True``. This module adds what the bench needs around it:

* :func:`load_split`: a split's images and labels as arrays (the scenes, the
  pixel baseline), read by mmpretrain's IDX reader;
* :func:`write_split`, :func:`make_heldout_split`, :func:`write_head`:
  derived Fashion-MNIST folders (the held-out split that selects learning
  rates, the small copy of the toy runs) in the layout ``FashionMNIST``
  reads;
"""
import os
import os.path as osp
import struct
import warnings
from typing import Tuple

import numpy as np
from mmpretrain.datasets.categories import FASHIONMNIST_CATEGORITES
from mmpretrain.datasets.mnist import read_image_file, read_label_file

#: The 10 classes, in label order (mmpretrain's list).
CLASSES: Tuple[str, ...] = tuple(FASHIONMNIST_CATEGORITES)
#: File name prefix of each split, as ``FashionMNIST`` reads them.
SPLIT_PREFIX = {'train': 'train', 'test': 't10k'}
FETCH_HINT = ('place Fashion-MNIST there with `python '
              'tools/data/fetch_fashion_mnist.py DIR`')


def split_files(root: str, split: str) -> Tuple[str, str]:
    """The uncompressed image and label files of a split."""
    prefix = SPLIT_PREFIX[split]
    return (osp.join(root, f'{prefix}-images-idx3-ubyte'),
            osp.join(root, f'{prefix}-labels-idx1-ubyte'))


def load_split(root: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """All images and labels of one split.

    Args:
        root (str): Folder with the uncompressed IDX files.
        split (str): ``'train'`` or ``'test'``.

    Returns:
        tuple[np.ndarray, np.ndarray]: ``(N, 28, 28)`` uint8 images and
        ``(N, )`` int64 labels.

    Raises:
        FileNotFoundError: Naming the missing file and how to fetch it.
    """
    images, labels = split_files(root, split)
    for path in (images, labels):
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist: {FETCH_HINT}')
    with warnings.catch_warnings():
        # mmpretrain's reader wraps a read-only buffer (torch warns once)
        warnings.simplefilter('ignore', UserWarning)
        return (read_image_file(images).numpy(),
                read_label_file(labels).numpy().astype(np.int64))


def _write_idx(path: str, array: np.ndarray) -> None:
    """An uncompressed IDX file of unsigned bytes."""
    header = struct.pack('>I', (0x08 << 8) | array.ndim)
    header += struct.pack(f'>{array.ndim}I', *array.shape)
    with open(path, 'wb') as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_split(root: str, split: str, images: np.ndarray,
                labels: np.ndarray) -> None:
    """Write one split of a Fashion-MNIST folder (created if needed)."""
    if len(images) != len(labels):
        raise ValueError(f'{len(images)} images but {len(labels)} labels')
    os.makedirs(root, exist_ok=True)
    image_file, label_file = split_files(root, split)
    _write_idx(image_file, images)
    _write_idx(label_file, labels)


def make_heldout_split(src_root: str,
                       dst_root: str,
                       num_heldout: int = 10000) -> Tuple[int, int]:
    """A Fashion-MNIST folder whose test split is held-out train data.

    Its train split holds the first ``60000 - num_heldout`` train images,
    its test split the last ``num_heldout``; the real test split is not
    used, so learning rates chosen on it never see a test image.

    Args:
        src_root (str): Folder of the original files.
        dst_root (str): Output folder.
        num_heldout (int): Number of held-out images. Defaults to 10000.

    Returns:
        tuple[int, int]: Sizes of the new train and test splits.
    """
    images, labels = load_split(src_root, 'train')
    if not 0 < num_heldout < len(images):
        raise ValueError(f'num_heldout must be in (0, {len(images)}), got '
                         f'{num_heldout}')
    cut = len(images) - num_heldout
    write_split(dst_root, 'train', images[:cut], labels[:cut])
    write_split(dst_root, 'test', images[cut:], labels[cut:])
    return cut, num_heldout


def write_head(src_root: str, dst_root: str, count: int) -> str:
    """Copy the first ``count`` images of both splits to ``dst_root``.

    Returns:
        str: ``dst_root``.
    """
    for split in SPLIT_PREFIX:
        images, labels = load_split(src_root, split)
        if len(images) < count:
            raise ValueError(f'{split_files(src_root, split)[0]} holds '
                             f'{len(images)} images, fewer than {count}')
        write_split(dst_root, split, images[:count], labels[:count])
    return dst_root
