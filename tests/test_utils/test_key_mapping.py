"""Key mapping official SiameseIM <-> mmsiameseim, with real oracles
(``official_oracles``: official names from walking our modules, and an
official state dict typed by hand with a timm-style reference forward).
"""
from collections import OrderedDict

import pytest
import torch
from test_models.siameseim_tiny import EMBED, build_tiny
from test_utils.official_oracles import (assert_close, make_inputs,
                                         make_official,
                                         official_to_mmsiameseim, randomise,
                                         ref_encoder, ref_predictor,
                                         ref_projector, tiny_to_official,
                                         tiny_vit)

from mmsiameseim.checkpoints import (convert_checkpoint, detect_layout,
                                     rename_keys, unwrap_state_dict)


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    return randomise(build_tiny()).eval()


# --------------------------------------------------------------------------
# Tests: official -> ours
# --------------------------------------------------------------------------


def test_every_tensor_lands_at_its_key(tiny):
    official = tiny_to_official(tiny)
    converted, unmapped = official_to_mmsiameseim(official)
    assert unmapped == []
    ours = tiny.state_dict()
    # The only entries not taken from the file are the documented fills.
    assert set(ours) - set(converted) == set()
    filled = {'target_encoder.module.0.pos_embed', 'target_encoder.steps'}
    assert set(converted) == set(ours)
    for key, value in ours.items():
        if key in filled:
            continue
        assert converted[key].dtype == value.dtype, key
        assert torch.equal(converted[key], value), key
    # pos_embed of the target is the shared fixed table: copied from online.
    assert torch.equal(converted['target_encoder.module.0.pos_embed'],
                       official['pos_embed'])
    assert converted['target_encoder.steps'].item() == 1


def test_mm_pos_embed_is_used_when_present(tiny):
    official = tiny_to_official(tiny, with_mm_pos_embed=True)
    report = convert_checkpoint(official)
    assert report.unmapped == []
    assert 'target_encoder.module.0.pos_embed' not in report.filled
    assert torch.equal(report.state_dict['target_encoder.module.0.pos_embed'],
                       tiny.target_encoder.module[0].pos_embed)


def test_strict_load_into_tiny_model():
    official = make_official()
    converted, unmapped = official_to_mmsiameseim(official)
    assert unmapped == []
    model = build_tiny()
    result = model.load_state_dict(converted, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    assert model.target_encoder.steps.item() == 1


def test_converted_model_computes_the_official_forward():
    sd = make_official()
    model = build_tiny()
    model.load_state_dict(official_to_mmsiameseim(sd)[0], strict=True)
    model.eval()
    img, mask, rel = make_inputs()
    with torch.no_grad():
        # online encoder, full and masked
        full = model.backbone(img)[-1]
        assert_close(full, ref_encoder(sd, img))
        enc = model.backbone(img, mask)
        assert_close(enc, ref_encoder(sd, img, mask))
        # projector and predictor
        latent = model.neck(enc)
        ref_latent = ref_projector(sd, ref_encoder(sd, img, mask))
        assert_close(latent, ref_latent)
        _, dense = model.head(latent, mask, rel)
        assert_close(dense, ref_predictor(sd, ref_latent, mask, rel))
        # momentum branch: mm_ encoder + mm_ projector on the full view
        target = model.target_encoder(img)
        ref_target = ref_projector(sd, ref_encoder(sd, img, mm='mm_'), 'mm_')
        assert_close(target, ref_target)
        # the two branches really differ, so a mix-up would be seen
        assert not torch.allclose(target, model.neck(full))


def test_unmapped_and_ignored_keys_are_reported(tiny):
    official = tiny_to_official(tiny)
    junk = {
        'junk.weight': torch.zeros(1),
        'blocks.0.ls1.gamma': torch.ones(EMBED),
        'blocks.0.attn.q_bias': torch.zeros(EMBED),
        'decoder_norm.weight': torch.ones(EMBED),
        'predictor_decoder_blocks.0.mlp.fc3.weight': torch.ones(2),
        'head.weight': torch.ones(3, EMBED),
        'normal': torch.ones(1),
    }
    official.update(junk)
    ckpt = {
        'model': OrderedDict(('module.' + k, v) for k, v in official.items()),
        'epoch': 3
    }
    report = convert_checkpoint(ckpt)
    assert sorted(report.unmapped) == sorted(junk)
    assert list(report.dropped) == ['mm_mask_token']
    assert set(report.filled) == {
        'target_encoder.module.0.pos_embed', 'target_encoder.steps'
    }
    assert not any(k in report.state_dict for k in junk)
    assert set(report.state_dict) == set(tiny.state_dict())
    converted, unmapped = official_to_mmsiameseim(ckpt)
    assert sorted(unmapped) == sorted(junk)
    # every mapped source key is in ``renamed``
    assert len(report.renamed) == len(official) - len(junk) - 1


def test_final_norm_maps_to_ln1():
    sd = make_official()
    sd['norm.weight'] = torch.ones(EMBED)
    sd['norm.bias'] = torch.zeros(EMBED)
    converted, unmapped = official_to_mmsiameseim(sd)
    assert unmapped == []
    assert torch.equal(converted['backbone.ln1.weight'], sd['norm.weight'])
    backbone = convert_checkpoint(sd, prefix='', layout='mmpretrain').state_dict
    assert 'ln1.weight' in backbone
    vit = tiny_vit(final_norm=True)
    result = vit.load_state_dict(backbone, strict=True)
    assert not result.missing_keys and not result.unexpected_keys


def test_online_only_checkpoint_gets_no_target_fills():
    sd = OrderedDict(
        (k, v) for k, v in make_official().items() if not k.startswith('mm_'))
    report = convert_checkpoint(sd)
    assert report.unmapped == [] and report.filled == {}
    assert not any(k.startswith('target_encoder') for k in report.state_dict)


def test_rename_collision_is_an_error():
    sd = {
        'blocks.0.norm1.weight': torch.ones(1),
        'module.blocks.0.norm1.weight': torch.ones(1)
    }
    # unwrap strips module. -> the two keys collide in unwrap already
    assert len(unwrap_state_dict(sd)) == 1
    with pytest.raises(ValueError, match='both map'):
        rename_keys({'a.x': 1, 'b.x': 2}, [(r'^[ab]\.x$', 'c')])


def test_unwrap_and_detect_layout(tiny):
    official = tiny_to_official(tiny)
    ours = tiny.state_dict()
    assert detect_layout(official) == 'official'
    assert detect_layout(ours) == 'mmsiameseim'
    assert detect_layout(unwrap_state_dict({
        'state_dict': ours,
        'meta': {}
    })) == 'mmsiameseim'
    bare = convert_checkpoint(ours, prefix='', layout='mmpretrain').state_dict
    assert detect_layout(bare) == 'backbone'
    with pytest.raises(ValueError, match='unrecognised'):
        detect_layout({'foo.weight': torch.ones(1)})
    with pytest.raises(TypeError):
        unwrap_state_dict([1, 2])


# --------------------------------------------------------------------------
# Tests: backbone extraction
# --------------------------------------------------------------------------


@pytest.mark.parametrize('source', ['online', 'target'])
def test_backbone_from_ours_loads_strictly_and_matches(tiny, source):
    out = convert_checkpoint({'state_dict': tiny.state_dict()}, source=source, prefix='', layout='mmpretrain').state_dict
    vit = tiny_vit()
    result = vit.load_state_dict(out, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    encoder = tiny.backbone if source == 'online' else \
        tiny.target_encoder.module[0]
    img = make_inputs()[0]
    with torch.no_grad():
        assert_close(vit(img)[-1], encoder(img)[-1])
    other = tiny.target_encoder.module[0] if source == 'online' else \
        tiny.backbone
    assert not torch.equal(out['layers.0.attn.qkv.weight'],
                           other.layers[0].attn.qkv.weight)


def test_backbone_prefix_default_and_bad_args(tiny):
    out = convert_checkpoint(tiny.state_dict(), layout='mmpretrain').state_dict
    assert all(k.startswith('backbone.') for k in out)
    assert set(out) == {
        k
        for k in tiny.state_dict() if k.startswith('backbone.')
    }
    with pytest.raises(ValueError, match='source'):
        convert_checkpoint(tiny.state_dict(), source='ema', layout='mmpretrain').state_dict
    with pytest.raises(ValueError, match='layout'):
        convert_checkpoint(tiny.state_dict(), layout='detectron').state_dict
    with pytest.raises(ValueError, match='no target encoder'):
        convert_checkpoint({'backbone.cls_token': torch.ones(1)}, source='target', layout='mmpretrain').state_dict
    bare = convert_checkpoint(tiny.state_dict(), prefix='', layout='mmpretrain').state_dict
    with pytest.raises(ValueError, match='no target'):
        convert_checkpoint(bare, source='target', layout='mmpretrain').state_dict
    again = convert_checkpoint(bare, prefix='', layout='mmpretrain').state_dict
    assert list(again) == list(bare)


@pytest.mark.parametrize('source,mm', [('online', ''), ('target', 'mm_')])
def test_backbone_directly_from_official(source, mm):
    sd = make_official()
    out = convert_checkpoint({'model': sd}, source=source, prefix='', layout='mmpretrain').state_dict
    vit = tiny_vit()
    vit.load_state_dict(out, strict=True)
    img = make_inputs()[0]
    with torch.no_grad():
        assert_close(vit(img)[-1], ref_encoder(sd, img, mm=mm))
    # only encoder weights survive (docs/method.md §6)
    assert not any('running_' in k or 'decoder' in k for k in out)


def test_timm_layout_reproduces_official_encoder_keys():
    sd = make_official()
    out = convert_checkpoint(sd, layout='timm').state_dict
    expected = {
        k: v
        for k, v in sd.items()
        if k.startswith(('blocks.', 'patch_embed.')) or k in ('cls_token',
                                                              'pos_embed')
    }
    assert set(out) == set(expected)
    for k, v in expected.items():
        assert torch.equal(out[k], v), k
    prefixed = convert_checkpoint(sd, layout='timm', prefix='net.').state_dict
    assert set(prefixed) == {'net.' + k for k in expected}
