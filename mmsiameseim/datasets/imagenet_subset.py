"""The labelled-subset lists of semi-supervised ImageNet evaluation.

The standard 1 % (and 10 %) subsets are SimCLR's
``imagenet_subsets/1percent.txt`` (https://github.com/google-research/simclr):
one training image file name per line, ``<wnid>_<number>.JPEG`` (e.g.
``n01440764_10026.JPEG``), the image at ``train/<wnid>/<name>`` of an
ImageNet-1k training folder. The 1 % list holds about 1 % of the 1,281,167
training images, about 13 per class, all 1000 classes. The class of a
line is its wnid; its label is the wnid's ImageNet-1k index.

The images of a list are read by :class:`ImageNetSubsetList`.
"""
import os.path as osp
import re
from collections import Counter
from typing import Dict, List, Optional, Sequence

from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
from mmpretrain.registry import DATASETS

from .imagenet_classes import IMAGENET_WNIDS

SUBSET_LINE = re.compile(r'(n\d{8})_(\d+)\.JPEG')


def read_subset_list(path: str) -> List[str]:
    """Read and check a subset list's lines.

    Args:
        path (str): The list file.

    Returns:
        list[str]: The file names, in file order (blank lines skipped).

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: On a malformed line, a repeated file or an unknown
            wnid; the message names the file and the line number.
    """
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


def subset_samples(names: List[str], train_root: str) -> List[dict]:
    """``img_path`` / ``gt_label`` of every listed image.

    Args:
        names (list[str]): From :func:`read_subset_list`.
        train_root (str): The ImageNet training folder (class folders).

    Returns:
        list[dict]: mmengine data-list entries.
    """
    index = {wnid: i for i, wnid in enumerate(IMAGENET_WNIDS)}
    return [
        dict(
            img_path=osp.join(train_root, name.split('_')[0], name),
            gt_label=index[name.split('_')[0]]) for name in names
    ]


def check_subset_list(path: str,
                      train_root: Optional[str] = None,
                      expect_count: Optional[int] = None,
                      expect_classes: Optional[int] = 1000) -> Dict:
    """Check a subset list; optionally that every file exists.

    Args:
        path (str): The list file.
        train_root (str, optional): ImageNet ``train`` folder; when given,
            every listed image must exist there.
        expect_count (int, optional): Required number of lines.
        expect_classes (int, optional): Required number of classes.
            Defaults to 1000.

    Returns:
        dict: ``images``, ``classes``, ``min_per_class``,
        ``max_per_class`` and ``missing_files`` (with ``train_root``).

    Raises:
        ValueError: On any failed check (the message names the file).
    """
    names = read_subset_list(path)
    per_class = Counter(name.split('_')[0] for name in names)
    report = dict(
        images=len(names),
        classes=len(per_class),
        min_per_class=min(per_class.values()),
        max_per_class=max(per_class.values()))
    if expect_count is not None and len(names) != expect_count:
        raise ValueError(f'{path}: {len(names)} images, expected '
                         f'{expect_count}')
    if expect_classes is not None and len(per_class) != expect_classes:
        raise ValueError(f'{path}: {len(per_class)} classes, expected '
                         f'{expect_classes}')
    if train_root is not None:
        missing = [
            s['img_path'] for s in subset_samples(names, train_root)
            if not osp.isfile(s['img_path'])
        ]
        report['missing_files'] = len(missing)
        if missing:
            raise ValueError(f'{path}: {len(missing)} listed images are not '
                             f'under {train_root} (e.g. {missing[:2]})')
    return report


@DATASETS.register_module()
class ImageNetSubsetList(BaseDataset):
    """The ImageNet training images a subset list names.

    Labels are ImageNet-1k indices (the ImageFolder order of the training
    folder).

    Args:
        data_root (str): The ImageNet ``train`` folder (class folders).
        subset_list (str): The list file (see :func:`read_subset_list`).
        pipeline (Sequence): Processing pipeline. Defaults to ().
        test_mode (bool): Defaults to True (features are extracted once).
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            BaseDataset`.
    """

    METAINFO = {'classes': IMAGENET_CATEGORIES}

    def __init__(self,
                 data_root: str,
                 subset_list: str,
                 pipeline: Sequence = (),
                 test_mode: bool = True,
                 **kwargs) -> None:
        self.subset_list = subset_list
        super().__init__(
            ann_file='',
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Read the list; every listed image must exist."""
        samples = subset_samples(
            read_subset_list(self.subset_list), self.data_root)
        missing = [s['img_path'] for s in samples
                   if not osp.isfile(s['img_path'])]
        if missing:
            raise FileNotFoundError(
                f'{self.subset_list}: {len(missing)} listed images are not '
                f'under {self.data_root} (e.g. {missing[:2]})')
        return samples
