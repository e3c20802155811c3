"""Fashion-MNIST read offline from its IDX files."""
import gzip
import os.path as osp
import struct
import zlib
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
from mmpretrain.datasets import BaseDataset
from mmpretrain.registry import DATASETS

FASHION_MNIST_CLASSES = ('T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat',
                         'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot')
FETCH_HINT = ('Fetch the dataset with `bash tools/data/fetch_fashion_mnist.sh`'
              ' (or `make data`).')
_SPLIT_PREFIX = {'train': 'train', 'test': 't10k'}
_UBYTE = 0x08


def _read_bytes(path: str) -> bytes:
    """Read ``path``, decompressing it when it ends with ``.gz``."""
    try:
        if path.endswith('.gz'):
            with gzip.open(path, 'rb') as f:
                return f.read()
        with open(path, 'rb') as f:
            return f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f'Cannot read Fashion-MNIST file {path}: {e}. '
                         f'{FETCH_HINT}') from e


def read_idx_ubyte(path: str, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes with ``ndim`` dimensions.

    The IDX header is two zero bytes, the type code (``0x08`` for unsigned
    bytes), the number of dimensions, then one big-endian uint32 per
    dimension; the payload follows in C order.

    Args:
        path (str): Path of the file, gzip-compressed if it ends with
            ``.gz``.
        ndim (int): Expected number of dimensions (3 for images, 1 for
            labels).

    Returns:
        np.ndarray: A read-only uint8 array of the shape the header gives.

    Raises:
        ValueError: If the magic number, the dimensions or the payload size
            do not match.
    """
    raw = _read_bytes(path)
    header = 4 + 4 * ndim
    expected_magic = (_UBYTE << 8) | ndim
    if len(raw) < header:
        raise ValueError(f'{path} is truncated: {len(raw)} bytes, shorter '
                         f'than its {header}-byte IDX header. {FETCH_HINT}')
    magic = struct.unpack('>I', raw[:4])[0]
    if magic != expected_magic:
        raise ValueError(
            f'{path} has IDX magic number 0x{magic:08x}, expected '
            f'0x{expected_magic:08x} (unsigned bytes, {ndim} dimensions). '
            f'{FETCH_HINT}')
    dims = struct.unpack(f'>{ndim}I', raw[4:header])
    size = int(np.prod(dims))
    if len(raw) - header != size:
        raise ValueError(
            f'{path} holds {len(raw) - header} data bytes but its header '
            f'announces shape {dims} ({size} bytes): the file is truncated '
            f'or corrupt. {FETCH_HINT}')
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


@DATASETS.register_module()
class FashionMNISTIDX(BaseDataset):
    """Fashion-MNIST read directly from its four IDX files, offline.

    Unlike mmpretrain's ``FashionMNIST`` this never downloads: it reads
    ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (optionally ``.gz``)
    from ``data_root``, as placed by ``tools/data/fetch_fashion_mnist.sh``.
    All images of a split stay in one uint8 array; the data list holds only
    the row index and the label of each sample.

    Each sample has ``img`` (28x28x3 uint8, the gray value replicated to
    three channels so colour transforms apply), ``gt_label`` (int),
    ``img_shape`` and ``ori_shape`` (both ``(28, 28)``).

    Args:
        data_root (str): Folder holding the IDX files.
            Defaults to ``'data/fashion-mnist'``.
        split (str): ``'train'`` (60000 images) or ``'test'`` (10000).
            Defaults to ``'train'``.
        metainfo (dict, optional): Meta information overriding
            :attr:`METAINFO`. Defaults to None.
        pipeline (Sequence): Processing pipeline. Defaults to ().
        test_mode (bool): Raise on a failing sample instead of drawing
            another. Defaults to False.
        indices (int | Sequence[int], optional): Keep only the first
            ``indices`` samples (int) or these samples (sequence).
            Defaults to None (all).
        lazy_init (bool): Defer reading the files until first use.
            Defaults to False.
        **kwargs: Other arguments of :class:`mmpretrain.datasets.BaseDataset`
            (``serialize_data``, ``max_refetch``, ``classes``, ...).
    """

    METAINFO = {'classes': FASHION_MNIST_CLASSES}

    def __init__(self,
                 data_root: str = 'data/fashion-mnist',
                 split: str = 'train',
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence = (),
                 test_mode: bool = False,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 lazy_init: bool = False,
                 **kwargs) -> None:
        if split not in _SPLIT_PREFIX:
            raise ValueError(f'`split` must be one of '
                             f'{sorted(_SPLIT_PREFIX)}, got {split!r}.')
        if not isinstance(data_root, str) or not data_root:
            raise TypeError('`data_root` must be a non-empty str, got '
                            f'{data_root!r}.')
        for key in ('ann_file', 'data_prefix'):
            if key in kwargs:
                raise TypeError(f'FashionMNISTIDX does not take `{key}`; '
                                'it reads the IDX files in `data_root`.')
        self.split = split
        self._images: Optional[np.ndarray] = None
        super().__init__(
            ann_file='',
            metainfo=metainfo,
            data_root=osp.expanduser(data_root),
            pipeline=pipeline,
            test_mode=test_mode,
            indices=indices,
            lazy_init=lazy_init,
            **kwargs)

    def _find_file(self, kind: str) -> str:
        """Path of the ``kind`` ('images-idx3' or 'labels-idx1') file."""
        name = f'{_SPLIT_PREFIX[self.split]}-{kind}-ubyte'
        root = self.data_root
        if not osp.isdir(root):
            raise FileNotFoundError(
                f'Fashion-MNIST folder {root} does not exist. {FETCH_HINT}')
        for candidate in (name, name + '.gz'):
            path = osp.join(root, candidate)
            if osp.isfile(path):
                return path
        raise FileNotFoundError(
            f'Fashion-MNIST file {osp.join(root, name)}[.gz] not found. '
            f'{FETCH_HINT}')

    def _read_split(self) -> Tuple[np.ndarray, np.ndarray]:
        """Read and cross-check the images and labels of ``self.split``."""
        img_path = self._find_file('images-idx3')
        label_path = self._find_file('labels-idx1')
        images = read_idx_ubyte(img_path, ndim=3)
        labels = read_idx_ubyte(label_path, ndim=1)
        if len(images) != len(labels):
            raise ValueError(
                f'{img_path} holds {len(images)} images but {label_path} '
                f'holds {len(labels)} labels. {FETCH_HINT}')
        num_classes = len(FASHION_MNIST_CLASSES)
        if len(labels) and int(labels.max()) >= num_classes:
            raise ValueError(
                f'{label_path} has label {int(labels.max())}, outside '
                f'0..{num_classes - 1}. {FETCH_HINT}')
        return images, labels

    def load_data_list(self) -> List[dict]:
        """Read the IDX files; keep images in one array.

        Returns:
            list[dict]: One small dict per sample with ``img_index`` (row in
            the image array) and ``gt_label``.
        """
        images, labels = self._read_split()
        self._images = images
        return [
            dict(img_index=i, gt_label=int(label))
            for i, label in enumerate(labels.tolist())
        ]

    def _get_label_info(self, idx: int) -> dict:
        """The stored information of sample ``idx``, without the image."""
        return super().get_data_info(idx)

    def get_data_info(self, idx: int) -> dict:
        """Sample ``idx`` with its image as an HxWx3 uint8 array.

        Args:
            idx (int): Index in the (possibly sliced) dataset.

        Returns:
            dict: ``img``, ``gt_label``, ``img_shape``, ``ori_shape`` and
            ``sample_idx``.
        """
        if not self._fully_initialized:
            self.full_init()
        info = self._get_label_info(idx)
        gray = self._images[info.pop('img_index')]
        info['img'] = np.repeat(gray[:, :, None], 3, axis=2)
        info['img_shape'] = gray.shape
        info['ori_shape'] = gray.shape
        return info

    def get_gt_labels(self) -> np.ndarray:
        """All labels, without decoding any image.

        Returns:
            np.ndarray: The labels in dataset order.
        """
        return np.array(
            [self._get_label_info(i)['gt_label'] for i in range(len(self))],
            dtype=np.int64)

    def get_cat_ids(self, idx: int) -> List[int]:
        """Category of sample ``idx`` as a one-element list.

        Args:
            idx (int): Index of the sample.

        Returns:
            list[int]: ``[gt_label]``.
        """
        return [self._get_label_info(idx)['gt_label']]

    def extra_repr(self) -> List[str]:
        """Split and folder, for ``repr``."""
        return [f'Split: \t{self.split}', f'Data root: \t{self.data_root}']
