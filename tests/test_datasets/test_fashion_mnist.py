"""FashionMNISTIDX on the real Fashion-MNIST files."""
import gzip
import os
import os.path as osp
import shutil
import struct
import subprocess

import numpy as np
import pytest
from mmpretrain.datasets.categories import FASHIONMNIST_CATEGORITES
from mmpretrain.registry import DATASETS

from mmsiameseim.datasets import FashionMNISTIDX

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(ROOT, 'data', 'fashion-mnist')
FETCH = osp.join(ROOT, 'tools', 'data', 'fetch_fashion_mnist.sh')
NAMES = ('train-images-idx3-ubyte', 'train-labels-idx1-ubyte',
         't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte')


def _path(name):
    for candidate in (name, name + '.gz'):
        path = osp.join(DATA, candidate)
        if osp.isfile(path):
            return path
    raise FileNotFoundError(name)


def _raw(name):
    path = _path(name)
    opener = gzip.open if path.endswith('.gz') else open
    with opener(path, 'rb') as f:
        return f.read()


@pytest.fixture(scope='session')
def data_root():
    """The real data, fetched once if it is not there yet."""
    if not all(
            osp.isfile(osp.join(DATA, n))
            or osp.isfile(osp.join(DATA, n + '.gz')) for n in NAMES):
        subprocess.run(['bash', FETCH], check=True, cwd=ROOT)
    return DATA


@pytest.fixture(scope='module')
def train_set(data_root):
    return FashionMNISTIDX(data_root=data_root, split='train')


@pytest.fixture(scope='module')
def test_set(data_root):
    return FashionMNISTIDX(data_root=data_root, split='test')


def test_counts_and_class_balance(train_set, test_set):
    assert len(train_set) == 60000
    assert len(test_set) == 10000
    for ds, per_class in ((train_set, 6000), (test_set, 1000)):
        labels = ds.get_gt_labels()
        assert labels.min() == 0 and labels.max() == 9
        np.testing.assert_array_equal(
            np.bincount(labels, minlength=10), np.full(10, per_class))


def test_labels_match_raw_bytes(test_set):
    raw = _raw('t10k-labels-idx1-ubyte')
    magic, count = struct.unpack('>II', raw[:8])
    assert (magic, count) == (2049, 10000)
    expected = list(raw[8:])
    assert test_set.get_gt_labels().tolist() == expected
    assert [test_set[i]['gt_label'] for i in (0, 1, 9999)] == \
        [expected[0], expected[1], expected[9999]]


@pytest.mark.parametrize('split,prefix,idx', [('train', 'train', 12345),
                                              ('test', 't10k', 7)])
def test_image_matches_raw_bytes(data_root, split, prefix, idx):
    raw = _raw(f'{prefix}-images-idx3-ubyte')
    magic, count, rows, cols = struct.unpack('>IIII', raw[:16])
    assert magic == 2051 and (rows, cols) == (28, 28)
    start = 16 + idx * rows * cols
    pixels = raw[start:start + rows * cols]
    label = _raw(f'{prefix}-labels-idx1-ubyte')[8 + idx]

    ds = FashionMNISTIDX(data_root=data_root, split=split)
    sample = ds[idx]
    img = sample['img']
    assert img.dtype == np.uint8 and img.shape == (28, 28, 3)
    for c in range(3):
        assert img[:, :, c].tobytes() == pixels
    assert sample['gt_label'] == label
    assert sample['img_shape'] == (28, 28)
    assert sample['ori_shape'] == (28, 28)
    # The returned image is a private, writable copy.
    img[...] = 0
    assert ds[idx]['img'][:, :, 0].tobytes() == pixels


def test_indices_pipeline_and_metainfo(data_root):
    # `_scope_`: another test's Runner may have left 'mmengine' as the
    # current default scope.
    ds = DATASETS.build(
        dict(
            _scope_='mmpretrain',
            type='FashionMNISTIDX',
            data_root=data_root,
            split='test',
            indices=[3, 9999],
            pipeline=[dict(type='PackInputs')]))
    assert len(ds) == 2
    labels = _raw('t10k-labels-idx1-ubyte')[8:]
    assert ds.get_gt_labels().tolist() == [labels[3], labels[9999]]
    packed = ds[1]
    assert tuple(packed['inputs'].shape) == (3, 28, 28)
    assert int(packed['data_samples'].gt_label) == labels[9999]
    assert ds.CLASSES == FASHIONMNIST_CATEGORITES
    assert ds.metainfo['classes'][9] == 'Ankle boot'
    assert ds.get_cat_ids(0) == [labels[3]]

    lazy = FashionMNISTIDX(data_root='/nonexistent/x', lazy_init=True)
    assert lazy.CLASSES == FASHIONMNIST_CATEGORITES


def _copy_test_split(tmp_path):
    dst = tmp_path / 'fm'
    dst.mkdir()
    for name in NAMES[2:]:
        shutil.copy(_path(name), dst / osp.basename(_path(name)))
    return dst


def _write_raw(path, data):
    """Replace ``path`` (raw or .gz) by an uncompressed file."""
    if str(path).endswith('.gz'):
        os.remove(path)
        path = str(path)[:-3]
    with open(path, 'wb') as f:
        f.write(data)
    return path


def test_bad_magic_names_file(data_root, tmp_path):
    dst = _copy_test_split(tmp_path)
    raw = bytearray(_raw('t10k-images-idx3-ubyte'))
    raw[3] = 0x01  # claims 1-D
    path = _write_raw(dst / osp.basename(_path('t10k-images-idx3-ubyte')),
                      bytes(raw))
    with pytest.raises(ValueError, match='magic') as e:
        FashionMNISTIDX(data_root=str(dst), split='test')
    assert path in str(e.value)
    assert 'fetch_fashion_mnist.sh' in str(e.value)


def test_truncated_file_names_file(data_root, tmp_path):
    dst = _copy_test_split(tmp_path)
    raw = _raw('t10k-labels-idx1-ubyte')
    path = _write_raw(dst / osp.basename(_path('t10k-labels-idx1-ubyte')),
                      raw[:-5])
    with pytest.raises(ValueError, match='truncated') as e:
        FashionMNISTIDX(data_root=str(dst), split='test')
    assert path in str(e.value)


def test_truncated_gzip_names_file(data_root, tmp_path):
    dst = tmp_path / 'fm'
    dst.mkdir()
    for name in NAMES[2:]:
        with open(dst / f'{name}.gz', 'wb') as f:
            f.write(gzip.compress(_raw(name)))
    path = str(dst / 't10k-images-idx3-ubyte.gz')
    with open(path, 'rb') as f:
        head = f.read(1000)
    with open(path, 'wb') as f:
        f.write(head)
    with pytest.raises(ValueError) as e:
        FashionMNISTIDX(data_root=str(dst), split='test')
    assert path in str(e.value)


def test_count_mismatch_names_both_files(data_root, tmp_path):
    dst = _copy_test_split(tmp_path)
    raw = _raw('t10k-labels-idx1-ubyte')
    header = struct.pack('>II', 2049, 9999)
    _write_raw(dst / osp.basename(_path('t10k-labels-idx1-ubyte')),
               header + raw[8:-1])
    with pytest.raises(ValueError, match='9999 labels'):
        FashionMNISTIDX(data_root=str(dst), split='test')


def test_missing_folder_and_file(tmp_path):
    missing = str(tmp_path / 'absent')
    with pytest.raises(FileNotFoundError, match='absent') as e:
        FashionMNISTIDX(data_root=missing)
    assert 'fetch_fashion_mnist.sh' in str(e.value)
    (tmp_path / 'empty').mkdir()
    with pytest.raises(FileNotFoundError, match='train-images-idx3-ubyte'):
        FashionMNISTIDX(data_root=str(tmp_path / 'empty'))


def test_bad_split():
    with pytest.raises(ValueError, match='split'):
        FashionMNISTIDX(split='val', lazy_init=True)
