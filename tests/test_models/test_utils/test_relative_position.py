"""Tests of the relative geometry and sin-cos code (docs/method.md §1, §3)."""
import numpy as np
import pytest
import torch
from mmpretrain.models.utils import build_2d_sincos_position_embedding

from mmsiameseim.datasets.transforms import SiameseIMViews
from mmsiameseim.models.utils.relative_position import (
    relative_patch_coords, relative_sincos_embedding, sincos_1d)

IDENTITY = [0., 0., 1., 1., 0., 1.]


def omegas(num_freqs: int) -> np.ndarray:
    return 10000.**(-np.arange(num_freqs) / num_freqs)


def test_mmpretrain_table_layout_is_sin_y_cos_y_sin_x_cos_x():
    grid, dims = 5, 16
    table = build_2d_sincos_position_embedding(grid, dims)[0].double()
    omega = omegas(dims // 4)
    for r in range(grid):
        for c in range(grid):
            want = np.concatenate([
                np.sin(r * omega),
                np.cos(r * omega),
                np.sin(c * omega),
                np.cos(c * omega)
            ])
            np.testing.assert_allclose(
                table[r * grid + c].numpy(), want, atol=1e-6)


@pytest.mark.parametrize('grid, dims', [(14, 768), (7, 64), (8, 192)])
def test_identity_geometry_equals_absolute_table(grid, dims):
    table = build_2d_sincos_position_embedding(grid, dims, cls_token=False)[0]
    rel = torch.tensor([IDENTITY] * 3)
    code = relative_sincos_embedding(rel, grid, dims)
    assert code.shape == (3, grid * grid, 2 * dims)
    assert code.dtype == torch.float32
    for b in range(3):
        torch.testing.assert_close(code[b, :, :dims], table, atol=1e-6, rtol=0)
    # equal crop sizes: scale codes are sin(0) = 0 and cos(0) = 1
    quarter = dims // 4
    scale = code[:, :, dims:].reshape(3, grid * grid, 4, quarter)
    assert (scale[:, :, 0::2] == 0).all() and (scale[:, :, 1::2] == 1).all()


def test_same_crop_views_give_absolute_table():
    np.random.seed(0)
    views = SiameseIMViews(img_size=28, same_crop=True)
    out = views(dict(img=np.zeros((60, 90, 3), np.uint8)))
    code = relative_sincos_embedding(
        torch.from_numpy(out['rel_pos'])[None], 7, 32)
    table = build_2d_sincos_position_embedding(7, 32)[0]
    torch.testing.assert_close(code[0, :, :32], table, atol=1e-6, rtol=0)


def test_scale_code_values():
    dims, grid = 32, 4
    rel = torch.tensor([[0.1, -0.2, 2.0, 0.5, 0., 0.3]])
    code = relative_sincos_embedding(rel, grid, dims)[0].double().numpy()
    omega = omegas(dims // 4)
    s_h, s_w = 10 * np.log(2.0), 10 * np.log(0.5)
    want = np.concatenate([
        np.sin(s_h * omega),
        np.cos(s_h * omega),
        np.sin(s_w * omega),
        np.cos(s_w * omega)
    ])
    for row in code:  # the same for every patch
        np.testing.assert_allclose(row[dims:], want, atol=1e-5)


def test_position_code_at_fractional_coords():
    dims, grid = 16, 3
    rel = torch.tensor([[0.25, 0.5, 0.5, 0.75, 0., 0.]])
    code = relative_sincos_embedding(rel, grid, dims)[0].double().numpy()
    omega = omegas(dims // 4)
    for r in range(grid):
        for c in range(grid):
            y = grid * 0.25 + 0.5 * (r + 0.5) - 0.5
            x = grid * 0.5 + 0.75 * (c + 0.5) - 0.5
            want = np.concatenate([
                np.sin(y * omega),
                np.cos(y * omega),
                np.sin(x * omega),
                np.cos(x * omega)
            ])
            np.testing.assert_allclose(
                code[r * grid + c, :dims], want, atol=1e-5)


def test_coords_hand_derived_cases():
    # g = 2; view 2 is the right half of view 1 (same height). View-1 patch
    # edges at 0, 1, 2 (centres 0.5, 1.5 -> indices 0, 1); the right half
    # [1, 2] holds view-2 centres at 1.25 and 1.75, i.e. 0.75 and 1.25.
    rel = torch.tensor([[0., 0.5, 1., 0.5, 0., 99.]])
    got = relative_patch_coords(rel, 2)[0]
    want = torch.tensor([[0., 0.75], [0., 1.25], [1., 0.75], [1., 1.25]])
    torch.testing.assert_close(got, want)
    # Same full box, relatively flipped: columns are mirrored.
    rel = torch.tensor([[0., 0., 1., 1., 1., 1.]])
    got = relative_patch_coords(rel, 4)[0].reshape(4, 4, 2)
    torch.testing.assert_close(got[..., 1],
                               torch.tensor([3., 2., 1., 0.]).expand(4, 4))
    torch.testing.assert_close(got[..., 0],
                               torch.arange(4.)[:, None].expand(4, 4))
    # View 2 twice as tall and shifted one view-1 height down.
    rel = torch.tensor([[1., 0., 2., 1., 0., 0.]])
    got = relative_patch_coords(rel, 2)[0]
    torch.testing.assert_close(got[:, 0], torch.tensor([2.5, 2.5, 4.5, 4.5]))


def test_coords_dtype_device_and_grad():
    rel = torch.tensor([[0.1, 0.2, 1.3, 0.7, 1., 0.4]], dtype=torch.float64)
    assert relative_patch_coords(rel, 5).dtype == torch.float64
    assert relative_patch_coords(rel.half(), 5).dtype == torch.float32
    assert relative_patch_coords(rel.float(), 5).shape == (1, 25, 2)
    meta = relative_patch_coords(rel.float().to('meta'), 5)
    assert meta.device.type == 'meta' and meta.shape == (1, 25, 2)
    leaf = rel.float().requires_grad_()
    assert not relative_patch_coords(leaf, 5).requires_grad
    assert not relative_sincos_embedding(leaf, 5, 8).requires_grad
    assert relative_sincos_embedding(rel, 5, 8).dtype == torch.float32


def test_sincos_1d():
    pos = torch.tensor([[0., 1.5], [-2., 30.]])
    out = sincos_1d(pos, 4)
    assert out.shape == (2, 2, 8)
    omega = np.array([1., 0.1, 0.01, 0.001])
    want = np.concatenate([
        np.sin(pos.numpy()[..., None] * omega),
        np.cos(pos.numpy()[..., None] * omega)
    ], -1)
    np.testing.assert_allclose(out.numpy(), want, atol=1e-6)
    assert (sincos_1d(torch.zeros(3), 5,
                      temperature=100.) == torch.tensor([0.] * 5 +
                                                        [1.] * 5)).all()
    assert sincos_1d(torch.arange(3), 2).dtype == torch.float32


def test_validation():
    rel = torch.tensor([IDENTITY])
    with pytest.raises(ValueError, match='embed_dims'):
        relative_sincos_embedding(rel, 4, 6)
    with pytest.raises(ValueError, match='rel_pos'):
        relative_sincos_embedding(rel[:, :5], 4, 8)
    with pytest.raises(ValueError, match='rel_pos'):
        relative_patch_coords(rel[0], 4)
    with pytest.raises(ValueError, match='grid_size'):
        relative_patch_coords(rel, 0)
    with pytest.raises(TypeError, match='rel_pos'):
        relative_patch_coords(np.zeros((1, 6)), 4)
    with pytest.raises(ValueError, match='num_freqs'):
        sincos_1d(torch.zeros(2), 0)


def test_relpos_layout_is_named_once():
    """``RelPos`` owns the record: the transform's array, the unpacked batch
    and the field names agree, and the formulas are the documented ones."""
    from mmsiameseim.models.utils import RelPos
    view1, view2, width = (True, (10, 20, 40, 50)), (False, (5, 30, 80, 25)), \
        200
    geo = RelPos.from_boxes(view1, view2, width)
    assert geo == RelPos(di=(5 - 10) / 40, dj=(30 - 20) / 50, dh=80 / 40,
                         dw=25 / 50, rflip=1.0, dj_flip=(200 - 20 - 30) / 50)
    record = geo.to_array()  # what SiameseIMViews records
    assert record.dtype == np.float32 and record.shape == (6, )
    assert np.array_equal(record, geo.to_array())
    batch = torch.from_numpy(np.stack([record, record * 2]))
    named = RelPos.unpack(batch)
    assert torch.equal(named.dw, batch[:, RelPos._fields.index('dw')])
    assert named._fields == ('di', 'dj', 'dh', 'dw', 'rflip', 'dj_flip')
    with pytest.raises(ValueError, match='dj_flip'):
        RelPos.unpack(batch[:, :5])
