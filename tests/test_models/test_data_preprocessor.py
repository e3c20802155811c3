"""SiameseIMDataPreprocessor: the device half of the colour route.

End to end, the device route (draws in the worker, ops in the
preprocessor) gives the images of the worker route (ops in the worker)
from the same seed; batches without records pass exactly as through
mmpretrain's ``SelfSupDataPreprocessor``; ``check_data_pipeline`` refuses
a device route that cannot reach or apply its records.
"""
import copy
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import default_collate
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS, TRANSFORMS
from mmpretrain.structures import DataSample
from PIL import Image
from skimage import data as photos
from test_models.siameseim_tiny import TINY

from mmsiameseim.models import SiameseIMDataPreprocessor
from mmsiameseim.models.utils.colour_params import INDEX

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VIEWS_CFG = osp.join(ROOT, 'configs', 'siameseim', '_base_',
                     'imagenet_siameseim_views.py')
NORM = dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375])


def _bgr_photos(size=(80, 64)):
    out = []
    for name in ('astronaut', 'chelsea', 'coffee'):
        img = Image.fromarray(getattr(photos, name)()).resize(size)
        out.append(np.ascontiguousarray(np.asarray(img)[..., ::-1]))
    return out


def _batch(colour_on, n=24, seed=0):
    """``n`` samples of the ImageNet views (48 px) from BGR photos."""
    views = TRANSFORMS.build(
        dict(Config.fromfile(VIEWS_CFG).views.to_dict(), img_size=48,
             colour_on=colour_on))
    pack = TRANSFORMS.build(
        dict(type='PackInputs', algorithm_keys=['rel_pos', 'colour_params']))
    imgs = _bgr_photos()
    samples = []
    for i in range(n):
        np.random.seed(seed + i)
        samples.append(pack(views(dict(img=imgs[i % len(imgs)].copy()))))
    return default_collate(samples)


def _prep(cls=SiameseIMDataPreprocessor, **kwargs):
    return cls(**dict(dict(mean=[0] * 3, std=[1] * 3, to_rgb=True), **kwargs))


def test_device_route_gives_the_worker_routes_images(n=24):
    worker = _prep()(_batch('worker', n), training=True)['inputs']
    device_data = _batch('device', n)
    records = np.stack([s.colour_params for s in device_data['data_samples']])
    device = _prep()(device_data, training=True)['inputs']
    for v, (want, got) in enumerate(zip(worker, device)):
        assert got.dtype == torch.float32 and got.shape == want.shape
        diff = (got - want).abs().flatten(1)
        assert diff.mean(1).max() <= 1.0  # blur (0.2 mean) and rounding
        # without blur (view 2 mostly): the same ops on the same grid, a
        # rounding step apart at most
        unblurred = torch.from_numpy(records[:, v, INDEX['blur']] == 0)
        assert int(unblurred.sum()) >= (0 if v == 0 else n // 2)
        if v == 1:
            assert diff[unblurred].max() <= 2
            assert (diff[unblurred] == 0).float().mean() > 0.999
    # what the records asked for happened: some views are coloured
    plain = _prep()(_batch('device', n), training=False)['inputs']
    assert (plain[0] - device[0]).abs().mean() > 1


def test_batches_without_records_pass_as_in_selfsup():
    ours, theirs = _prep(**NORM), _prep(SelfSupDataPreprocessor, **NORM)
    data = _batch('worker', n=4)
    knn = dict(inputs=data['inputs'][0],
               data_samples=[DataSample() for _ in range(4)])
    for batch in (data, knn):
        for training in (True, False):
            want = theirs(copy.deepcopy(batch), training)['inputs']
            got = ours(copy.deepcopy(batch), training)['inputs']
            for a, b in zip(want if isinstance(want, list) else [want],
                            got if isinstance(got, list) else [got]):
                assert torch.equal(a, b)
    # with records, only a training step applies them
    device = _batch('device', n=4)
    want = theirs(copy.deepcopy(device), False)['inputs']
    got = ours(copy.deepcopy(device), False)['inputs']
    assert all(torch.equal(a, b) for a, b in zip(want, got))


def test_a_batch_half_on_the_device_route_is_refused():
    data = _batch('device', n=4)
    del data['data_samples'][1].colour_params
    with pytest.raises(KeyError, match='1 of 4 data samples'):
        _prep()(data, training=True)
    inputs = data['inputs']
    data = _batch('device', n=4)
    data['inputs'] = inputs[:1]
    with pytest.raises(ValueError, match='2 colour records per sample for '
                       '1 views'):
        _prep()(data, training=True)


def _pipeline(views=None, pack_keys=('rel_pos', 'colour_params')):
    cfgs = [
        dict(dict(type='SiameseIMViews', img_size=32, colour_on='device',
                  online_pipeline=[dict(type='SimColorJitter')]),
             **(views or {})),
        dict(type='BlockwiseMaskGenerator', input_size=4,
             num_masking_patches=9, min_num_patches=2),
        dict(type='PackInputs', algorithm_keys=list(pack_keys)),
    ]
    return [TRANSFORMS.build(c) for c in cfgs]


def _model(**prep):
    cfg = copy.deepcopy(TINY)
    cfg['backbone']['num_masked'] = 9
    cfg['data_preprocessor'] = dict(
        dict(type='SiameseIMDataPreprocessor', to_rgb=True), **prep)
    return MODELS.build(cfg)


CHECK_CASES = {
    'records not packed':
    (dict(pack_keys=['rel_pos']), {},
     "SiameseIMViews(colour_on='device') draws the colour parameters into "
     "`colour_params`, but PackInputs(algorithm_keys=['rel_pos']) does not "
     'pack them'),
    'preprocessor cannot apply them':
    ({}, dict(type='SelfSupDataPreprocessor'),
     "SiameseIMViews(colour_on='device') leaves the colour ops to the data "
     'preprocessor, but model.data_preprocessor is SelfSupDataPreprocessor, '
     'which cannot apply them'),
    'BGR views, no channel swap':
    ({}, dict(to_rgb=False),
     "SiameseIMViews(colour_on='device', channel_order='bgr') needs "
     'model.data_preprocessor to swap the channels (to_rgb=True)'),
}


@pytest.mark.parametrize('case', CHECK_CASES)
def test_check_data_pipeline_refuses_a_device_route_it_cannot_run(case):
    pipe, prep, message = CHECK_CASES[case]
    model = _model(**prep)
    with pytest.raises(ValueError, match=re.escape(message)):
        model.check_data_pipeline(_pipeline(**pipe))


def test_check_data_pipeline_accepts_both_routes():
    model = _model()
    model.check_data_pipeline(_pipeline())
    worker = _pipeline(views=dict(colour_on='worker'), pack_keys=['rel_pos'])
    model.check_data_pipeline(worker)
    _model(type='SelfSupDataPreprocessor').check_data_pipeline(worker)
    rgb = _pipeline(views=dict(channel_order='rgb'))
    _model(to_rgb=False).check_data_pipeline(rgb)
    with pytest.raises(ValueError, match=re.escape('to keep the channels')):
        model.check_data_pipeline(rgb)
