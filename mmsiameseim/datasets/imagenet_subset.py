"""SimCLR's labelled-subset lists (``imagenet_subsets/1percent.txt``,
https://github.com/google-research/simclr): one ``<wnid>_<number>.JPEG`` of
``train/<wnid>/`` per line, labelled by its wnid's ImageNet-1k index."""
import os.path as osp
import re
from typing import List

from mmpretrain.registry import DATASETS

from .imagenet_classes import IMAGENET_WNIDS
from .imagenet_variants import ImageNetIndexedDataset

SUBSET_LINE = re.compile(r'(n\d{8})_(\d+)\.JPEG')


def read_subset_list(path: str) -> List[str]:
    """The file names of a subset list, in file order; a ``ValueError``
    naming the file and line for a malformed, repeated or unknown-class
    line or an empty list."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'subset list {path} does not exist')
    known = set(IMAGENET_WNIDS)
    names, seen = [], {}
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            name = line.strip()
            if not name:
                continue
            match = SUBSET_LINE.fullmatch(name)
            if match is None:
                raise ValueError(
                    f'{path}:{number}: {name!r} is not a training image name '
                    '<wnid>_<number>.JPEG (e.g. n01440764_10026.JPEG)')
            if match.group(1) not in known:
                raise ValueError(f'{path}:{number}: {match.group(1)} is not '
                                 'an ImageNet-1k class')
            if name in seen:
                raise ValueError(f'{path}:{number}: {name} repeats line '
                                 f'{seen[name]}')
            seen[name] = number
            names.append(name)
    if not names:
        raise ValueError(f'subset list {path} is empty')
    return names


def subset_samples(path: str, train_root: str, error=ValueError) -> List:
    """``img_path`` / ``gt_label`` of the images a list names; ``error`` if
    one is not under ``train_root``."""
    index = {wnid: i for i, wnid in enumerate(IMAGENET_WNIDS)}
    samples = [
        dict(
            img_path=osp.join(train_root,
                              name.split('_')[0], name),
            gt_label=index[name.split('_')[0]])
        for name in read_subset_list(path)
    ]
    missing = [s['img_path'] for s in samples if not osp.isfile(s['img_path'])]
    if missing:
        raise error(f'{path}: {len(missing)} listed images are not under '
                    f'{train_root} (e.g. {missing[:2]})')
    return samples


@DATASETS.register_module()
class ImageNetSubsetList(ImageNetIndexedDataset):
    """The ImageNet training images a subset list names.

    Args:
        data_root (str): The ImageNet ``train`` folder.
        subset_list (str): The list file (:func:`read_subset_list`).
        **kwargs: ``pipeline``, ``test_mode`` (default True), ... of
            ``BaseDataset``.
    """

    def __init__(self, data_root: str, subset_list: str, **kwargs) -> None:
        self.subset_list = subset_list
        super().__init__(data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the list; every listed image must exist."""
        return subset_samples(self.subset_list, self.data_root,
                              FileNotFoundError)
