"""The batched colour ops agree with the ops they replace, op by op.

Each batched op (one parameter per image) is compared, on real photos
(scikit-image's astronaut, chelsea, coffee) and on edge cases (grey images,
saturated colours, hues on both sides of red, sigma at both ends, values
at the solarize threshold), with three references called image by image
with the same parameter:

* ``torchvision``: torchvision's functional op on a float tensor;
* ``worker``: the worker-route op it replaces (``color.py``, NumPy);
* ``original``: the op of the original implementation: torchvision's
  functional op on a PIL image, ``PIL.ImageFilter.GaussianBlur(radius=
  sigma)`` for blur, ``PIL.ImageOps.solarize`` for solarize.

Every image's mean absolute difference must be within 2/255. The table of
docs/benchmarks.md (§2, "Same augmentation") is printed by
``pytest -s tests/test_models/test_utils/test_batch_colour.py -k table``.
"""
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF
from PIL import Image, ImageFilter, ImageOps
from skimage import data as photos

from mmsiameseim.datasets.transforms import color as worker
from mmsiameseim.models.utils import batch_colour as bc

REFS = ('torchvision', 'worker', 'original')


def _photo(name: str, size: int = 96) -> np.ndarray:
    img = Image.fromarray(getattr(photos, name)())
    return np.asarray(img.resize((size, size), Image.BICUBIC))


def _edge_images(size: int = 32) -> list:
    ramp = np.linspace(0, 255, size * size).reshape(size, size)
    grey = np.repeat(np.round(ramp)[..., None], 3, axis=2)
    flat = np.full((size, size, 3), 128.)
    stripes = np.array([[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 255, 255],
                        [255, 0, 255], [255, 255, 0], [255, 255, 255],
                        [0, 0, 0]], dtype=float)
    saturated = np.repeat(stripes, size // 8, axis=0)[:, None].repeat(
        size, axis=1)
    # hues on both sides of red (0 / 360 degrees): the wrap-around
    u, v = np.meshgrid(np.linspace(0, 1, size), np.linspace(0, 1, size))
    wrap = np.stack([200 + 40 * u, 60 + 80 * u * (v < .5),
                     60 + 80 * u * (v >= .5)], axis=-1)
    return [np.round(x).astype(np.uint8)
            for x in (grey, flat, saturated, wrap)]


PHOTOS = [_photo(n) for n in ('astronaut', 'chelsea', 'coffee')]
EDGES = _edge_images()


def _each(op):
    """A batched op with the same parameter ``p`` for every image."""
    return lambda x, p: op(x, torch.full((len(x), ), float(p)))


#: brightness, contrast, saturation as ``batch_blend``'s (luma, mean)
#: weights of the factor f (its docstring)
BLEND_WEIGHTS = dict(brightness=lambda f: (0 * f, 0 * f),
                     contrast=lambda f: (0 * f, 1 - f),
                     saturation=lambda f: (1 - f, 0 * f))


def _batch_jitter(name):
    """The device op of one jitter op: ``(x, factor) -> x``."""
    if name == 'hue':
        return bc.batch_hue
    return lambda x, f: bc.batch_blend(x, f, *BLEND_WEIGHTS[name](f))


def _jitter_op(name, params):
    # torchvision's functional op takes a tensor (torchvision reference)
    # or a PIL image (the original's call)
    tv_op = getattr(TF, f'adjust_{name}')
    return (params, _each(_batch_jitter(name)), tv_op,
            getattr(worker, f'adjust_{name}'), tv_op)


# op -> (parameters, device op(x, p), torchvision tensor op, worker op,
# original op on a PIL image)
OPS = {
    'brightness': _jitter_op('brightness', (0.6, 1.4)),
    'contrast': _jitter_op('contrast', (0.6, 1.4)),
    'saturation': _jitter_op('saturation', (0.8, 1.2)),
    'hue': _jitter_op('hue', (-0.5, -0.1, 0.03, 0.1, 0.5)),
    'grayscale': ((None, ), lambda x, p: bc.batch_grayscale(x),
                  lambda t, p: TF.rgb_to_grayscale(t, 3),
                  lambda a, p: worker.SimRandomGrayscale().apply_params(a),
                  lambda img, p: TF.rgb_to_grayscale(img, 3)),
    'blur': ((0.1, 0.5, 1.0, 2.0),
             lambda x, p: bc.batch_gaussian_blur(
                 x, torch.full((len(x), ), p), bc.blur_radius(p)),
             lambda t, p: TF.gaussian_blur(
                 t, 2 * math.ceil(3 * p) + 1, p),
             lambda a, p: worker.SimGaussianBlur().apply_params(a, p),
             lambda img, p: img.filter(ImageFilter.GaussianBlur(radius=p))),
    'solarize': ((0, 128, 255),
                 _each(bc.batch_solarize),
                 lambda t, p: TF.solarize(t, p / 255.),
                 lambda a, p: worker.SimSolarize(threshold=p).apply_params(a),
                 lambda img, p: ImageOps.solarize(img, p)),
}


def _device(op, imgs, p):
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    return OPS[op][1](x, p)


def _refs(op, img, p):
    _, _, tv, wk, orig = OPS[op]
    t = torch.tensor(img).permute(2, 0, 1).float() / 255
    return dict(
        torchvision=tv(t, p).permute(1, 2, 0).numpy() * 255,
        worker=wk(img, p),
        original=np.asarray(orig(Image.fromarray(img), p)))


def _cases(op):
    return [(p, imgs) for p in OPS[op][0] for imgs in (PHOTOS, EDGES)]


@pytest.fixture(scope='module')
def agreement():
    """op -> ref -> list of per-image (mean |diff|, max |diff|)."""
    out = {}
    for op in OPS:
        out[op] = {ref: [] for ref in REFS}
        for p, imgs in _cases(op):
            got = _device(op, imgs, p).permute(0, 2, 3, 1).numpy()
            assert got.min() >= 0 and got.max() <= 255
            assert (got == np.round(got)).all()  # on the uint8 grid
            for img, dev in zip(imgs, got):
                for ref, want in _refs(op, img, p).items():
                    diff = np.abs(dev - np.asarray(want, np.float64))
                    out[op][ref].append((diff.mean(), diff.max()))
    return out


@pytest.mark.parametrize('ref', REFS)
@pytest.mark.parametrize('op', OPS)
def test_batched_op_agrees_within_2_of_255(agreement, op, ref):
    means = [m for m, _ in agreement[op][ref]]
    assert len(means) == len(OPS[op][0]) * (len(PHOTOS) + len(EDGES))
    assert max(means) <= 2.0, (op, ref, means)


@pytest.mark.parametrize('op', [o for o in OPS if o != 'blur'])
def test_pointwise_ops_repeat_the_worker_ops(agreement, op):
    # the same formulas on the same uint8 grid: at most a rounding step
    # apart, and only where float sums land at .5
    assert max(m for _, m in agreement[op]['worker']) <= 1
    assert max(m for m, _ in agreement[op]['worker']) < 0.01


def test_agreement_table(agreement):
    rows = ['| op | reference | mean abs diff (all images) | worst image '
            '| max pixel |', '|---|---|---|---|---|']
    for op, refs in agreement.items():
        for ref, stats in refs.items():
            means, maxes = zip(*stats)
            rows.append(f'| {op} | {ref} | {np.mean(means):.3f} | '
                        f'{max(means):.3f} | {max(maxes):.1f} |')
    print('\n' + '\n'.join(rows))


def test_blur_kernels_are_normalised_with_variance_sigma_squared():
    sigma = torch.tensor([0., 0.1, 0.5, 1., 1.7, 2.])
    radius = bc.blur_radius(2.)
    assert radius == 6
    kernels = bc.extended_box_kernels(sigma, radius)
    taps = torch.arange(-radius, radius + 1, dtype=torch.float32)
    torch.testing.assert_close(kernels.sum(1), torch.ones(6))
    torch.testing.assert_close((kernels * taps**2).sum(1), sigma**2,
                               atol=1e-5, rtol=1e-5)
    assert kernels[0, radius] == 1  # sigma 0: the identity
    torch.testing.assert_close(kernels, kernels.flip(1))


def test_each_image_keeps_its_own_jitter_order():
    from mmsiameseim.models.utils.colour_params import identity_record
    img = PHOTOS[1]
    jitter = worker.SimColorJitter()
    factors = [1.35, 0.65, 1.2, 0.1]
    orders = [(0, 1, 2, 3), (3, 2, 1, 0), (2, 3, 0, 1), (1, 0, 3, 2)]
    records = np.stack([identity_record() for _ in orders])
    for rec, order in zip(records, orders):
        jitter.write_params(rec, (np.array(order), factors))
    x = torch.from_numpy(np.stack([img] * 4)).permute(0, 3, 1, 2).float()
    got = bc.apply_colour_params_(x.clone(), records)
    got = got.permute(0, 2, 3, 1).numpy()
    for k, order in enumerate(orders):
        want = jitter.apply_params(img, (order, factors))
        # rounding steps apart where float sums land at .5 (then scaled)
        assert np.abs(got[k] - want).max() <= 2
        assert np.abs(got[k] - want).mean() < 0.01
    # the orders give different images: each order was really followed
    for a in range(4):
        for b in range(a):
            assert np.abs(got[a] - got[b]).mean() > 0.5


def test_identity_records_leave_the_batch_as_it_is():
    from mmsiameseim.models.utils.colour_params import identity_record
    x = torch.from_numpy(np.stack(PHOTOS)).permute(0, 3, 1, 2).float()
    records = np.stack([identity_record() for _ in PHOTOS])
    out = bc.apply_colour_params_(x.clone(), records)
    assert torch.equal(out, x)
    with pytest.raises(ValueError, match='2 colour records for a batch of 3'):
        bc.apply_colour_params_(x.clone(), records[:2])


def test_grouped_application_equals_each_image_on_its_own():
    # records of the ImageNet views (both views, one call) against every
    # image alone through the single ops, in its record's order
    from mmengine.config import Config
    from mmpretrain.registry import TRANSFORMS

    from mmsiameseim.models.utils.colour_params import (INDEX, JITTER_OPS,
                                                        describe_record)
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
        osp.abspath(__file__)))))
    cfg = Config.fromfile(
        osp.join(root, 'configs', 'siameseim', '_base_',
                 'imagenet_siameseim_views.py')).views.to_dict()
    views = TRANSFORMS.build(dict(cfg, colour_on='device'))
    np.random.seed(4)
    records = np.stack([
        views.draw_colour(pipeline) for _ in range(12)
        for pipeline in (views.online_pipeline, views.target_pipeline)
    ])
    imgs = (PHOTOS * 8)[:24]
    x = torch.from_numpy(np.stack(imgs)).permute(0, 3, 1, 2).float()
    got = bc.apply_colour_params_(x.clone(), records)
    blurred = records[:, INDEX['blur']] > 0
    radius = bc.blur_radius(records[blurred, INDEX['sigma']].max())
    single = dict({op: _batch_jitter(op) for op in JITTER_OPS},
                  solarize=bc.batch_solarize)
    for k, rec in enumerate(records):
        want = x[k:k + 1]
        for op, *value in describe_record(rec):
            if op == 'grayscale':
                want = bc.batch_grayscale(want)
            elif op == 'blur':
                want = bc.batch_gaussian_blur(want, torch.tensor(value),
                                              radius)
            else:
                want = single[op](want, torch.tensor(value))
        assert torch.equal(got[k:k + 1], want), k
