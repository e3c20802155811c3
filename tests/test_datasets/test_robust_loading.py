"""Bad and unusual image files: loaded as 3-channel uint8, or named.

Every file is written here, from arrays whose pixel values are the oracle:
greyscale, RGBA, palette, 1-bit, CMYK, 16-bit greyscale and colour, an
image smaller than the crop; and empty, truncated, corrupt, non-image and
missing files. With ``on_error='skip'`` the dataset wrapper reports each
skipped file with the sample that replaced it.
"""
import io
import os.path as osp
import re

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.datasets import CustomDataset
from PIL import Image
from torch.utils.data import DataLoader

from mmsiameseim.datasets import (BadImageError, ResumableSampler,
                                  RobustLoadImageFromFile, SampleLoadError,
                                  SampleSeededDataset)
from mmsiameseim.datasets.transforms import SiameseIMViews

H, W = 20, 24


def _rgb(seed=0):
    return np.random.default_rng(seed).integers(0, 256, (H, W, 3),
                                                dtype=np.uint8)


def _smooth_rgb():
    """A smooth image, so that JPEG's error stays small."""
    y, x = np.mgrid[0:H, 0:W]
    return np.dstack([x * 10, y * 12, (x + y) * 5]).astype(np.uint8)


def _save(img, path, **kwargs):
    img.save(path, **kwargs)
    return str(path)


def _jpeg_bytes(img, **kwargs):
    buf = io.BytesIO()
    img.save(buf, 'JPEG', **kwargs)
    return buf.getvalue()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """``{kind: (path, expected RGB array or None for a bad file)}``."""
    d = tmp_path_factory.mktemp('images')
    out = {}
    gray = _rgb(1)[..., 0]
    out['grayscale png'] = (_save(Image.fromarray(gray), d / 'gray.png'),
                            np.dstack([gray] * 3))
    rgb = _rgb(2)
    alpha = _rgb(3)[..., 0]
    out['rgba png'] = (_save(Image.fromarray(np.dstack([rgb, alpha])),
                             d / 'rgba.png'), rgb)
    palette = _rgb(4)[:16, 0]  # 16 colours x RGB
    index = (np.arange(H * W).reshape(H, W) * 7) % 16
    pal = Image.fromarray(index.astype(np.uint8), mode='P')
    pal.putpalette(palette.reshape(-1).tolist() + [0] * (768 - 48))
    out['palette png'] = (_save(pal, d / 'palette.png'), palette[index])
    bits = (index % 2).astype(bool)
    out['1-bit png'] = (_save(Image.fromarray(bits), d / 'bits.png'),
                        np.dstack([bits.astype(np.uint8) * 255] * 3))
    g16 = (np.arange(H * W).reshape(H, W) * 151).astype(np.uint16)
    out['16-bit grayscale png'] = (_save(Image.fromarray(g16),
                                         d / 'gray16.png'),
                                   np.dstack([g16 / 257.] * 3))
    c16 = (np.random.default_rng(5).integers(0, 65536, (H, W, 3))).astype(
        np.uint16)
    cv2.imwrite(str(d / 'rgb16.png'), c16[..., ::-1])  # cv2 writes BGR
    out['16-bit colour png'] = (str(d / 'rgb16.png'), c16 / 257.)
    smooth = _smooth_rgb()
    out['rgb jpeg'] = (_save(Image.fromarray(smooth), d / 'rgb.jpg',
                             quality=95), smooth)
    out['grayscale jpeg'] = (_save(Image.fromarray(smooth[..., 1]),
                                   d / 'gray.jpg', quality=95),
                             np.dstack([smooth[..., 1]] * 3))
    out['cmyk jpeg'] = (_save(
        Image.fromarray(smooth).convert('CMYK'), d / 'cmyk.jpg',
        quality=95), smooth)
    tiny = _rgb(6)[:2, :3]
    out['3x2 png (smaller than the crop)'] = (_save(
        Image.fromarray(tiny), d / 'tiny.png'), tiny)

    jpeg = _jpeg_bytes(Image.fromarray(_smooth_rgb()), quality=95)
    png = (d / 'gray.png').read_bytes()
    bad = {
        'zero-byte jpg': ('empty.jpg', b''),
        'truncated jpeg': ('truncated.jpg', jpeg[:len(jpeg) * 2 // 3]),
        'truncated jpeg (last bytes)': ('truncated_end.jpg', jpeg[:-2]),
        'truncated png': ('truncated.png', png[:len(png) // 2]),
        'corrupt bytes': ('corrupt.jpg',
                          np.random.default_rng(7).bytes(500)),
        'text file named .png': ('notes.png', b'not an image\n' * 20),
    }
    for kind, (name, data) in bad.items():
        (d / name).write_bytes(data)
        out[kind] = (str(d / name), None)
    out['missing file'] = (str(d / 'missing.jpg'), None)
    return out


GOOD = [
    'grayscale png', 'rgba png', 'palette png', '1-bit png',
    '16-bit grayscale png', '16-bit colour png', 'rgb jpeg',
    'grayscale jpeg', 'cmyk jpeg', '3x2 png (smaller than the crop)'
]
BAD = [
    'zero-byte jpg', 'truncated jpeg', 'truncated jpeg (last bytes)',
    'truncated png', 'corrupt bytes', 'text file named .png', 'missing file'
]
# JPEG kinds are lossy: mean absolute error bound against the written RGB
TOLERANCE = {
    '16-bit grayscale png': 1.0,
    '16-bit colour png': 1.0,
    'rgb jpeg': 3.0,
    'grayscale jpeg': 3.0,
    'cmyk jpeg': 6.0,
}


@pytest.mark.parametrize('kind', GOOD)
def test_unusual_images_load_as_three_channel_uint8(files, kind):
    path, want = files[kind]
    out = RobustLoadImageFromFile().transform(dict(img_path=path))
    img = out['img']
    assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
    assert img.shape[:2] == want.shape[:2] == out['ori_shape']
    got = img[..., ::-1].astype(np.float64)  # BGR, as mmcv's loader
    err = np.abs(got - want)
    if kind in TOLERANCE:
        assert err.mean() <= TOLERANCE[kind], err.mean()
        if kind.startswith('16-bit'):
            assert err.max() <= 1.0  # v / 257 up to rounding
    else:
        assert err.max() == 0


@pytest.mark.parametrize('kind', BAD)
def test_bad_files_raise_an_error_naming_the_file(files, kind):
    path, _ = files[kind]
    with pytest.raises(BadImageError, match=re.escape(path)):
        RobustLoadImageFromFile().transform(dict(img_path=path))


def test_image_smaller_than_the_crop_makes_full_size_views(files):
    path, _ = files['3x2 png (smaller than the crop)']
    results = RobustLoadImageFromFile().transform(dict(img_path=path))
    np.random.seed(0)
    views = SiameseIMViews(img_size=32).transform(results)
    assert [v.shape for v in views['img']] == [(32, 32, 3)] * 2
    assert all(v.dtype == np.uint8 for v in views['img'])
    assert np.isfinite(views['rel_pos']).all()
    # a minimum size turns it into a bad image
    with pytest.raises(BadImageError, match='smaller than min_size=4'):
        RobustLoadImageFromFile(min_size=4).transform(dict(img_path=path))


def test_skip_mode_replaces_and_reports_every_bad_file(tmp_path, files):
    """A folder dataset with 4 good and 4 bad files, one worker, 2 epochs.

    Every epoch visits every index once, so every bad file is skipped (and
    reported through the batch) in every epoch, and each batch is full.
    """
    folder = tmp_path / 'folder'
    folder.mkdir()
    good = ['rgb jpeg', 'palette png', 'grayscale png', 'cmyk jpeg']
    bad = ['zero-byte jpg', 'truncated jpeg', 'corrupt bytes',
           'text file named .png']
    for i, kind in enumerate(good + bad):
        src = files[kind][0]
        (folder / f'{i}{osp.splitext(src)[1]}').write_bytes(
            open(src, 'rb').read())
    bad_names = {f'{i}{osp.splitext(files[k][0])[1]}'
                 for i, k in enumerate(good + bad) if k in bad}
    pipeline = [
        dict(type='RobustLoadImageFromFile', on_error='skip'),
        dict(type='SiameseIMViews', img_size=16),
        dict(type='BlockwiseMaskGenerator', input_size=4,
             num_masking_patches=9, min_num_patches=2),
        dict(type='PackInputs', algorithm_keys=['rel_pos']),
    ]
    dataset = SampleSeededDataset(
        CustomDataset(data_root=str(folder), with_label=False,
                      pipeline=pipeline))
    sampler = ResumableSampler(dataset, seed=0)
    from mmengine.dataset import default_collate
    loader = DataLoader(dataset, batch_size=4, sampler=sampler,
                        num_workers=1, collate_fn=default_collate)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        skipped, shown = [], set()
        for batch in loader:
            assert len(batch['data_samples']) == 4
            assert batch['inputs'][0].shape == (4, 3, 16, 16)
            for sample in batch['data_samples']:
                shown.add(osp.basename(sample.img_path))
                for path, reason in sample.get('skipped_images', []):
                    assert path in reason  # the reason names the file
                    skipped.append(osp.basename(path))
        assert set(skipped) == bad_names
        assert not shown & bad_names  # replaced by good images only


def test_other_sample_errors_name_the_sample_and_file(files):
    path, _ = files['rgb jpeg']

    class Fails:
        """A dataset whose pipeline raises a plain error."""

        def __len__(self):
            return 3

        def get_data_info(self, index):
            return dict(img_path=path)

        def __getitem__(self, index):
            raise KeyError('rel_pos')

    with pytest.raises(SampleLoadError,
                       match=rf'sample 2 \({re.escape(path)}\): KeyError'):
        SampleSeededDataset(Fails())[(2, 123)]


def test_sample_seeds_fix_the_augmentations(files):
    """The same (index, seed) gives the same views; the RNGs are restored."""
    path, _ = files['rgb jpeg']

    class One:

        def __len__(self):
            return 1

        def __getitem__(self, index):
            results = RobustLoadImageFromFile().transform(
                dict(img_path=path))
            return SiameseIMViews(img_size=16).transform(results)

    dataset = SampleSeededDataset(One())
    state = np.random.get_state()[1].copy(), torch.get_rng_state()
    a, b, c = dataset[(0, 5)], dataset[(0, 5)], dataset[(0, 6)]
    assert np.array_equal(np.random.get_state()[1], state[0])
    assert torch.equal(torch.get_rng_state(), state[1])
    assert np.array_equal(a['rel_pos'], b['rel_pos'])
    assert all(np.array_equal(x, y) for x, y in zip(a['img'], b['img']))
    assert not np.array_equal(a['rel_pos'], c['rel_pos'])
