"""COCO instances of the Fashion-MNIST scenes agree with the scene masks."""
import hashlib
import json
import os.path as osp

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

from projects.study_bench.fashion_mnist import load_split
from projects.study_bench.scenes.coco import (MIN_VISIBLE_AREA,
                                              write_coco_scenes)
from projects.study_bench.scenes.generate import (generate_scenes,
                                                  make_split_scenes,
                                                  resize_bilinear)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
REAL_DATA = osp.join(ROOT, 'data', 'fashion-mnist')

#: sha256 of the first 50 scenes' images and label masks, recorded with the
#: generator as it was before instance maps were added (the dense-probe
#: numbers depend on these bytes).
BYTES_BEFORE_INSTANCES = {
    'train': ('25ce7503049cab589659f4482c5e8f3a'
              '540113efe022a8d699c38c514d5f1b28',
              '5dbeb706c2bfaa4237b3491c155c3e3e'
              'ec8aaac17987c64345e4f64c3bb2a1a6'),
    'test': ('813bf81e7753d51fbf90c556bc0db9bf'
             'ab634dad42a328dbf957ee8df9abbc65',
             '290a9b10556457391ecfd844954a7f9b'
             'ab925a8bd2f57c42257ef069df303f55'),
}


def _sha(a):
    return hashlib.sha256(a.tobytes()).hexdigest()


@pytest.mark.parametrize('split', ['train', 'test'])
def test_images_and_label_masks_unchanged(split):
    plain = make_split_scenes(REAL_DATA, split, 50)
    with_inst = make_split_scenes(REAL_DATA, split, 50, return_instances=True)
    assert (_sha(plain[0]), _sha(plain[1])) == BYTES_BEFORE_INSTANCES[split]
    assert _sha(with_inst[0]) == _sha(plain[0])
    assert _sha(with_inst[1]) == _sha(plain[1])
    assert with_inst[2] == plain[2]


def instance_oracle(images, items, canvas, threshold=32):
    """Per pixel: 1 + index of the last-pasted item covering it brightly."""
    inst = np.zeros((canvas, canvas), np.uint8)
    for y in range(canvas):
        for x in range(canvas):
            for k, it in enumerate(items):
                dy, dx = y - it['top'], x - it['left']
                if 0 <= dy < it['size'] and 0 <= dx < it['size']:
                    patch = resize_bilinear(images[it['source_index']],
                                            it['size'])
                    if patch[dy, dx] > threshold:
                        inst[y, x] = k + 1
    return inst


def test_instance_maps_match_an_oracle_and_the_labels():
    images, labels = load_split(REAL_DATA, 'test')
    _, masks, meta, inst = generate_scenes(
        images, labels, 3, seed=1, canvas=40, min_size=16, max_size=28,
        return_instances=True)
    for mask, m, ins in zip(masks, meta, inst):
        assert np.array_equal(ins, instance_oracle(images, m['items'], 40))
        assert np.array_equal(ins > 0, mask > 0)
        for k, it in enumerate(m['items']):
            assert np.all(mask[ins == k + 1] == it['label'] + 1)


@pytest.fixture(scope='module')
def coco_scenes(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('coco_scenes'))
    paths = write_coco_scenes(out, REAL_DATA, 'test', 40)
    return out, paths


def test_coco_json_agrees_with_scene_masks(coco_scenes):
    out, paths = coco_scenes
    with open(paths['ann_file']) as f:
        coco = json.load(f)
    imgs, masks, meta, inst = make_split_scenes(REAL_DATA, 'test', 40,
                                                return_instances=True)
    assert [c['id'] for c in coco['categories']] == list(range(1, 11))
    assert len(coco['images']) == 40
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    dropped = 0
    for i, (img_info, m) in enumerate(zip(coco['images'], meta)):
        assert img_info['id'] == i + 1
        assert (img_info['height'], img_info['width']) == (64, 64)
        png = np.array(Image.open(osp.join(out, 'test',
                                           img_info['file_name'])))
        assert np.array_equal(png, imgs[i])
        areas = [int((inst[i] == k + 1).sum()) for k in range(len(m['items']))]
        kept = [k for k, a in enumerate(areas) if a >= MIN_VISIBLE_AREA]
        dropped += len(areas) - len(kept)
        anns = by_image.get(i + 1, [])
        assert len(anns) == len(kept)
        for ann, k in zip(anns, kept):
            decoded = mask_utils.decode(ann['segmentation']).astype(bool)
            assert np.array_equal(decoded, inst[i] == k + 1)
            ys, xs = np.nonzero(decoded)
            assert ann['area'] == decoded.sum() == areas[k]
            assert ann['bbox'] == [xs.min(), ys.min(),
                                   xs.max() - xs.min() + 1,
                                   ys.max() - ys.min() + 1]
            assert ann['category_id'] == m['items'][k]['label'] + 1
            assert np.all(masks[i][decoded] == ann['category_id'])
            assert ann['iscrowd'] == 0
    assert len({a['id'] for a in coco['annotations']}) == len(
        coco['annotations'])
    assert dropped > 0  # the threshold is exercised by real scenes


def test_mmdet_reads_the_export(coco_scenes):
    from mmdet.datasets import CocoDataset

    from projects.study_bench.fashion_mnist import CLASSES
    out, paths = coco_scenes
    ds = CocoDataset(
        data_root=out, ann_file=paths['ann_file'],
        data_prefix=dict(img='test/'),
        metainfo=dict(classes=CLASSES), pipeline=[],
        test_mode=True)
    with open(paths['ann_file']) as f:
        coco = json.load(f)
    assert len(ds) == 40
    total = sum(len(ds.get_data_info(i)['instances']) for i in range(40))
    assert total == len(coco['annotations'])
    info = ds.get_data_info(0)
    first = [a for a in coco['annotations'] if a['image_id'] == 1]
    x, y, w, h = first[0]['bbox']
    assert info['instances'][0]['bbox'] == [x, y, x + w, y + h]
    assert info['instances'][0]['bbox_label'] == first[0]['category_id'] - 1


def test_bad_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match='split'):
        write_coco_scenes(str(tmp_path), REAL_DATA, 'val', 2)
