"""The device colour route draws exactly what the worker route applies.

``SiameseIMViews(colour_on='device')`` must draw every colour parameter
of both views from NumPy's global RNG in the worker route's order, and
record them so that the data preprocessor can do what the worker ops do.
The oracle is the worker route itself: its pixel ops are spied on (which
op, with which factor, in which order, per view) and compared with the
records of the device route from the same seed, exactly (float32).
"""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmpretrain.registry import TRANSFORMS

from mmsiameseim.datasets.transforms import SiameseIMViews
from mmsiameseim.datasets.transforms import color as colour_ops
from mmsiameseim.models.utils.colour_params import (INDEX, NUM_FIELDS,
                                                    describe_record)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
VIEWS_CFG = osp.join(ROOT, 'configs', 'siameseim', '_base_',
                     'imagenet_siameseim_views.py')
SEEDS = range(300)
STAGES = ('jitter', 'grayscale', 'blur', 'solarize')
JITTER = ('brightness', 'contrast', 'saturation', 'hue')


def _imagenet_views(**changes) -> dict:
    """The ImageNet configs' views (BYOL's asymmetric pair) at 16 px."""
    cfg = Config.fromfile(VIEWS_CFG)
    return dict(cfg.views.to_dict(), img_size=16, **changes)


def _even_odds_views(**changes) -> dict:
    """Every op at p 0.5 on both views; saturation off (a None factor)."""
    jitter = dict(type='SimColorJitter', brightness=0.4, contrast=0.4,
                  saturation=0., hue=0.1, prob=0.5)
    ops = [jitter, dict(type='SimRandomGrayscale', prob=0.5),
           dict(type='SimGaussianBlur', sigma_min=0.1, sigma_max=2.,
                prob=0.5),
           dict(type='SimSolarize', threshold=100, prob=0.5)]
    return dict(type='SiameseIMViews', img_size=16, online_pipeline=ops,
                target_pipeline=ops[:1] + ops[2:], **changes)


class Spy:
    """Record the worker ops' pixel calls: ``[[view 1 ops], [view 2 ops]]``.

    Each entry is ``(op,)`` or ``(op, value as float32)``, the form of
    :func:`describe_record`.
    """

    def __init__(self, monkeypatch):
        self.views = []
        run = SiameseIMViews._run_colour

        def run_colour(views, pipeline, view, results, name):
            self.views.append([])
            return run(views, pipeline, view, results, name)

        monkeypatch.setattr(SiameseIMViews, '_run_colour', run_colour)
        for name in ('brightness', 'contrast', 'saturation', 'hue'):
            self._wrap(monkeypatch, colour_ops, f'adjust_{name}', name)
        for cls, name in ((colour_ops.SimRandomGrayscale, 'grayscale'),
                          (colour_ops.SimGaussianBlur, 'blur'),
                          (colour_ops.SimSolarize, 'solarize')):
            self._wrap(monkeypatch, cls, 'apply_params', name)

    def _wrap(self, monkeypatch, owner, attr, op):
        original = getattr(owner, attr)

        def spied(*args):
            value = args[-1]  # (img, factor) or (self, img, sigma)
            if op == 'grayscale':
                value = None
            elif op == 'solarize':  # (self, img, ())
                value = args[0].threshold
            self.views[-1].append((op, ) if value is None else
                                  (op, float(np.float32(value))))
            return original(*args)

        monkeypatch.setattr(owner, attr, spied)


def _image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, 256, (24, 30, 3), dtype=np.uint8)


def _seen(view, ops, misses=STAGES):
    return {(view, op) for op in ops} | {(view, 'no ' + op) for op in misses}


# (views config, what every seed together must hit and miss, never seen)
ROUTES = {
    'imagenet': (_imagenet_views,
                 _seen(0, JITTER + ('grayscale', 'blur'),
                       ('jitter', 'grayscale', 'solarize'))
                 | _seen(1, JITTER + STAGES[1:]),
                 {(0, 'no blur'), (0, 'solarize')}),
    'even-odds': (_even_odds_views,
                  _seen(0, ('brightness', 'contrast', 'hue') + STAGES[1:])
                  | _seen(1, ('brightness', 'contrast', 'hue', 'blur',
                              'solarize')),
                  {(0, 'saturation'), (1, 'saturation'), (1, 'grayscale')}),
}


@pytest.mark.parametrize('route', ROUTES)
def test_device_route_draws_what_the_worker_route_applies(
        route, monkeypatch):
    views_cfg, must_see, never = ROUTES[route]
    worker = TRANSFORMS.build(views_cfg(colour_on='worker'))
    device = TRANSFORMS.build(views_cfg(colour_on='device'))
    spy = Spy(monkeypatch)
    seen = set()
    for seed in SEEDS:
        img = _image(seed % 7)
        np.random.seed(seed)
        worker_out = worker(dict(img=img.copy()))
        after_worker = np.random.rand()
        np.random.seed(seed)
        device_out = device(dict(img=img.copy()))
        after_device = np.random.rand()
        # the same number of draws: the generator ends in the same state
        assert after_worker == after_device
        assert (worker_out['rel_pos'] == device_out['rel_pos']).all()
        records = device_out['colour_params']
        assert records.shape == (2, NUM_FIELDS)
        assert records.dtype == np.float32
        applied = spy.views[-2:]
        for view in (0, 1):
            assert describe_record(records[view]) == applied[view], seed
            seen.update((view, op[0]) for op in applied[view])
            seen.update((view, 'no ' + op) for op in STAGES
                        if not records[view][INDEX[op]])
    # every prob hit and (where below 1) missed, on both views
    assert must_see <= seen, must_see - seen
    assert not never & seen


def test_device_route_views_are_the_uncoloured_crops():
    plain = TRANSFORMS.build(
        _imagenet_views(online_pipeline=[], target_pipeline=[]))
    device = TRANSFORMS.build(_imagenet_views(colour_on='device'))
    for seed in range(5):
        np.random.seed(seed)
        want = plain(dict(img=_image(seed)))
        np.random.seed(seed)
        got = device(dict(img=_image(seed)))
        for a, b in zip(want['img'], got['img']):
            assert a.dtype == b.dtype == np.uint8
            assert (a == b).all()
    pack = TRANSFORMS.build(
        dict(type='PackInputs', algorithm_keys=['rel_pos', 'colour_params']))
    sample = pack(got)['data_samples']
    assert np.asarray(sample.colour_params).shape == (2, NUM_FIELDS)


def test_identity_factors_and_disabled_ops_are_recorded_as_no_ops():
    views = SiameseIMViews(
        img_size=8, colour_on='device',
        online_pipeline=[dict(type='SimColorJitter', brightness=0.,
                              contrast=0., saturation=0., hue=0.1, prob=1.)],
        target_pipeline=[])
    np.random.seed(3)
    records = views(dict(img=_image(0)))['colour_params']
    ops = describe_record(records[0])
    assert [op for op, *_ in ops] == ['hue'] and -0.1 <= ops[0][1] <= 0.1
    assert describe_record(records[1]) == []


@pytest.mark.parametrize('online, message', [
    ([dict(type='SimRandomGrayscale'), dict(type='SimColorJitter')],
     "['SimRandomGrayscale', 'SimColorJitter']"),
    ([dict(type='SimSolarize'), dict(type='SimSolarize')],
     "['SimSolarize', 'SimSolarize']"),
    ([dict(type='RandomFlip', prob=0.5)], "['RandomFlip']"),
])
def test_device_route_refuses_ops_it_cannot_apply(online, message):
    with pytest.raises(ValueError) as err:
        SiameseIMViews(colour_on='device', online_pipeline=online)
    assert "colour_on='device'" in str(err.value)
    assert '`online_pipeline`' in str(err.value) and message in str(err.value)
    SiameseIMViews(colour_on='worker', online_pipeline=online)  # allowed
    with pytest.raises(ValueError, match='colour_on'):
        SiameseIMViews(colour_on='gpu')
