"""Fashion-MNIST through mmpretrain's ``FashionMNIST``, on the real files.

The configs read the data with the stack's dataset (``download=False``,
the four uncompressed IDX files that ``tools/data/fetch_fashion_mnist.py``
leaves). Its trap is pinned here: the test images come only with
``test_mode=True``; ``split='test'`` alone silently gives the 60,000
training images. The bench's helpers (derived folders, ``GrayToRGB``) are
checked against the raw bytes of the package's files.
"""
import gzip
import os.path as osp
import struct
import subprocess
import sys

import numpy as np
import pytest
from mmpretrain.datasets import FashionMNIST
from mmpretrain.registry import DATASETS

from mmsiameseim.datasets.transforms import GrayToRGB
from projects.study_bench.fashion_mnist import (CLASSES, load_split,
                                                make_heldout_split,
                                                write_head)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(ROOT, 'data', 'fashion-mnist')
FETCH = osp.join(ROOT, 'tools', 'data', 'fetch_fashion_mnist.py')
NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')
#: The first labels of the test split, from the package's t10k file.
FIRST_TEST_LABELS = [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]


def _raw(name):
    """The bytes of the Debian package's (gzipped) file."""
    with gzip.open(osp.join(DATA, name + '.gz'), 'rb') as f:
        return f.read()


@pytest.fixture(scope='session')
def data_root():
    """The real data, fetched once if it is not there yet."""
    if not all(osp.isfile(osp.join(DATA, n)) for n in NAMES):
        subprocess.run([sys.executable, FETCH], check=True, cwd=ROOT)
    return DATA


def _dataset(data_root, split, **kwargs):
    return FashionMNIST(
        data_root=data_root,
        split=split,
        test_mode=split == 'test',
        download=False,
        **kwargs)


def test_fetch_leaves_the_uncompressed_files(data_root):
    for name in NAMES:
        with open(osp.join(data_root, name), 'rb') as f:
            assert f.read() == _raw(name)


def test_the_test_split_needs_test_mode(data_root):
    """The pin: size and first labels of the test split; ``split='test'``
    without ``test_mode`` is the training set (the configs say both)."""
    test = _dataset(data_root, 'test')
    assert len(test) == 10000
    assert [int(test[i]['gt_label']) for i in range(10)] == \
        FIRST_TEST_LABELS
    assert list(_raw('t10k-labels-idx1-ubyte')[8:18]) == FIRST_TEST_LABELS
    trap = FashionMNIST(data_root=data_root, split='test', download=False)
    assert len(trap) == 60000


def test_counts_class_balance_and_raw_bytes(data_root):
    for split, prefix, count, idx in (('train', 'train', 60000, 12345),
                                      ('test', 't10k', 10000, 7)):
        images, labels = load_split(data_root, split)
        assert images.shape == (count, 28, 28) and images.dtype == np.uint8
        np.testing.assert_array_equal(
            np.bincount(labels, minlength=10),
            np.full(10, count // 10))
        raw = _raw(f'{prefix}-images-idx3-ubyte')
        magic, num, rows, cols = struct.unpack('>IIII', raw[:16])
        assert (magic, num, rows, cols) == (2051, count, 28, 28)
        start = 16 + idx * 28 * 28
        assert images[idx].tobytes() == raw[start:start + 28 * 28]
        sample = _dataset(data_root, split)[idx]
        assert sample['img'].tobytes() == images[idx].tobytes()
        assert int(sample['gt_label']) == labels[idx]


def test_config_style_build_with_indices_and_pipeline(data_root):
    ds = DATASETS.build(
        dict(
            _scope_='mmpretrain',
            type='FashionMNIST',
            data_root=data_root,
            split='test',
            test_mode=True,
            download=False,
            indices=[3, 9999],
            pipeline=[dict(type='GrayToRGB'),
                      dict(type='PackInputs')]))
    labels = _raw('t10k-labels-idx1-ubyte')[8:]
    assert len(ds) == 2
    packed = ds[1]
    assert tuple(packed['inputs'].shape) == (3, 28, 28)
    assert int(packed['data_samples'].gt_label) == labels[9999]
    assert ds.metainfo['classes'] == CLASSES and CLASSES[9] == 'Ankle boot'


def test_gray_to_rgb():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = GrayToRGB()(dict(img=gray))['img']
    assert out.shape == (3, 4, 3)
    assert all(np.array_equal(out[..., c], gray) for c in range(3))
    rgb = np.zeros((2, 2, 3), np.uint8)
    assert GrayToRGB()(dict(img=rgb))['img'] is rgb


def test_derived_folders_read_back(data_root, tmp_path):
    """The held-out split and the toy head are folders FashionMNIST reads:
    the same bytes as the slices of the original splits."""
    images, labels = load_split(data_root, 'train')
    held = str(tmp_path / 'heldout')
    assert make_heldout_split(data_root, held, 2000) == (58000, 2000)
    bank, queries = _dataset(held, 'train'), _dataset(held, 'test')
    assert (len(bank), len(queries)) == (58000, 2000)
    assert queries[0]['img'].tobytes() == images[58000].tobytes()
    assert int(queries[1999]['gt_label']) == labels[59999]
    assert bank[57999]['img'].tobytes() == images[57999].tobytes()
    head = write_head(data_root, str(tmp_path / 'head'), 5)
    test_images, test_labels = load_split(data_root, 'test')
    small = _dataset(head, 'test')
    assert len(small) == 5 and len(_dataset(head, 'train')) == 5
    assert small[4]['img'].tobytes() == test_images[4].tobytes()
    assert int(small[4]['gt_label']) == test_labels[4]
    with pytest.raises(ValueError, match='fewer than 70000'):
        write_head(data_root, str(tmp_path / 'big'), 70000)
    with pytest.raises(FileNotFoundError, match='fetch_fashion_mnist.py'):
        load_split(str(tmp_path / 'absent'), 'train')
