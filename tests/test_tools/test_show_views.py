"""Tests of tools/visualization/show_views.py and mmsiameseim.visualization.
"""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmpretrain.registry import MODELS

from mmsiameseim.datasets.transforms import (SiameseIMViews, SimColorJitter,
                                             SimGaussianBlur,
                                             SimRandomGrayscale, SimSolarize)
from mmsiameseim.models.utils import RelPos
from mmsiameseim.models.utils.colour_params import identity_record
from mmsiameseim.visualization import views_pair as vis
from mmsiameseim.visualization.views_figure import (MASK_RGB, colour_ops_text,
                                                    cosine_map, mark_masked,
                                                    pca_rgb, render)
from mmsiameseim.visualization.views_geometry import (patch_centres,
                                                      view2_centres_in_view1)
from tool_modules import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')
show_views = load_tool('tools/visualization/show_views.py')


def _write_image(path, height=40, width=48):
    yy, xx = np.mgrid[:height, :width]
    img = np.stack([xx * 5, yy * 6, (xx + yy) * 3], axis=-1)
    cv2.imwrite(str(path), img.clip(0, 255).astype(np.uint8))
    return str(path)


def _png(path):
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, f'{path} is not a readable image'
    return img[..., ::-1]  # RGB


def _tiny_run(tmp_path):
    """A tiny SiameseIM, its checkpoint and a config naming both."""
    import test_models.siameseim_tiny as tiny
    model_cfg = copy.deepcopy(tiny.TINY)
    model = MODELS.build(model_cfg)
    model.init_weights()
    ckpt = tmp_path / 'tiny.pth'
    torch.save({'state_dict': model.state_dict()}, ckpt)
    cfg_file = tmp_path / 'tiny_cfg.py'
    cfg_file.write_text(
        "custom_imports = dict(imports=['mmsiameseim'])\n"
        f'model = {model_cfg!r}\n'
        'train_dataloader = dict(dataset=dict(pipeline=[\n'
        "    dict(type='SiameseIMViews', img_size=32),\n"
        "    dict(type='BlockwiseMaskGenerator', input_size=4,\n"
        '         num_masking_patches=9, min_num_patches=2),\n'
        "    dict(type='PackInputs', algorithm_keys=['rel_pos'])]))\n")
    return model_cfg, str(cfg_file), str(ckpt)


def test_end_to_end_on_tiny_image(tmp_path, capsys):
    img = _write_image(tmp_path / 'tiny.png')
    out = tmp_path / 'views.png'
    assert show_views.main([
        img, '--img-size', '32', '--patch-size', '8', '--panel-size', '128',
        '--out', str(out), '--seed', '3', '--num-lines', '4'
    ]) == 0
    assert _png(out).shape[:2] == (128, 3 * 128)
    said = capsys.readouterr().out
    assert 'view 1: no colour op; view 2: no colour op' in said


def test_end_to_end_with_checkpoint_draws_a_colour_bar(tmp_path):
    """Second row; the colour bar runs from viridis(-1) at the bottom to
    viridis(1) at the top of its box, and is labelled with its range."""
    from matplotlib import colormaps
    _, cfg_file, ckpt = _tiny_run(tmp_path)
    img = cv2.imread(_write_image(tmp_path / 'tiny.png'))[..., ::-1]
    cfg = Config.fromfile(cfg_file)
    pair = vis.make_views(*vis.transforms_from_config(cfg, cfg_file), img, 0)
    model = vis.load_model(cfg, cfg_file, ckpt, trusted=False)
    out = tmp_path / 'views_ckpt.png'
    summary = render(img, pair, 8, str(out), panel=160,
                     features=vis.dense_features(model, pair))
    png = _png(out).astype(float)
    assert png.shape[:2] == (2 * 160, 3 * 160)
    assert summary['size'] == (3 * 160, 2 * 160)
    assert summary['texts']['cosine'][0].startswith('cosine(pred, target)')
    x0, y0, x1, y1 = summary['panels']['colour_bar']
    for down in (0.1, 0.5, 0.9):  # down the bar: from cosine 1 to -1
        want = np.array(colormaps['viridis'](1 - down)[:3]) * 255
        got = png[int(y0 + down * (y1 - y0)), int((x0 + x1) / 2)]
        np.testing.assert_allclose(got, want, atol=12)
    assert summary['colour_bar'] == (['\u22121', '0', '1'],
                                     'cosine, from -1 to 1')
    assert show_views.main([
        str(tmp_path / 'tiny.png'), '--checkpoint', cfg_file, ckpt,
        '--panel-size', '96', '--out', str(out)]) == 0
    assert _png(out).shape[:2] == (2 * 96, 3 * 96)


def test_colour_ops_text_is_the_record():
    """The caption of a view lists its record's ops as the ops wrote
    them: jitter ops in the order applied, then grayscale, blur, solarize.
    """
    rec = identity_record()
    assert colour_ops_text(rec) == 'no colour op'
    SimColorJitter().write_params(
        rec, (np.array([1, 0, 3, 2]), [1.2149, 0.8251, 1.1, -0.04]))
    SimRandomGrayscale().write_params(rec)
    SimGaussianBlur().write_params(rec, 1.3)
    SimSolarize(threshold=100).write_params(rec)
    assert colour_ops_text(rec) == (
        'jitter c=0.83 → b=1.21 → h=-0.04 → s=1.10; grayscale; blur σ=1.30; '
        'solarize ≥100')
    assert colour_ops_text(None).startswith('colour ops not recorded')


@pytest.mark.parametrize('route', ['device', 'worker'])
def test_solarized_view_is_written_and_shown(tmp_path, route):
    """The demo config (colour on the device) and its worker-route twin,
    seed 238 on a 28 px ramp: view 2 got only the solarize (threshold 128)
    and view 1 no colour op; the captions say so and the pixels shown are
    the uncoloured crops, view 2 solarized at 128."""
    cfg = Config.fromfile(DEMO)
    views_cfg, mask_cfg = vis.transforms_from_config(cfg, DEMO)
    views_cfg['colour_on'] = route
    yy, xx = np.mgrid[:28, :28]
    img = np.repeat(((xx + yy) * 255 / 54).astype(np.uint8)[..., None], 3, 2)
    pair = vis.make_views(views_cfg, mask_cfg, img, seed=238)
    summary = render(img, pair, 4, str(tmp_path / 'v.png'), panel=96)
    assert summary['texts']['view1'][1] == 'no colour op'
    assert summary['texts']['view2'][1] == 'solarize ≥128'
    assert summary['texts']['original'][1] == f'colour route: {route}'
    crop = SiameseIMViews(img_size=32).crop_view
    plain = [crop(img, params) for params in pair['params']]
    assert (plain[1] >= 128).any() and (plain[1] < 128).any()
    np.testing.assert_array_equal(pair['views'][0], plain[0])
    np.testing.assert_array_equal(pair['views'][1],
                                  np.where(plain[1] >= 128, 255 - plain[1],
                                           plain[1]))


def test_colour_ops_without_a_record_are_said_so(tmp_path):
    """A worker-route op that draws no record (here a plain callable) is
    applied as in training, and the caption says it is not recorded."""

    def invert(results):
        results['img'] = 255 - results['img']
        return results

    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), np.uint8)
    pair = vis.make_views(
        dict(type='SiameseIMViews', img_size=32, channel_order='rgb',
             target_pipeline=[invert]),
        dict(type='RandomPatchMaskGenerator', input_size=4,
             num_masking_patches=8), img, seed=0)
    assert pair['colour'] is None
    crop = SiameseIMViews(img_size=32).crop_view
    np.testing.assert_array_equal(pair['views'][1],
                                  255 - crop(img, pair['params'][1]))
    texts = render(img, pair, 8, str(tmp_path / 'v.png'), panel=96)['texts']
    assert texts['view2'][1] == 'colour ops not recorded (not Sim* ops)'


@pytest.mark.parametrize('level', [0, 128, 255])
def test_masked_patches_stand_out_on_any_background(tmp_path, level):
    """An all-black, mid-gray and all-white image: in the drawn PNG the
    centre of every masked patch of view 1 differs from the view by more
    than 60 in some channel, the centre of every visible one is the view.
    """
    img = np.full((40, 48, 3), level, np.uint8)
    views_cfg, mask_cfg = show_views.default_transforms(
        show_views.parse_args(['x.png', '--img-size', '32', '--patch-size',
                               '4', '--crop-scale', '0.3', '1',
                               '--mask-ratio', '0.5']))
    pair = vis.make_views(views_cfg, mask_cfg, img, seed=1)
    mask = pair['mask']
    assert 0 < mask.sum() < mask.size
    marked = mark_masked(pair['views'][0], mask, scale=2)
    big = mask.repeat(8, 0).repeat(8, 1)
    np.testing.assert_array_equal(marked[~big], level)
    assert (np.abs(marked[big].astype(int) - level).max(1) >= 64).all()
    out = tmp_path / f'level{level}.png'
    summary = render(img, pair, 4, str(out), num_lines=0, panel=320)
    assert summary['texts']['view1'][0].startswith(
        f'view 1 (online): {mask.sum()}/64 masked\nmasked: magenta')
    png = _png(out).astype(int)
    x0, y0, x1, y1 = summary['panels']['view1']
    for (r, c), masked in np.ndenumerate(mask):
        y = int(y0 + (r + 0.5) * (y1 - y0) / 8)
        x = int(x0 + (c + 0.5) * (x1 - x0) / 8)
        diff = np.abs(png[y, x] - level).max()
        assert diff >= 60 if masked else diff <= 2, (r, c, png[y, x])
    assert tuple(MASK_RGB) == (255, 0, 255)


def _ground_truth(params1, params2, width, size, points):
    """View-2 pixel points -> view-1 pixels through the original image."""
    flip1, (i1, j1, h1, w1) = params1
    flip2, (i2, j2, h2, w2) = params2
    y2, x2 = points[:, 0], points[:, 1]
    # view 2 -> its (possibly flipped) full-image frame -> original frame
    y = i2 + y2 * h2 / size
    x = j2 + x2 * w2 / size
    if flip2:
        x = width - x
    # original frame -> view 1's frame -> view-1 pixels
    if flip1:
        x = width - x
    return np.stack([(y - i1) * size / h1, (x - j1) * size / w1], axis=1)


@pytest.mark.parametrize('grid,patch', [(4, 8), (14, 16)])
def test_geometry_matches_crop_boxes(grid, patch):
    size = grid * patch
    views = SiameseIMViews(img_size=size, crop_scale=(0.05, 1.0))
    rng = np.random.RandomState(0)
    np.random.seed(1)
    seen_flips = set()
    for _ in range(200):
        height, width = rng.randint(20, 700, size=2)
        params1, params2 = views.sample_view_params(height, width)
        seen_flips.add((params1[0], params2[0]))
        rel = RelPos.from_boxes(params1, params2, width).to_array()
        src = patch_centres(grid, patch)
        got = view2_centres_in_view1(rel, grid, patch)
        want = _ground_truth(params1, params2, width, size, src)
        np.testing.assert_allclose(got, want, atol=2e-3 * patch)
    assert len(seen_flips) == 4  # all flip combinations were exercised


def test_patch_centres_convention():
    centres = patch_centres(3, 10)
    assert centres.shape == (9, 2)
    np.testing.assert_allclose(centres[0], [5, 5])
    np.testing.assert_allclose(centres[1], [5, 15])  # raster: x fastest
    np.testing.assert_allclose(centres[3], [15, 5])


def test_identity_geometry():
    rel = np.array([0, 0, 1, 1, 0, 1], dtype=np.float32)
    src = patch_centres(8, 4)
    np.testing.assert_allclose(
        view2_centres_in_view1(rel, 8, 4), src, atol=1e-6)


def test_lines_join_matching_content():
    """Colour-coded image: joined points show the same original pixel."""
    size, grid, patch = 64, 8, 8
    height, width = 96, 128
    yy, xx = np.mgrid[:height, :width]
    img = np.stack(
        [xx * 255 / width, yy * 255 / height,
         np.full_like(xx, 128.)], axis=-1).astype(np.uint8)
    views_cfg = dict(
        type='SiameseIMViews',
        img_size=size,
        crop_scale=(0.3, 1.0),
        interpolation='bilinear',
        channel_order='rgb')
    mask_cfg = dict(
        type='RandomPatchMaskGenerator',
        input_size=grid,
        num_masking_patches=10)
    checked = 0
    for seed in range(6):
        pair = vis.make_views(views_cfg, mask_cfg, img, seed)
        src = patch_centres(grid, patch)
        dst = view2_centres_in_view1(pair['rel_pos'], grid, patch)
        for (y2, x2), (y1, x1) in zip(src, dst):
            if not (2 <= y1 < size - 2 and 2 <= x1 < size - 2):
                continue
            a = pair['views'][1][int(y2), int(x2), :2].astype(float)
            b = pair['views'][0][int(y1), int(x1), :2].astype(float)
            assert np.all(np.abs(a - b) <= 8), (seed, y2, x2, a, b)
            checked += 1
    assert checked > 50


def test_pca_rgb_and_cosine():
    rng = np.random.RandomState(0)
    feats = rng.randn(16, 8)
    pred_rgb, target_rgb = pca_rgb(feats, feats)
    assert pred_rgb.shape == (4, 4, 3)
    np.testing.assert_allclose(pred_rgb, target_rgb)
    assert pred_rgb.min() >= 0 and pred_rgb.max() <= 1
    np.testing.assert_allclose(cosine_map(feats, feats), 1.)
    np.testing.assert_allclose(cosine_map(feats, -feats), -1.)


def test_dense_features_are_predict_dense_outputs():
    """The visualiser's features are ``SiameseIM.predict_dense`` on the
    pair (inputs built here by hand), normalised as the loss does (LN on
    the target, none on the prediction); the crop boxes it draws are the
    ones ``rel_pos`` was computed from."""
    import torch.nn.functional as F
    from mmpretrain.structures import DataSample
    import test_models.siameseim_tiny as tiny
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(tiny.TINY))
    model.init_weights()
    model.eval()
    img = np.random.default_rng(0).integers(0, 256, (40, 48, 3), np.uint8)
    pair = vis.make_views(
        dict(type='SiameseIMViews', img_size=32),
        dict(type='BlockwiseMaskGenerator', input_size=4,
             num_masking_patches=9, min_num_patches=2), img, seed=5)
    np.testing.assert_array_equal(
        pair['rel_pos'],
        RelPos.from_boxes(*pair['params'], 48).to_array())
    pred, target = vis.dense_features(model, pair)
    sample = DataSample()
    sample.set_mask(torch.from_numpy(pair['mask']))
    sample.set_field(pair['results']['rel_pos'], 'rel_pos')
    inputs = [
        torch.from_numpy(v).permute(2, 0, 1)[None].float()
        for v in pair['results']['img']
    ]
    with torch.no_grad():
        out = model.predict_dense(inputs, [sample])
    assert pred.shape == target.shape == (16, tiny.EMBED)
    np.testing.assert_array_equal(pred, out.pred[0].numpy())
    np.testing.assert_array_equal(
        target,
        F.layer_norm(out.target, out.target.shape[-1:])[0].numpy())
