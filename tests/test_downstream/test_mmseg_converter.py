"""The converter's ``mmseg`` layout and the load check on mmseg's ``MAE``.

Sources are real models' state dicts: our tiny SiameseIM (online encoder,
EMA copy, projector, predictor) and mmpretrain's own ``MAE`` algorithm
(``MAEViT`` with its final norm ``ln1``, decoder, head).
"""
import os.path as osp

import pytest
import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from test_models.siameseim_tiny import EMBED, build_tiny
from tool_modules import load_tool

from mmsiameseim.checkpoints import (check_backbone_load, convert_checkpoint,
                                     resize_pos_embed)
from mmsiameseim.downstream.mmseg_mae import compare_with_mae

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'siameseim_to_backbone.py')
DEPTH = 2  # build_tiny: 2 blocks, 32 px, patch 8
tool = load_tool(TOOL)

#: Keys of an mmpretrain VisionTransformer encoder block, written out.
BLOCK_KEYS = ('ln1.weight', 'ln1.bias', 'attn.qkv.weight', 'attn.qkv.bias',
              'attn.proj.weight', 'attn.proj.bias', 'ln2.weight', 'ln2.bias',
              'ffn.layers.0.0.weight', 'ffn.layers.0.0.bias',
              'ffn.layers.1.weight', 'ffn.layers.1.bias')
STEM_KEYS = ('cls_token', 'pos_embed', 'patch_embed.projection.weight',
             'patch_embed.projection.bias')


def _encoder_keys(depth):
    return set(STEM_KEYS) | {
        f'layers.{i}.{k}'
        for i in range(depth) for k in BLOCK_KEYS
    }


def _fresh_keys(depth):
    names = ('gamma_1', 'gamma_2', 'attn.relative_position_bias_table',
             'attn.relative_position_index')
    return {f'layers.{i}.{n}' for i in range(depth) for n in names}


@pytest.fixture(scope='module')
def siameseim_file(tmp_path_factory):
    """A SiameseIM training state dict whose EMA copy differs from the
    online encoder (as after training)."""
    torch.manual_seed(0)
    sd = build_tiny().state_dict()
    for key in sd:
        if key.startswith('target_encoder.module.') and \
                sd[key].is_floating_point():
            sd[key] = sd[key] + 1.
    path = tmp_path_factory.mktemp('sim') / 'siameseim_tiny.pth'
    torch.save(dict(state_dict=sd, meta=dict(epoch=4)), path)
    return path, sd


@pytest.fixture(scope='module')
def mae_file(tmp_path_factory):
    """mmpretrain's MAE pretraining model (MAEViT keeps a final norm)."""
    torch.manual_seed(1)
    model = PRETRAIN_MODELS.build(
        dict(
            type='MAE',
            backbone=dict(
                type='MAEViT',
                arch=dict(embed_dims=EMBED, num_layers=DEPTH, num_heads=2,
                          feedforward_channels=64),
                img_size=32,
                patch_size=8,
                mask_ratio=0.75),
            neck=dict(
                type='MAEPretrainDecoder', num_patches=16, patch_size=8,
                in_chans=3, embed_dim=EMBED, decoder_embed_dim=EMBED,
                decoder_depth=1, decoder_num_heads=2),
            head=dict(
                type='MAEPretrainHead', norm_pix=True, patch_size=8,
                loss=dict(type='PixelReconstructionLoss', criterion='L2'))))
    model.init_weights()
    sd = model.state_dict()
    path = tmp_path_factory.mktemp('mae') / 'mae_tiny.pth'
    torch.save(dict(state_dict=sd), path)
    return path, sd


def _read(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def test_mmseg_layout_keeps_the_online_encoder_under_bare_names(
        siameseim_file, tmp_path, capsys):
    src, sd = siameseim_file
    dst = tmp_path / 'sim_mmseg.pth'
    assert tool.main([str(src), str(dst), '--layout', 'mmseg']) == 0
    out = capsys.readouterr().out
    assert 'target: mmseg MAE(img_size=32, patch_size=8' in out
    assert f'{len(_encoder_keys(DEPTH))} of {len(_encoder_keys(DEPTH))} ' \
        'file tensors load' in out
    assert f'documented to start fresh: {4 * DEPTH} ' in out
    ckpt = _read(dst)
    assert ckpt['meta']['layout'] == 'mmseg'
    assert ckpt['meta']['source'] == 'online'
    assert set(ckpt['state_dict']) == _encoder_keys(DEPTH)
    for key, value in ckpt['state_dict'].items():
        assert torch.equal(value, sd['backbone.' + key]), key
        target = sd.get('target_encoder.module.0.' + key)
        if target is not None and key != 'pos_embed':
            assert not torch.equal(value, target), key


def test_mmseg_layout_leaves_out_a_final_norm_and_says_so(
        mae_file, tmp_path, capsys):
    src, sd = mae_file
    assert {'backbone.ln1.weight', 'backbone.ln1.bias'} <= set(sd)
    dst = tmp_path / 'mae_mmseg.pth'
    assert tool.main([str(src), str(dst), '--layout', 'mmseg']) == 0
    out = capsys.readouterr().out
    assert 'left out ln1.weight, ln1.bias: final norm' in out
    ckpt = _read(dst)
    assert set(ckpt['state_dict']) == _encoder_keys(DEPTH)
    assert torch.equal(ckpt['state_dict']['layers.1.attn.qkv.weight'],
                       sd['backbone.layers.1.attn.qkv.weight'])


def test_converter_refuses_files_that_would_not_load(siameseim_file,
                                                     tmp_path, capsys):
    src, sd = siameseim_file
    dst = tmp_path / 'never.pth'
    # no encoder weights at all: a projector/predictor-only file
    heads = tmp_path / 'heads_only.pth'
    torch.save(
        dict(state_dict={k: v
                         for k, v in sd.items()
                         if k.startswith(('neck.', 'head.'))}), heads)
    assert tool.main([str(heads), str(dst), '--layout', 'mmseg']) == 1
    err = capsys.readouterr().err
    assert str(heads) in err
    # only the EMA copy: no online encoder
    ema = tmp_path / 'ema_only.pth'
    torch.save(
        dict(state_dict={k: v
                         for k, v in sd.items()
                         if k.startswith('target_encoder.')}), ema)
    assert tool.main([str(ema), str(dst), '--layout', 'mmseg']) == 1
    err = capsys.readouterr().err
    assert str(ema) in err and 'no online encoder weights' in err
    # an encoder with a tensor missing: it would stay random in mmseg
    partial = tmp_path / 'partial.pth'
    torch.save({k: v for k, v in sd.items()
                if k != 'backbone.layers.1.attn.qkv.weight'}, partial)
    assert tool.main([str(partial), str(dst), '--layout', 'mmseg']) == 1
    captured = capsys.readouterr()
    assert 'missing (would stay random): layers.1.attn.qkv.weight' in \
        captured.out
    assert str(partial) in captured.err and 'nothing written' in captured.err
    # the EMA copy and prefixed keys are not what mmseg's MAE loads
    assert tool.main([str(src), str(dst), '--layout', 'mmseg', '--source',
                      'target']) == 1
    assert 'online encoder' in capsys.readouterr().err
    assert tool.main([str(src), str(dst), '--layout', 'mmseg', '--prefix',
                      'backbone.']) == 1
    assert 'ignores prefixes' in capsys.readouterr().err
    assert not dst.exists()


def test_compare_with_mae_sees_unexpected_and_misshaped_keys(siameseim_file):
    _, sd = siameseim_file
    enc = convert_checkpoint(sd, layout='mmseg').state_dict
    good = compare_with_mae(enc)
    assert good.ok and set(good.fresh) == _fresh_keys(DEPTH)
    assert sorted(good.equal) == sorted(enc)
    # the last block under timm names (as a half-converted file has them)
    mixed = {
        k.replace('layers.1.ln1', 'blocks.1.norm1'): v
        for k, v in enc.items()
    }
    bad = compare_with_mae(mixed)
    assert not bad.ok
    assert bad.not_in_model == ['blocks.1.norm1.weight',
                                'blocks.1.norm1.bias']
    assert bad.unexpected_fresh == [
        'layers.1.ln1.weight', 'layers.1.ln1.bias'
    ]
    with pytest.raises(ValueError, match='patch_embed.projection.weight'):
        compare_with_mae(convert_checkpoint(sd, layout='timm').state_dict)
    wide = dict(enc)
    wide['layers.0.attn.proj.bias'] = torch.zeros(EMBED + 1)
    assert compare_with_mae(wide).shape_mismatch == {
        'layers.0.attn.proj.bias': ((EMBED + 1, ), (EMBED, ))
    }


def test_mmseg_mae_loads_the_file_and_the_check_sees_it(
        siameseim_file, tmp_path):
    """The file in mmseg's MAE at 2x the pretraining size (grid 4 -> 8):
    every tensor equal, pos_embed resized, exactly the fresh set new; the
    prefixed file of the default layout loads nothing and fails."""
    from mmseg.models.backbones import MAE
    _, sd = siameseim_file
    enc = convert_checkpoint(sd, layout='mmseg').state_dict
    good, prefixed = tmp_path / 'bare.pth', tmp_path / 'prefixed.pth'
    torch.save(dict(state_dict=enc), good)
    torch.save(dict(state_dict=convert_checkpoint(sd, layout='mmpretrain').state_dict), prefixed)

    def mae(path):
        m = MAE(img_size=64, patch_size=8, embed_dims=EMBED,
                num_layers=DEPTH, num_heads=2, mlp_ratio=2, init_values=1.0,
                pretrained=str(path))
        m.init_weights()
        return m

    backbone = mae(good)
    report = check_backbone_load(backbone)
    assert report.ok, report.summary()
    assert set(report.equal) == _encoder_keys(DEPTH)
    assert report.transformed == ['pos_embed']
    assert set(report.fresh) == _fresh_keys(DEPTH)
    assert backbone.pos_embed.shape == (1, 1 + 64, EMBED)
    torch.testing.assert_close(backbone.pos_embed.data[:, 0],
                               enc['pos_embed'][:, 0])
    assert torch.equal(backbone.layers[1].ffn.layers[1].weight.data,
                       sd['backbone.layers.1.ffn.layers.1.weight'])

    silent = mae(prefixed)  # mmseg prints nothing: the check must fail
    report = check_backbone_load(silent)
    assert not report.ok
    assert len(report.not_in_model) == len(_encoder_keys(DEPTH))
    assert 'FAILED' in report.summary()


def test_resize_pos_embed_matches_a_bicubic_reference():
    """2x2 grid -> 4x4, checked against torch's bicubic on the grid and
    the unchanged cls row; same size is the identity."""
    torch.manual_seed(0)
    src = torch.randn(1, 5, 3)
    out = resize_pos_embed(src, torch.zeros(1, 17, 3))
    ref = torch.nn.functional.interpolate(
        src[:, 1:].reshape(1, 2, 2, 3).permute(0, 3, 1, 2), size=(4, 4),
        mode='bicubic', align_corners=False).permute(0, 2, 3, 1).reshape(
            1, 16, 3)
    assert torch.equal(out[:, 0], src[:, 0])
    torch.testing.assert_close(out[:, 1:], ref)
    assert resize_pos_embed(src, torch.zeros(1, 5, 3)) is src
    with pytest.raises(ValueError, match='square grid'):
        resize_pos_embed(torch.zeros(1, 6, 3), torch.zeros(1, 17, 3))


def test_mmseg_mae_with_the_file_computes_our_encoder(siameseim_file,
                                                      tmp_path):
    """Same tensors are not enough: mmseg's MAE layer (layer scale 1, zero
    relative position bias, LN eps 1e-6 as the stock config sets) must give
    the patch tokens of our encoder's last block."""
    from mmseg.models.backbones import MAE

    from mmsiameseim.models.backbones import SiameseIMViT
    _, sd = siameseim_file
    enc = convert_checkpoint(sd, layout='mmseg').state_dict
    ours = SiameseIMViT(
        arch=dict(embed_dims=EMBED, num_layers=DEPTH, num_heads=2,
                  feedforward_channels=64),
        img_size=32, patch_size=8, out_type='raw')
    ours.load_state_dict(enc, strict=True)
    path = tmp_path / 'encoder.pth'
    torch.save(enc, path)
    theirs = MAE(img_size=32, patch_size=8, embed_dims=EMBED,
                 num_layers=DEPTH, num_heads=2, mlp_ratio=2, init_values=1.0,
                 out_indices=[DEPTH - 1], drop_path_rate=0.1,
                 norm_cfg=dict(type='LN', eps=1e-6), pretrained=str(path))
    theirs.init_weights()
    ours.eval(), theirs.eval()
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = ours(x)[-1][:, 1:]
        got = theirs(x)[0].flatten(2).transpose(1, 2)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
