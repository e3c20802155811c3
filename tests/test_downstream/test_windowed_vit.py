"""WindowedViT and SimpleFeaturePyramid against independent references."""
import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer

from mmsiameseim.downstream.vitdet import (SimpleFeaturePyramid,
                                           WindowedBlock, WindowedViT)

C, HEADS = 32, 2


def tiny_vit(window_size, global_idx=(1, ), layers=3, img=32, patch=4,
             pretrain_img=32, **kw):
    arch = dict(embed_dims=C, num_layers=layers, num_heads=HEADS,
                feedforward_channels=2 * C, global_attn_indexes=global_idx)
    model = WindowedViT(arch=arch, img_size=img, patch_size=patch,
                        pretrain_img_size=pretrain_img,
                        window_size=window_size, drop_path_rate=0., **kw)
    model.init_weights()
    return model.eval()


def block(window_size, input_size, drop_path_rate=0.):
    return WindowedBlock(
        embed_dims=C, num_heads=HEADS, feedforward_channels=2 * C,
        window_size=window_size, input_size=input_size, use_rel_pos=True,
        norm_cfg=dict(type='LN', eps=1e-6), drop_path_rate=drop_path_rate)


def randomize_rel_pos(module, seed=0):
    gen = torch.Generator().manual_seed(seed)
    for name, p in module.named_parameters():
        if 'rel_pos' in name:
            p.data = torch.randn(p.shape, generator=gen) * 0.5


def test_one_window_over_the_grid_equals_a_global_vit():
    """Window = whole 8x8 grid, zero rel-pos: mmpretrain's plain ViT."""
    torch.manual_seed(0)
    ours = tiny_vit(window_size=8)
    assert [layer.window_size for layer in ours.layers] == [8, 0, 8]
    ref = VisionTransformer(
        arch=dict(embed_dims=C, num_layers=3, num_heads=HEADS,
                  feedforward_channels=2 * C),
        img_size=32, patch_size=4, with_cls_token=False, out_type='featmap',
        final_norm=False)
    ref.eval()
    state = {k: v for k, v in ours.state_dict().items() if 'rel_pos' not in k}
    assert state['pos_embed'].shape == (1, 1 + 64, C)  # 8 x 8 + cls row
    state['pos_embed'] = state['pos_embed'][:, 1:]
    ref.load_state_dict(state, strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        out, = ours(x)
        expected, = ref(x)
    assert out.shape == (2, C, 8, 8)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('grid', [8, 10])
def test_windowed_block_attends_within_windows(grid):
    """Each 4x4 window (zero-padded at the border) is its own attention.

    Reference: the same weights in a global block applied to each window
    cut out of the (LN-ed, zero-padded) grid, with random relative tables.
    """
    torch.manual_seed(1)
    win = block(window_size=4, input_size=(grid, grid))
    glob = block(window_size=0, input_size=(4, 4))
    randomize_rel_pos(win)
    glob.load_state_dict(win.state_dict())
    win.eval(), glob.eval()
    x = torch.randn(2, grid, grid, C)
    with torch.no_grad():
        out = win(x)
        normed = win.ln1(x)
        pad = (-grid) % 4
        padded = F.pad(normed, (0, 0, 0, pad, 0, pad))
        expected = torch.empty_like(x)
        for i, j in itertools.product(range(0, grid, 4), repeat=2):
            attn = glob.attn(padded[:, i:i + 4, j:j + 4])
            h, w = min(4, grid - i), min(4, grid - j)
            y = x[:, i:i + h, j:j + w] + attn[:, :h, :w]
            expected[:, i:i + h, j:j + w] = glob.ffn(glob.ln2(y), identity=y)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    # and a change in one window leaves the others alone
    x2 = x.clone()
    x2[:, :4, :4] += 1.
    with torch.no_grad():
        diff = (win(x2) - out).abs().amax(dim=(0, 3))
    assert diff[:4, :4].min() > 0
    assert diff[4:, :].max() == 0 and diff[:, 4:].max() == 0


def test_decomposed_relative_position_bias():
    """Attention logits get q . R_h[dh] + q . R_w[dw] (explicit loops)."""
    torch.manual_seed(2)
    blk = block(window_size=0, input_size=(3, 4))
    randomize_rel_pos(blk)
    attn = blk.attn
    x = torch.randn(1, 3, 4, C)
    with torch.no_grad():
        out = attn(x)
        qkv = attn.qkv(x.reshape(12, C)).reshape(12, 3, HEADS, C // HEADS)
        q, k, v = qkv.unbind(1)
        pos = [(r, c) for r in range(3) for c in range(4)]
        heads = []
        for h in range(HEADS):
            logits = torch.empty(12, 12)
            for a, (qr, qc) in enumerate(pos):
                for b, (kr, kc) in enumerate(pos):
                    logits[a, b] = (q[a, h] @ k[b, h]) * attn.scale + \
                        q[a, h] @ attn.rel_pos_h[qr - kr + 2] + \
                        q[a, h] @ attn.rel_pos_w[qc - kc + 3]
            heads.append(logits.softmax(-1) @ v[:, h])
        expected = attn.proj(torch.cat(heads, dim=-1)).reshape(1, 3, 4, C)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_drop_path_covers_both_branches():
    torch.manual_seed(3)
    blk = block(window_size=0, input_size=(4, 4), drop_path_rate=1 - 1e-7)
    x = torch.randn(4, 4, 4, C)
    blk.train()
    # every sample drops the attention and the FFN branch: identity
    torch.testing.assert_close(blk(x), x)
    blk.eval()
    assert (blk(x) - x).abs().max() > 1e-3
    model = WindowedViT(
        arch=dict(embed_dims=C, num_layers=4, num_heads=HEADS,
                  feedforward_channels=2 * C, global_attn_indexes=[3]),
        img_size=32, patch_size=4, drop_path_rate=0.3)
    rates = [float(getattr(layer.drop_path, 'drop_prob', 0.))
             for layer in model.layers]
    assert rates == pytest.approx([0., 0.1, 0.2, 0.3])


def bicubic_matrix(n_out, n_in):
    """``(n_out, n_in)`` weights of a 1-D bicubic resize, written out.

    Keys' cubic convolution with a = -0.75 (PyTorch's), half-pixel centres
    (``align_corners=False``), no antialias, border samples repeated.
    """
    a = -0.75

    def kernel(t):
        t = abs(t)
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        if t < 2:
            return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
        return 0.

    weights = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        x = (i + 0.5) * n_in / n_out - 0.5
        left = math.floor(x)
        for j in range(left - 1, left + 3):
            weights[i, min(max(j, 0), n_in - 1)] += kernel(x - j)
    return weights


def resized_table(table, hw, cls_row=True):
    """The ``(1, h, w, C)`` grid a ``(1, [1 +] n*n, C)`` table becomes."""
    grid = table[0, int(cls_row):].double()
    n = math.isqrt(grid.shape[0])
    grid = grid.reshape(n, n, -1)
    rows, cols = bicubic_matrix(hw[0], n), bicubic_matrix(hw[1], n)
    return torch.einsum('hi,wj,ijc->hwc', rows, cols, grid)[None]


def test_bicubic_matrix_is_pytorchs_bicubic():
    """The written-out oracle agrees with F.interpolate (up- and down)."""
    torch.manual_seed(7)
    grid = torch.randn(1, 3, 5, 6, dtype=torch.float64)
    for size in [(12, 9), (3, 4), (5, 6)]:
        expected = F.interpolate(grid, size=size, mode='bicubic',
                                 align_corners=False)
        ours = torch.einsum('hi,wj,bcij->bchw', bicubic_matrix(size[0], 5),
                            bicubic_matrix(size[1], 6), grid)
        torch.testing.assert_close(ours, expected, atol=1e-12, rtol=0)


def _first_block_input(model, x):
    seen = []
    handle = model.layers[0].register_forward_pre_hook(
        lambda module, args: seen.append(args[0]))
    with torch.no_grad():
        out = model(x)
    handle.remove()
    return seen[0], out


@pytest.mark.parametrize('size', [(1024, 1024), (192, 288)])
def test_pretraining_table_resized_at_every_forward(size):
    """ViTDet's ``get_abs_pos``: the (1, 1 + 14*14, C) table is the
    parameter; the tokens entering block 0 are the patch embedding plus
    that table resized (cls row dropped) to the input's grid."""
    torch.manual_seed(4)
    model = tiny_vit(window_size=14, global_idx=(1, ), layers=2, img=1024,
                     patch=16, pretrain_img=224)
    assert model.pos_embed.shape == (1, 1 + 14 * 14, C)
    table = torch.randn(1, 1 + 14 * 14, C)
    model.load_state_dict(dict(model.state_dict(), pos_embed=table))
    assert torch.equal(model.pos_embed.data, table)  # no resize at load
    x = torch.randn(1, 3, *size)
    tokens, _ = _first_block_input(model, x)
    hw = (size[0] // 16, size[1] // 16)
    with torch.no_grad():
        patches = model.patch_embed(x)[0].reshape(1, *hw, C)
    expected = patches.double() + resized_table(table, hw)
    torch.testing.assert_close(tokens.double(), expected, atol=2e-5, rtol=0)
    # the cls row takes no part
    model.pos_embed.data[:, 0] += 5.
    tokens2, _ = _first_block_input(model, x)
    assert torch.equal(tokens, tokens2)


def test_forward_at_1024_equals_the_table_resized_once_at_load():
    """At the configs' 1024 px input the outputs are those of a 64 x 64
    table made from the file at load (the former behaviour): same weights,
    same outputs."""
    torch.manual_seed(5)
    model = tiny_vit(window_size=14, global_idx=(1, ), layers=2, img=1024,
                     patch=16, pretrain_img=224)
    table = torch.randn(1, 1 + 14 * 14, C)
    model.load_state_dict(dict(model.state_dict(), pos_embed=table))
    x = torch.randn(1, 3, 1024, 1024)
    with torch.no_grad():
        out, = model(x)
        # the former path: the file's grid resized to 64 x 64 once, then
        # added to the patch tokens as a fixed (1, 64, 64, C) table
        grid = table[:, 1:].reshape(1, 14, 14, C).permute(0, 3, 1, 2)
        at_load = F.interpolate(grid, size=(64, 64), mode='bicubic',
                                align_corners=False).permute(0, 2, 3, 1)
        y = model.patch_embed(x)[0].reshape(1, 64, 64, C) + at_load
        for layer in model.layers:
            y = layer(y)
    assert torch.equal(out, y.permute(0, 3, 1, 2))


def test_table_of_another_shape_is_refused_naming_both(tmp_path):
    """A file with a 64 x 64 grid table (the former load-time resize) or a
    table without cls row stops the load instead of being skipped."""
    from mmengine.runner.checkpoint import load_checkpoint
    model = tiny_vit(window_size=14, layers=2, img=1024, patch=16,
                     pretrain_img=224)
    for bad in (torch.zeros(1, 64, 64, C), torch.zeros(1, 14 * 14, C),
                torch.zeros(1, 1 + 16 * 16, C)):
        state = dict(model.state_dict(), pos_embed=bad)
        with pytest.raises(ValueError) as err:
            model.load_state_dict(state)
        assert str(tuple(bad.shape)) in str(err.value)
        assert str((1, 197, C)) in str(err.value)
        # mmengine's non-strict loader (init_cfg Pretrained) stops too
        path = str(tmp_path / 'bad.pth')
        torch.save(dict(state_dict=state), path)
        with pytest.raises(ValueError, match=r'pos_embed of shape'):
            load_checkpoint(model, path, strict=False)
    # a backbone built for a table without cls row takes one
    plain = tiny_vit(window_size=14, layers=2, img=1024, patch=16,
                     pretrain_img=224, pretrain_use_cls_token=False)
    assert plain.pos_embed.shape == (1, 196, C)
    table = torch.randn(1, 196, C)
    plain.load_state_dict(dict(plain.state_dict(), pos_embed=table))
    x = torch.randn(1, 3, 160, 96)
    tokens, _ = _first_block_input(plain, x)
    with torch.no_grad():
        patches = plain.patch_embed(x)[0].reshape(1, 10, 6, C)
    expected = patches.double() + resized_table(table, (10, 6), False)
    torch.testing.assert_close(tokens.double(), expected, atol=2e-5, rtol=0)
    with pytest.raises(ValueError, match='multiple of patch_size'):
        tiny_vit(window_size=4, pretrain_img=30)


def test_random_init_and_layer_depth():
    torch.manual_seed(5)
    model = tiny_vit(window_size=4)
    assert 0.01 < float(model.pos_embed.std()) < 0.03
    for name, p in model.named_parameters():
        if 'rel_pos' in name:
            assert torch.count_nonzero(p) == 0
    depth = model.get_layer_depth
    assert depth('backbone.pos_embed', 'backbone.') == (0, 5)
    assert depth('backbone.patch_embed.projection.weight',
                 'backbone.') == (0, 5)
    assert depth('backbone.layers.2.ln1.weight', 'backbone.') == (3, 5)
    assert depth('neck.stages.0.0.weight', 'backbone.') == (4, 5)
    with pytest.raises(ValueError, match='custom arch'):
        WindowedViT(arch=dict(embed_dims=8))


@pytest.mark.parametrize('scales,expected', [
    ((4., 2., 1., 0.5), [16, 8, 4, 2, 1]),
    ((2., 1., 0.5, 0.25), [8, 4, 2, 1, 1]),
])
def test_simple_feature_pyramid_levels(scales, expected):
    torch.manual_seed(6)
    neck = SimpleFeaturePyramid(in_channels=C, out_channels=16,
                                scale_factors=scales, num_outs=5)
    x = torch.randn(2, C, 4, 4)
    outs = neck((torch.zeros(1), x))  # only the last input is read
    assert [o.shape[-1] for o in outs] == expected
    assert all(o.shape[:2] == (2, 16) for o in outs)
    # extra level: max pool with kernel 1, stride 2 of the coarsest
    torch.testing.assert_close(outs[4], outs[3][..., ::2, ::2])
    with pytest.raises(ValueError, match='powers of two'):
        SimpleFeaturePyramid(in_channels=C, scale_factors=(3., 1.))
    with pytest.raises(ValueError, match='num_outs'):
        SimpleFeaturePyramid(in_channels=C, num_outs=2)
