"""ImageNet test variants in their published folder layouts, every image
labelled by the ImageNet-1k index of its folder's wnid (docs/design.md)."""
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


def scan_wnid_folders(
        root: str,
        classes,
        strict: bool = True,
        extensions: Sequence[str] = IMG_EXTENSIONS) -> List[dict]:
    """``img_path`` / ``gt_label`` of every image under ``root/<wnid>/``
    (sorted) for the ``classes`` of :func:`load_wnids`; ``strict`` requires
    every class folder. A ``FileNotFoundError`` without ``root``, a
    ``ValueError`` for a stray or missing folder or no image."""
    if not osp.isdir(root):
        raise FileNotFoundError(f'dataset folder {root} does not exist')
    expected = set(load_wnids(classes))
    index = {wnid: i for i, wnid in enumerate(IMAGENET_WNIDS)}
    found = sorted(e.name for e in os.scandir(root) if e.is_dir())
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
        folder = osp.join(root, wnid)
        for name in sorted(
                e.name for e in os.scandir(folder)
                if e.is_file() and e.name.lower().endswith(tuple(extensions))):
            data_list.append(
                dict(img_path=osp.join(folder, name), gt_label=index[wnid]))
    if not data_list:
        raise ValueError(f'{root}: no images with endings {extensions}')
    return data_list


class ImageNetIndexedDataset(BaseDataset):
    """Base of the datasets labelled by ImageNet-1k index (no annotation
    file; ``test_mode`` defaults to True)."""

    METAINFO = {'classes': IMAGENET_CATEGORIES}

    def __init__(self, data_root: str, test_mode: bool = True, **kwargs):
        super().__init__(
            ann_file='', data_root=data_root, test_mode=test_mode, **kwargs)


@DATASETS.register_module()
class ImageNetWnidFolder(ImageNetIndexedDataset):
    """``root/<wnid>/<image>`` (ImageNet-A, -R, -Sketch, a sorted
    validation set), labelled 0..999.

    Args:
        data_root (str): The folder holding the class folders.
        classes (str | Sequence[str]): ``'imagenet'``, ``'imagenet-a'``,
            ``'imagenet-r'``, a wnid file or a list. Defaults to
            ``'imagenet'``.
        strict (bool): Require every class folder. Defaults to True.
        extensions (Sequence[str]): Image endings.
        **kwargs: ``pipeline``, ``test_mode`` (default True), ... of
            mmpretrain's ``BaseDataset``.
    """

    def __init__(self,
                 data_root: str,
                 classes='imagenet',
                 strict: bool = True,
                 extensions: Sequence[str] = IMG_EXTENSIONS,
                 **kwargs) -> None:
        self.class_list = classes
        self.strict = strict
        self.extensions = tuple(e.lower() for e in extensions)
        super().__init__(data_root, **kwargs)

    def load_data_list(self) -> List[dict]:
        """Scan the class folders."""
        return scan_wnid_folders(self.data_root, self.class_list, self.strict,
                                 self.extensions)


@DATASETS.register_module()
class ImageNetC(ImageNetWnidFolder):
    """ImageNet-C: ``root/<corruption>/<severity>/<wnid>/<image>``; samples
    also carry ``corruption`` and ``severity`` (for ``CorruptionError``).

    Args:
        data_root (str): The ImageNet-C folder.
        corruptions (Sequence[str]): Defaults to the benchmark's 15.
        severities (Sequence[int]): Defaults to 1..5.
        **kwargs: See :class:`ImageNetWnidFolder` (``strict``: require
            every folder).
    """

    def __init__(self,
                 data_root: str,
                 corruptions: Sequence[str] = IMAGENET_C_CORRUPTIONS,
                 severities: Sequence[int] = (1, 2, 3, 4, 5),
                 **kwargs) -> None:
        self.corruptions = tuple(corruptions)
        self.severities = tuple(int(s) for s in severities)
        super().__init__(data_root=data_root, **kwargs)

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
