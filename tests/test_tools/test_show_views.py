"""Tests of tools/visualization/show_views.py."""
import copy
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
from mmpretrain.registry import MODELS

from mmsiameseim.datasets.transforms import SiameseIMViews
from tool_modules import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'visualization', 'show_views.py')


show_views = load_tool(TOOL)


def _write_image(path, height=40, width=48):
    yy, xx = np.mgrid[:height, :width]
    img = np.stack([xx * 5, yy * 6, (xx + yy) * 3], axis=-1)
    cv2.imwrite(str(path), img.clip(0, 255).astype(np.uint8))
    return str(path)


def _png_size(path):
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    assert img is not None, f'{path} is not a readable image'
    return img.shape[1], img.shape[0]


def test_end_to_end_on_tiny_image(tmp_path):
    img = _write_image(tmp_path / 'tiny.png')
    out = tmp_path / 'views.png'
    summary = show_views.main([
        img, '--img-size', '32', '--patch-size', '8', '--panel-size', '128',
        '--out',
        str(out), '--seed', '3', '--num-lines', '4'
    ])
    assert out.is_file()
    assert _png_size(out) == (3 * 128, 128)
    assert summary['size'] == (3 * 128, 128)
    assert len(summary['patches']) <= 4
    # Joined patches land inside view 1.
    assert np.all((summary['dst'] >= 0) & (summary['dst'] < 32))


def test_end_to_end_with_checkpoint(tmp_path):
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
    img = _write_image(tmp_path / 'tiny.png')
    out = tmp_path / 'views_ckpt.png'
    summary = show_views.main([
        img, '--checkpoint',
        str(cfg_file),
        str(ckpt), '--panel-size', '96', '--out',
        str(out)
    ])
    assert out.is_file()
    assert _png_size(out) == (3 * 96, 2 * 96)
    assert summary['size'] == (3 * 96, 2 * 96)


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
        rel = views.compute_rel_pos(params1, params2, width)
        src = show_views.patch_centres(grid, patch)
        got = show_views.view2_centres_in_view1(rel, grid, patch)
        want = _ground_truth(params1, params2, width, size, src)
        np.testing.assert_allclose(got, want, atol=2e-3 * patch)
    assert len(seen_flips) == 4  # all flip combinations were exercised


def test_patch_centres_convention():
    centres = show_views.patch_centres(3, 10)
    assert centres.shape == (9, 2)
    np.testing.assert_allclose(centres[0], [5, 5])
    np.testing.assert_allclose(centres[1], [5, 15])  # raster: x fastest
    np.testing.assert_allclose(centres[3], [15, 5])


def test_identity_geometry():
    rel = np.array([0, 0, 1, 1, 0, 1], dtype=np.float32)
    src = show_views.patch_centres(8, 4)
    np.testing.assert_allclose(
        show_views.view2_centres_in_view1(rel, 8, 4), src, atol=1e-6)


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
        pair = show_views.make_views(views_cfg, mask_cfg, img, seed)
        src = show_views.patch_centres(grid, patch)
        dst = show_views.view2_centres_in_view1(pair['rel_pos'], grid, patch)
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
    pred_rgb, target_rgb = show_views.pca_rgb(feats, feats)
    assert pred_rgb.shape == (4, 4, 3)
    np.testing.assert_allclose(pred_rgb, target_rgb)
    assert pred_rgb.min() >= 0 and pred_rgb.max() <= 1
    np.testing.assert_allclose(show_views.cosine_map(feats, feats), 1.)
    np.testing.assert_allclose(show_views.cosine_map(feats, -feats), -1.)


def test_rejects_two_inputs(tmp_path):
    with pytest.raises(SystemExit):
        show_views.parse_args(['a.png', '--dataset-index', '0'])
    with pytest.raises(SystemExit):
        show_views.parse_args([])


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
    pair = show_views.make_views(
        dict(type='SiameseIMViews', img_size=32),
        dict(type='BlockwiseMaskGenerator', input_size=4,
             num_masking_patches=9, min_num_patches=2), img, seed=5)
    np.testing.assert_array_equal(
        pair['rel_pos'],
        SiameseIMViews.compute_rel_pos(*pair['params'], width=48))
    pred, target = show_views.dense_features(model, pair)
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
