"""ImageNet-1k class ids (WordNet ids) and the 200-class ImageNet-A / -R
subsets, read from the data files in ``class_lists/`` (each says where it
was written out from):

* :data:`IMAGENET_WNIDS`: the 1000 ImageNet-1k wnids in sorted order; the
  position of a wnid is its class index in ImageNet-1k classifiers (the
  order of sorted training folders, mmpretrain's ``ImageNet`` and
  torchvision's ``ImageFolder``);
* :data:`IMAGENET_R_WNIDS`, :data:`IMAGENET_A_WNIDS`: the 200 classes of
  ImageNet-R and ImageNet-A.

Both benchmarks evaluate a 1000-way classifier by keeping only the logits
of their 200 classes (:func:`class_subset_indices`, the "index map") and
taking the arg-max among them. The published index lists are checked
against these wnids in ``tests/test_evaluation/test_imagenet_classes.py``.
"""
import os.path as osp
import re
from typing import List, Sequence, Tuple, Union

CLASS_LIST_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'class_lists')


def _read_list(path: str) -> List[str]:
    """Non-empty lines of a text file, ``#`` comments left out."""
    with open(path) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


def _packaged(name: str) -> Tuple[str, ...]:
    return tuple(_read_list(osp.join(CLASS_LIST_DIR, name + '.txt')))


IMAGENET_WNIDS: Tuple[str, ...] = _packaged('imagenet')
IMAGENET_R_WNIDS: Tuple[str, ...] = _packaged('imagenet-r')
IMAGENET_A_WNIDS: Tuple[str, ...] = _packaged('imagenet-a')

#: The 15 corruptions of the ImageNet-C benchmark (mCE), in the order of
#: its reference code (https://github.com/hendrycks/robustness).
IMAGENET_C_CORRUPTIONS: Tuple[str, ...] = (
    'gaussian_noise', 'shot_noise', 'impulse_noise', 'defocus_blur',
    'glass_blur', 'motion_blur', 'zoom_blur', 'snow', 'frost', 'fog',
    'brightness', 'contrast', 'elastic_transform', 'pixelate',
    'jpeg_compression')

#: Names accepted wherever a class list is expected.
CLASS_LISTS = {
    'imagenet': IMAGENET_WNIDS,
    'imagenet-a': IMAGENET_A_WNIDS,
    'imagenet-r': IMAGENET_R_WNIDS,
}

_WNID = re.compile(r'n\d{8}')

ClassList = Union[str, Sequence[str]]


def load_wnids(classes: ClassList) -> Tuple[str, ...]:
    """Resolve a class list and check it.

    Args:
        classes (str | Sequence[str]): A name of :data:`CLASS_LISTS`
            (``'imagenet'``, ``'imagenet-a'``, ``'imagenet-r'``), a text
            file with one wnid per line (blank lines and ``#`` comments
            ignored), or the wnids themselves.

    Returns:
        tuple[str]: The wnids, sorted (ImageFolder order).

    Raises:
        FileNotFoundError: If a path-like string names no file.
        ValueError: If an entry is not a wnid (``n`` + 8 digits), is
            repeated, or is not an ImageNet-1k class; the message names the
            source and the entry.
    """
    source = 'the class list'
    if isinstance(classes, str):
        if classes in CLASS_LISTS:
            return tuple(sorted(CLASS_LISTS[classes]))
        if not osp.isfile(classes):
            raise FileNotFoundError(
                f'class list {classes!r} is neither one of '
                f'{sorted(CLASS_LISTS)} nor an existing file')
        source = classes
        classes = _read_list(classes)
    wnids = list(classes)
    known = set(IMAGENET_WNIDS)
    seen = set()
    for i, wnid in enumerate(wnids):
        if not isinstance(wnid, str) or not _WNID.fullmatch(wnid):
            raise ValueError(f'{source}: entry {i + 1} ({wnid!r}) is not a '
                             'WordNet id (n + 8 digits)')
        if wnid in seen:
            raise ValueError(f'{source}: {wnid} appears twice')
        if wnid not in known:
            raise ValueError(f'{source}: {wnid} is not an ImageNet-1k class')
        seen.add(wnid)
    if not wnids:
        raise ValueError(f'{source} is empty')
    return tuple(sorted(wnids))


def class_subset_indices(classes: ClassList) -> List[int]:
    """ImageNet-1k indices of a class list: the logits to keep.

    Args:
        classes (str | Sequence[str]): See :func:`load_wnids`.

    Returns:
        list[int]: Increasing indices into the 1000 logits; entry ``j`` is
        the ImageNet-1k index of the ``j``-th class of the sorted list (so
        the arg-max over the kept logits is a label of the subset's own
        ImageFolder order).
    """
    position = {wnid: i for i, wnid in enumerate(IMAGENET_WNIDS)}
    return [position[w] for w in load_wnids(classes)]
