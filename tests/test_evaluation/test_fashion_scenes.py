"""Tests of the seeded Fashion-MNIST scene generator."""
import json
import os
import os.path as osp
import struct

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmpretrain.registry import DATASETS
from PIL import Image

from projects.study_bench.fashion_mnist import load_split
from projects.study_bench.scenes.dataset import FashionMNISTScenes
from projects.study_bench.scenes.files import write_scenes
from projects.study_bench.scenes.generate import (DEFAULT_SEEDS, SCENE_CLASSES,
                                                  generate_scenes,
                                                  make_split_scenes,
                                                  render_scene,
                                                  resize_bilinear)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL_DATA = osp.join(ROOT, 'data', 'fashion-mnist')
THR = 32


def write_idx(root, prefix, images, labels):
    """Write uncompressed IDX image / label files."""
    os.makedirs(root, exist_ok=True)
    n, h, w = images.shape
    with open(osp.join(root, f'{prefix}-images-idx3-ubyte'), 'wb') as f:
        f.write(struct.pack('>IIII', 0x0803, n, h, w))
        f.write(images.astype(np.uint8).tobytes())
    with open(osp.join(root, f'{prefix}-labels-idx1-ubyte'), 'wb') as f:
        f.write(struct.pack('>II', 0x0801, n))
        f.write(labels.astype(np.uint8).tobytes())


def random_items(num, seed):
    """Item-like images: dark border, interior with sub-threshold holes."""
    rng = np.random.default_rng(seed)
    imgs = np.zeros((num, 28, 28), dtype=np.uint8)
    for i in range(num):
        top, left = rng.integers(0, 8, size=2)
        bottom, right = rng.integers(20, 28, size=2)
        imgs[i, top:bottom, left:right] = rng.integers(
            0, 256, size=(bottom - top, right - left))
    return imgs, rng.integers(0, 10, size=num)


@pytest.fixture(scope='module')
def source():
    return random_items(40, seed=3)


def oracle(images, labels, items, canvas, threshold):
    """Per-pixel reference: scan the items from the top one downwards."""
    patches = [resize_bilinear(images[it['source_index']], it['size'])
               for it in items]
    img = np.zeros((canvas, canvas), dtype=np.uint8)
    mask = np.zeros((canvas, canvas), dtype=np.uint8)
    for y in range(canvas):
        for x in range(canvas):
            covering = []
            for it, patch in zip(items, patches):
                dy, dx = y - it['top'], x - it['left']
                if 0 <= dy < it['size'] and 0 <= dx < it['size']:
                    covering.append((it, int(patch[dy, dx])))
            fg = [(it, v) for it, v in covering if v > threshold]
            if fg:
                it, v = fg[-1]  # topmost = pasted last
                mask[y, x] = labels[it['source_index']] + 1
                img[y, x] = v
            elif covering:
                img[y, x] = max(v for _, v in covering)
    return img, mask


def test_resize_matches_torch_bilinear():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=(28, 28)).astype(np.uint8)
    assert np.array_equal(resize_bilinear(img, 28), img)
    const = np.full((28, 28), 77, np.uint8)
    assert np.all(resize_bilinear(const, 37) == 77)
    for size in (20, 33, 40):
        ref = F.interpolate(
            torch.from_numpy(img).double()[None, None], size=(size, size),
            mode='bilinear', align_corners=False)[0, 0].numpy()
        ours = resize_bilinear(img, size).astype(np.float64)
        assert np.abs(ours - ref).max() <= 0.5 + 1e-9


def test_same_seed_same_bytes_other_seed_differs(source):
    images, labels = source
    a = generate_scenes(images, labels, 12, seed=5)
    b = generate_scenes(images, labels, 12, seed=5)
    c = generate_scenes(images, labels, 12, seed=6)
    assert a[0].tobytes() == b[0].tobytes()
    assert a[1].tobytes() == b[1].tobytes()
    assert json.dumps(a[2]) == json.dumps(b[2])
    assert a[0].tobytes() != c[0].tobytes()
    assert a[1].tobytes() != c[1].tobytes()
    # Scene i does not depend on how many scenes are asked for.
    d = generate_scenes(images, labels, 4, seed=5)
    assert np.array_equal(d[0], a[0][:4]) and d[2] == a[2][:4]


def test_labels_match_independent_oracle(source):
    images, labels = source
    imgs, masks, meta = generate_scenes(
        images, labels, 6, seed=11, canvas=48, min_size=16, max_size=30,
        threshold=THR)
    assert imgs.shape == masks.shape == (6, 48, 48)
    assert imgs.dtype == masks.dtype == np.uint8
    for img, mask, m in zip(imgs, masks, meta):
        ref_img, ref_mask = oracle(images, labels, m['items'], 48, THR)
        assert np.array_equal(mask, ref_mask)
        assert np.array_equal(img, ref_img)
        # Every labelled pixel is bright, background is not above THR.
        assert np.all(img[mask > 0] > THR)
        assert np.all(img[mask == 0] <= THR)


def test_meta_is_consistent(source):
    images, labels = source
    _, masks, meta = generate_scenes(images, labels, 30, seed=2)
    counts = set()
    for mask, m in zip(masks, meta):
        items = m['items']
        counts.add(len(items))
        assert 2 <= len(items) <= 4
        for it in items:
            assert it['label'] == labels[it['source_index']]
            assert 20 <= it['size'] <= 40
            assert 0 <= it['top'] <= 64 - it['size']
            assert 0 <= it['left'] <= 64 - it['size']
        present = set(np.unique(mask).tolist()) - {0}
        assert present <= {it['label'] + 1 for it in items}
    assert counts == {2, 3, 4}


def test_later_items_occlude_earlier_ones():
    images = np.zeros((2, 28, 28), np.uint8)
    images[0, :, :] = 100
    images[1, :, :] = 200
    labels = np.array([3, 7])
    items = [
        dict(source_index=0, size=28, top=0, left=0),
        dict(source_index=1, size=28, top=10, left=14),
    ]
    img, mask = render_scene(images, labels, items, canvas=48, threshold=THR)
    assert np.all(mask[10:28, 14:28] == 8) and np.all(img[10:28, 14:28] == 200)
    assert np.all(mask[:10, :28] == 4) and np.all(img[:10, :28] == 100)
    assert np.all(mask[10:38, 28:42] == 8)
    assert np.all(mask[28:, :14] == 0) and np.all(img[28:, :14] == 0)
    # Reversed order: the first item now lies on top.
    _, mask2 = render_scene(images, labels, items[::-1], 48, THR)
    assert np.all(mask2[10:28, 14:28] == 4)
    # A dim (below-threshold) item neither labels nor hides what is below.
    images[1, :, :] = THR
    img3, mask3 = render_scene(images, labels, items, 48, THR)
    assert np.all(mask3[10:28, 14:28] == 4)
    assert np.all(img3[10:28, 14:28] == 100)
    assert np.all(mask3[28:38, 14:42] == 0)
    assert np.all(img3[28:38, 14:42] == THR)


def test_bad_parameters(source):
    images, labels = source
    with pytest.raises(ValueError):
        generate_scenes(images, labels, 2, seed=0, min_size=50)
    with pytest.raises(ValueError):
        generate_scenes(images, labels, 2, seed=0, min_items=3, max_items=2)
    with pytest.raises(ValueError):
        generate_scenes(images.astype(np.float32), labels, 2, seed=0)


@pytest.fixture(scope='module')
def split_root(tmp_path_factory):
    """Train items are constant 100, test items constant 200."""
    root = str(tmp_path_factory.mktemp('fmnist'))
    for prefix, value, n in (('train', 100, 30), ('t10k', 200, 20)):
        images = np.full((n, 28, 28), value, np.uint8)
        write_idx(root, prefix, images, np.arange(n) % 10)
    return root


def test_train_and_test_scenes_use_their_split_only(split_root):
    train = make_split_scenes(split_root, 'train', 10)
    test = make_split_scenes(split_root, 'test', 10)
    assert set(np.unique(train[0]).tolist()) == {0, 100}
    assert set(np.unique(test[0]).tolist()) == {0, 200}
    assert all(m['split'] == 'train' for m in train[2])
    assert all(m['split'] == 'test' for m in test[2])
    assert DEFAULT_SEEDS['train'] != DEFAULT_SEEDS['test']


def test_registered_dataset(split_root):
    ds = DATASETS.build(
        dict(
            type='FashionMNISTScenes',
            data_root=split_root,
            split='test',
            num_scenes=5))
    assert isinstance(ds, FashionMNISTScenes)
    assert len(ds) == 5 and ds.metainfo['classes'] == SCENE_CLASSES
    assert len(SCENE_CLASSES) == 11
    imgs, masks, _ = make_split_scenes(split_root, 'test', 5)
    for i in range(5):
        info = ds[i]
        assert info['img'].shape == (64, 64, 3)
        assert info['img'].dtype == np.uint8
        assert np.array_equal(info['img'][..., 1], imgs[i])
        assert np.array_equal(info['gt_seg_map'], masks[i])
        assert np.array_equal(info['gt_seg'], masks[i])
    with pytest.raises(ValueError):
        FashionMNISTScenes(data_root=split_root, split='val')


def test_write_scenes_round_trip(source, tmp_path):
    images, labels = source
    imgs, masks, meta = generate_scenes(images, labels, 3, seed=1)
    paths = write_scenes(str(tmp_path), imgs, masks, meta, dict(seed=1))
    for i in range(3):
        img = np.array(Image.open(osp.join(paths['images'], f'{i:05d}.png')))
        mask = np.array(Image.open(osp.join(paths['masks'], f'{i:05d}.png')))
        assert np.array_equal(img, imgs[i])
        assert np.array_equal(mask, masks[i])
    with open(paths['json']) as f:
        record = json.load(f)
    assert record['params'] == dict(seed=1)
    assert record['meta'] == meta
    assert record['classes'] == list(SCENE_CLASSES)


def test_real_test_scenes_match_oracle():
    # real data is placed by `make data` (tools/data/fetch_fashion_mnist.py)
    images, labels = load_split(REAL_DATA, 'test')
    imgs, masks, meta = make_split_scenes(REAL_DATA, 'test', 3)
    for img, mask, m in zip(imgs, masks, meta):
        ref_img, ref_mask = oracle(images, labels, m['items'], 64, THR)
        assert np.array_equal(mask, ref_mask)
        assert np.array_equal(img, ref_img)
        assert mask.max() > 0 and (mask == 0).any()
