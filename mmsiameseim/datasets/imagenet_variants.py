"""ImageNet test variants in their published folder layouts.

* ImageNet-A, ImageNet-R, ImageNet-Sketch: ``root/<wnid>/<image>``, one
  folder per class, named by the class's WordNet id (200, 200 and 1000
  classes): :class:`ImageNetWnidFolder`.
* ImageNet-C: ``root/<corruption>/<severity>/<wnid>/<image>`` with 15
  corruptions and severities 1 to 5: :class:`ImageNetC`.

Every image is labelled with the **ImageNet-1k index** of its folder's wnid
(the position in the sorted 1000 wnids), whatever subset the folder
belongs to, so a 1000-way classifier is scored directly (Sketch, C) or
after keeping the subset's logits (A, R; see
:class:`~mmsiameseim.evaluation.metrics.ClassSubsetAccuracy`). Labelling by
wnid rather than by folder position keeps the labels right when folders
are missing or extra ones lie around; both are errors in strict mode.
"""
import os
import os.path as osp
from typing import List, Sequence

from mmpretrain.datasets import BaseDataset
from mmpretrain.datasets.categories import IMAGENET_CATEGORIES
from mmpretrain.registry import DATASETS

from .imagenet_classes import (IMAGENET_C_CORRUPTIONS, IMAGENET_WNIDS,
                               load_wnids)

IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif',
                  '.tiff', '.webp')


def _subdirs(folder: str) -> List[str]:
    return sorted(e.name for e in os.scandir(folder) if e.is_dir())


def _images(folder: str, extensions: Sequence[str]) -> List[str]:
    return sorted(e.name for e in os.scandir(folder)
                  if e.is_file() and e.name.lower().endswith(extensions))


def scan_wnid_folders(root: str,
                      classes,
                      strict: bool = True,
                      extensions: Sequence[str] = IMG_EXTENSIONS
                      ) -> List[dict]:
    """``img_path`` / ``gt_label`` of every image under ``root/<wnid>/``.

    Args:
        root (str): The folder holding one sub-folder per class.
        classes (str | Sequence[str]): The expected classes (see
            :func:`~mmsiameseim.datasets.imagenet_classes.load_wnids`).
        strict (bool): Require a folder for every expected class.
            Defaults to True.
        extensions (Sequence[str]): Image file endings (lower case).

    Returns:
        list[dict]: One dict per image, in sorted folder / file order.

    Raises:
        FileNotFoundError: If ``root`` is not a folder.
        ValueError: If a sub-folder is not one of the expected classes, a
            class folder is missing (strict) or no image is found.
    """
    if not osp.isdir(root):
        raise FileNotFoundError(f'dataset folder {root} does not exist')
    expected = set(load_wnids(classes))
    index = {wnid: i for i, wnid in enumerate(IMAGENET_WNIDS)}
    found = _subdirs(root)
    stray = [d for d in found if d not in expected]
    if stray:
        raise ValueError(
            f'{root}: {len(stray)} folders are not classes of this dataset '
            f'(e.g. {stray[:3]}); expected one folder per wnid of the '
            'class list')
    missing = sorted(expected - set(found))
    if strict and missing:
        raise ValueError(
            f'{root}: {len(missing)} of the {len(expected)} class folders '
            f'are missing (e.g. {missing[:3]}); pass strict=False to '
            'evaluate on the classes present')
    data_list = []
    for wnid in found:
        for name in _images(osp.join(root, wnid), tuple(extensions)):
            data_list.append(
                dict(
                    img_path=osp.join(root, wnid, name),
                    gt_label=index[wnid]))
    if not data_list:
        raise ValueError(f'{root}: no images with endings {extensions}')
    return data_list


@DATASETS.register_module()
class ImageNetWnidFolder(BaseDataset):
    """Images in folders named by ImageNet wnids, labelled 0..999.

    The layout of ImageNet-A, ImageNet-R and ImageNet-Sketch (and of the
    ImageNet validation set sorted into class folders).

    Args:
        data_root (str): The folder holding the class folders.
        classes (str | Sequence[str]): The classes the dataset has:
            ``'imagenet'`` (1000, Sketch), ``'imagenet-a'``,
            ``'imagenet-r'`` (200 each), a wnid file or a list.
            Defaults to ``'imagenet'``.
        strict (bool): Require every class folder. Defaults to True.
        pipeline (Sequence): Processing pipeline. Defaults to ().
        test_mode (bool): Defaults to True (a test set).
        extensions (Sequence[str]): Image endings.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.
            BaseDataset` (``indices``, ``lazy_init``, ...).
    """

    METAINFO = {'classes': IMAGENET_CATEGORIES}

    def __init__(self,
                 data_root: str,
                 classes='imagenet',
                 strict: bool = True,
                 pipeline: Sequence = (),
                 test_mode: bool = True,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs) -> None:
        self.class_list = classes
        self.strict = strict
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(
            ann_file='',
            data_root=data_root,
            pipeline=pipeline,
            test_mode=test_mode,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        """Scan the class folders."""
        return scan_wnid_folders(self.data_root, self.class_list,
                                 self.strict, self.extensions)


@DATASETS.register_module()
class ImageNetC(ImageNetWnidFolder):
    """ImageNet-C: ``root/<corruption>/<severity>/<wnid>/<image>``.

    Every sample also carries ``corruption`` (str) and ``severity`` (int),
    which ``PackInputs(meta_keys=(..., 'corruption', 'severity'))`` passes
    on to :class:`~mmsiameseim.evaluation.metrics.CorruptionError`.

    Args:
        data_root (str): The ImageNet-C folder.
        corruptions (Sequence[str]): Corruptions to read. Defaults to the
            15 of the benchmark (:data:`IMAGENET_C_CORRUPTIONS`).
        severities (Sequence[int]): Defaults to 1..5.
        strict (bool): Require every corruption / severity folder and every
            class folder inside. Defaults to True.
        **kwargs: See :class:`ImageNetWnidFolder`.
    """

    def __init__(self,
                 data_root: str,
                 corruptions: Sequence[str] = IMAGENET_C_CORRUPTIONS,
                 severities: Sequence[int] = (1, 2, 3, 4, 5),
                 strict: bool = True,
                 classes='imagenet',
                 **kwargs) -> None:
        self.corruptions = tuple(corruptions)
        self.severities = tuple(int(s) for s in severities)
        super().__init__(
            data_root=data_root, classes=classes, strict=strict, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Scan every corruption / severity folder."""
        data_list = []
        missing: List[str] = []
        for corruption in self.corruptions:
            for severity in self.severities:
                folder = osp.join(self.data_root, corruption, str(severity))
                if not osp.isdir(folder):
                    missing.append(f'{corruption}/{severity}')
                    continue
                for info in scan_wnid_folders(folder, self.class_list,
                                              self.strict, self.extensions):
                    info.update(corruption=corruption, severity=severity)
                    data_list.append(info)
        if missing and (self.strict or not data_list):
            raise FileNotFoundError(
                f'{self.data_root}: {len(missing)} corruption/severity '
                f'folders are missing (e.g. {missing[:3]})')
        return data_list

    def extra_repr(self) -> List[str]:
        """Corruptions and severities, for ``repr``."""
        return [
            f'Corruptions: \t{len(self.corruptions)}',
            f'Severities: \t{self.severities}'
        ]
