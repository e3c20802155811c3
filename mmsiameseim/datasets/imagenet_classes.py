"""ImageNet class lists (WordNet ids) and the ImageNet-C corruptions, read
from ``class_lists/``: :data:`IMAGENET_WNIDS` sorted, so a wnid's position
is its class index (sorted training folders, mmpretrain's ``ImageNet``).
"""
import os.path as osp
import re
from typing import List, Sequence, Tuple, Union

CLASS_LIST_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'class_lists')


def _read_list(path: str) -> Tuple[str, ...]:
    """Non-empty lines of a text file, ``#`` comments left out."""
    with open(path) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return tuple(line for line in lines if line)


IMAGENET_WNIDS, IMAGENET_R_WNIDS, IMAGENET_A_WNIDS, IMAGENET_C_CORRUPTIONS = (
    _read_list(osp.join(CLASS_LIST_DIR, name + '.txt'))
    for name in ('imagenet', 'imagenet-r', 'imagenet-a',
                 'imagenet-c-corruptions'))

#: Names accepted wherever a class list is expected.
CLASS_LISTS = {
    'imagenet': IMAGENET_WNIDS,
    'imagenet-a': IMAGENET_A_WNIDS,
    'imagenet-r': IMAGENET_R_WNIDS,
}

_WNID = re.compile(r'n\d{8}')

ClassList = Union[str, Sequence[str]]


def load_wnids(classes: ClassList) -> Tuple[str, ...]:
    """The sorted wnids of ``classes``: a name of :data:`CLASS_LISTS`, a
    file with one wnid per line (``#`` comments allowed) or wnids; a
    ``FileNotFoundError`` or a ``ValueError`` naming a bad entry."""
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
    """ImageNet-1k indices of a class list (see :func:`load_wnids`): the
    logits to keep, increasing, so the arg-max over them is a label in the
    subset's own ImageFolder order."""
    position = {wnid: i for i, wnid in enumerate(IMAGENET_WNIDS)}
    return [position[w] for w in load_wnids(classes)]
