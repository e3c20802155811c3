"""The ``vitdet`` converter layout loads into WindowedViT, checked."""
import logging
import os.path as osp

import torch
from mmpretrain.registry import MODELS as PRETRAIN_MODELS
from log_records import logged_records
from test_models.siameseim_tiny import EMBED, build_tiny
from tool_modules import load_tool

from mmsiameseim.checkpoints import check_backbone_load, convert_checkpoint
from mmsiameseim.downstream.vitdet import WindowedViT

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tool():
    path = osp.join(ROOT, 'tools', 'model_converters',
                    'siameseim_to_backbone.py')
    return load_tool(path)


def windowed_like(embed, layers, heads, img, patch, checkpoint,
                  pretrain_img=32):
    return WindowedViT(
        arch=dict(embed_dims=embed, num_layers=layers, num_heads=heads,
                  feedforward_channels=2 * embed,
                  global_attn_indexes=[layers - 1]),
        img_size=img, patch_size=patch, pretrain_img_size=pretrain_img,
        window_size=2,
        init_cfg=dict(type='Pretrained', checkpoint=checkpoint))


def test_siameseim_checkpoint_to_vitdet(tmp_path):
    torch.manual_seed(0)
    model = build_tiny()
    state = model.state_dict()
    out = convert_checkpoint(state, layout='vitdet').state_dict
    encoder = {k[len('backbone.'):]: v for k, v in state.items()
               if k.startswith('backbone.')}
    # the online encoder without its cls token (SiameseIM has no final norm)
    assert set(out) == set(encoder) - {'cls_token'}
    assert 'pos_embed' in out and out['pos_embed'].shape == (1, 17, EMBED)
    for key, value in out.items():
        assert torch.equal(value, encoder[key])
    # loads into a 48 px WindowedViT (6x6 grid) that keeps the 32 px
    # pretraining table (4x4 + cls row) as it is: the check passes
    path = str(tmp_path / 'sim_vitdet.pth')
    torch.save(dict(state_dict=out), path)
    backbone = windowed_like(EMBED, 2, 2, 48, 8, path)
    backbone.init_weights()
    report = check_backbone_load(backbone)
    assert report.ok, report.summary()
    assert report.transformed == []
    assert torch.equal(backbone.pos_embed.data, out['pos_embed'])
    assert sorted(report.fresh) == [
        f'layers.{i}.attn.rel_pos_{a}' for i in (0, 1) for a in 'hw']


def test_mae_checkpoint_to_vitdet_drops_the_final_norm(tmp_path):
    """mmpretrain's MAE: ``backbone.*`` of MAEViT, with a final ``ln1``."""
    torch.manual_seed(1)
    arch = dict(embed_dims=24, num_layers=2, num_heads=2,
                feedforward_channels=48)
    mae = PRETRAIN_MODELS.build(
        dict(type='MAE',
             backbone=dict(type='MAEViT', arch=arch, img_size=32,
                           patch_size=4, mask_ratio=0.75),
             neck=dict(type='MAEPretrainDecoder', num_patches=64,
                       patch_size=4, in_chans=3, embed_dim=24,
                       decoder_embed_dim=16, decoder_depth=1,
                       decoder_num_heads=2),
             head=dict(type='MAEPretrainHead', norm_pix=True, patch_size=4,
                       loss=dict(type='PixelReconstructionLoss',
                                 criterion='L2'))))
    mae.init_weights()
    state = mae.state_dict()
    assert 'backbone.ln1.weight' in state and 'neck.mask_token' in state
    out = convert_checkpoint(dict(state_dict=state),
                             layout='vitdet').state_dict
    expected = {k[len('backbone.'):] for k in state
                if k.startswith('backbone.')}
    assert set(out) == expected - {'cls_token', 'ln1.weight', 'ln1.bias'}
    path = str(tmp_path / 'mae_vitdet.pth')
    torch.save(dict(state_dict=out), path)
    backbone = windowed_like(24, 2, 2, 32, 4, path)
    backbone.init_weights()
    report = check_backbone_load(backbone)
    assert report.ok, report.summary()
    # the file's table, cls row included, is the backbone's parameter
    assert torch.equal(backbone.pos_embed.data, state['backbone.pos_embed'])


def test_unconverted_file_fails_the_check(tmp_path):
    """mmpretrain-layout files load nothing (or too much): caught."""
    torch.manual_seed(2)
    state = build_tiny().state_dict()
    path = str(tmp_path / 'sim_mmpretrain.pth')
    mmpretrain = convert_checkpoint(state, layout='mmpretrain').state_dict
    torch.save(dict(state_dict=mmpretrain), path)
    backbone = windowed_like(EMBED, 2, 2, 32, 8, path)
    # mmengine: strict=False, logs and goes on
    _, records = logged_records(backbone.init_weights)
    # docs/downstream.md: the skipped keys are logged at WARNING
    mismatch = [r for r in records if 'unexpected key' in r.getMessage()]
    assert mismatch and all(r.levelno == logging.WARNING for r in mismatch)
    with open(osp.join(ROOT, 'docs', 'downstream.md')) as f:
        assert "which mmengine's loader logs at WARNING" in ' '.join(
            f.read().split())
    report = check_backbone_load(backbone)
    assert not report.ok
    assert all(k.startswith('backbone.') for k in report.not_in_model)
    assert 'layers.0.attn.qkv.weight' in report.unexpected_fresh
    # bare keys with the cls token: the token has no place in ViTDet
    bare = convert_checkpoint(state, prefix='', layout='mmpretrain').state_dict
    torch.save(dict(state_dict=bare), path)
    backbone = windowed_like(EMBED, 2, 2, 32, 8, path)
    backbone.init_weights()
    report = check_backbone_load(backbone)
    assert not report.ok and report.not_in_model == ['cls_token']
    assert not report.mismatched and not report.unexpected_fresh


def test_converter_cli_vitdet_layout(tmp_path):
    torch.manual_seed(3)
    src = tmp_path / 'sim.pth'
    state = build_tiny().state_dict()
    torch.save(dict(state_dict=state), src)
    dst = tmp_path / 'sim_vitdet.pth'
    assert _tool().main([str(src), str(dst), '--layout', 'vitdet']) == 0
    saved = torch.load(dst, weights_only=True)
    assert saved['meta']['layout'] == 'vitdet'
    assert set(saved['state_dict']) == set(
        convert_checkpoint(state, layout='vitdet').state_dict)
    assert not any(k.startswith(('backbone.', 'cls_token'))
                   for k in saved['state_dict'])
