"""Key mapping official SiameseIM <-> mmsiameseim, with real oracles.

Two independent oracles:

* ``tiny_to_official`` writes official names by walking the modules of our
  tiny model (attribute access, no key strings of ours), so converting back
  must give every tensor of the model at its own key;
* ``make_official`` builds an official state dict from scratch (names typed
  by hand from the release layout, random values) and ``ref_*`` run the
  official computation on it with timm's formulas; our model loaded from the
  converted dict must compute the same numbers (this catches swapped norms,
  fc1/fc2, qkv layouts, projector/predictor mix-ups).
"""
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer
from test_models.siameseim_tiny import EMBED, GRID, build_tiny

from mmsiameseim.models.utils.relative_position import \
    relative_sincos_embedding
from mmsiameseim.checkpoints import (convert_checkpoint, detect_layout,
                                     rename_keys, unwrap_state_dict)


def official_to_mmsiameseim(checkpoint):
    """(converted state dict, unmapped keys) of an official checkpoint."""
    report = convert_checkpoint(checkpoint)
    return report.state_dict, report.unmapped


DEPTH, HEADS, FF, PATCH, IMG = 2, 2, 64, 8, 32
NECK_DEPTH, HEAD_DEPTH, DEC_FF = 1, 1, 4 * EMBED
LN_EPS, BN_EPS = 1e-6, 1e-5

# --------------------------------------------------------------------------
# Oracle 1: official names from the modules of our model
# --------------------------------------------------------------------------


def _timm_block(prefix, layer, bn):
    out = {}
    norms = (('norm1', layer.ln1), ('norm2', layer.ln2))
    linears = (('attn.qkv', layer.attn.qkv), ('attn.proj', layer.attn.proj),
               ('mlp.fc1', layer.ffn.layers[0][0]), ('mlp.fc2',
                                                     layer.ffn.layers[1]))
    for name, mod in norms:
        # the release's BN wrapper holds its BatchNorm1d as child ``bn``
        name = f'{name}.bn' if bn else name
        out[f'{prefix}.{name}.weight'] = mod.weight
        out[f'{prefix}.{name}.bias'] = mod.bias
        if bn:
            out[f'{prefix}.{name}.running_mean'] = mod.running_mean
            out[f'{prefix}.{name}.running_var'] = mod.running_var
            out[f'{prefix}.{name}.num_batches_tracked'] = \
                mod.num_batches_tracked
    for name, mod in linears:
        out[f'{prefix}.{name}.weight'] = mod.weight
        out[f'{prefix}.{name}.bias'] = mod.bias
    return out


def _timm_encoder(prefix, vit):
    p = prefix
    out = {
        f'{p}cls_token': vit.cls_token,
        f'{p}patch_embed.proj.weight': vit.patch_embed.projection.weight,
        f'{p}patch_embed.proj.bias': vit.patch_embed.projection.bias,
    }
    for i, layer in enumerate(vit.layers):
        out.update(_timm_block(f'{p}blocks.{i}', layer, bn=False))
    return out


def _timm_projector(prefix, neck):
    out = {
        f'{prefix}decoder_embed.weight': neck.proj.weight,
        f'{prefix}decoder_embed.bias': neck.proj.bias,
    }
    for i, block in enumerate(neck.blocks):
        out.update(
            _timm_block(f'{prefix}projector_decoder_blocks.{i}', block, True))
    return out


def tiny_to_official(model, with_mm_pos_embed=False):
    """Official-layout state dict of ``model`` (values cloned)."""
    sd = _timm_encoder('', model.backbone)
    sd['pos_embed'] = model.backbone.pos_embed
    sd.update(_timm_projector('', model.neck))
    head = model.head
    sd['mask_token'] = head.mask_token
    sd['decoder_pos_embed'] = head.pos_embed
    sd['decoder_pos_mlp.weight'] = head.rel_pos_mlp.weight
    sd['decoder_pos_mlp.bias'] = head.rel_pos_mlp.bias
    sd['decoder_pred.weight'] = head.out_proj.weight
    sd['decoder_pred.bias'] = head.out_proj.bias
    for i, block in enumerate(head.blocks):
        sd.update(_timm_block(f'predictor_decoder_blocks.{i}', block, True))
    target_vit, target_neck = model.target_encoder.module
    sd.update(_timm_encoder('mm_', target_vit))
    sd.update(_timm_projector('mm_', target_neck))
    sd['mm_mask_token'] = head.mask_token * 2
    if with_mm_pos_embed:
        sd['mm_pos_embed'] = target_vit.pos_embed
    return OrderedDict((k, v.detach().clone()) for k, v in sd.items())


def _randomise(model, seed=0):
    """Distinct random values everywhere (online != target), BN stats too."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if t.is_floating_point():
                v = torch.randn(t.shape, generator=g) * 0.3
                if name.endswith('running_var'):
                    v = v.abs() + 0.5
                t.copy_(v)
            else:
                t.copy_(torch.randint(1, 50, t.shape, generator=g))
    return model


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    return _randomise(build_tiny()).eval()


# --------------------------------------------------------------------------
# Oracle 2: an official state dict typed by hand and timm-style forwards
# --------------------------------------------------------------------------


def _block_shapes(prefix, dim, ff, bn):
    shapes = {}
    for norm in ('norm1', 'norm2'):
        norm = f'{norm}.bn' if bn else norm  # the release's BN wrapper
        shapes[f'{prefix}.{norm}.weight'] = (dim, )
        shapes[f'{prefix}.{norm}.bias'] = (dim, )
        if bn:
            shapes[f'{prefix}.{norm}.running_mean'] = (dim, )
            shapes[f'{prefix}.{norm}.running_var'] = (dim, )
            shapes[f'{prefix}.{norm}.num_batches_tracked'] = ()
    shapes[f'{prefix}.attn.qkv.weight'] = (3 * dim, dim)
    shapes[f'{prefix}.attn.qkv.bias'] = (3 * dim, )
    shapes[f'{prefix}.attn.proj.weight'] = (dim, dim)
    shapes[f'{prefix}.attn.proj.bias'] = (dim, )
    shapes[f'{prefix}.mlp.fc1.weight'] = (ff, dim)
    shapes[f'{prefix}.mlp.fc1.bias'] = (ff, )
    shapes[f'{prefix}.mlp.fc2.weight'] = (dim, ff)
    shapes[f'{prefix}.mlp.fc2.bias'] = (dim, )
    return shapes


def make_official(seed=1):
    """A tiny official SiameseIM state dict with random values."""
    L, C = GRID * GRID, EMBED
    shapes = {
        'cls_token': (1, 1, C),
        'pos_embed': (1, L + 1, C),
        'patch_embed.proj.weight': (C, 3, PATCH, PATCH),
        'patch_embed.proj.bias': (C, ),
        'decoder_embed.weight': (C, C),
        'decoder_embed.bias': (C, ),
        'mask_token': (1, 1, C),
        'decoder_pos_embed': (1, L + 1, C),
        'decoder_pos_mlp.weight': (C, 2 * C),
        'decoder_pos_mlp.bias': (C, ),
        'decoder_pred.weight': (C, C),
        'decoder_pred.bias': (C, ),
        'mm_cls_token': (1, 1, C),
        'mm_patch_embed.proj.weight': (C, 3, PATCH, PATCH),
        'mm_patch_embed.proj.bias': (C, ),
        'mm_decoder_embed.weight': (C, C),
        'mm_decoder_embed.bias': (C, ),
        'mm_mask_token': (1, 1, C),
    }
    for mm in ('', 'mm_'):
        for i in range(DEPTH):
            shapes.update(_block_shapes(f'{mm}blocks.{i}', C, FF, False))
        for i in range(NECK_DEPTH):
            shapes.update(
                _block_shapes(f'{mm}projector_decoder_blocks.{i}', C, DEC_FF,
                              True))
    for i in range(HEAD_DEPTH):
        shapes.update(
            _block_shapes(f'predictor_decoder_blocks.{i}', C, DEC_FF, True))
    g = torch.Generator().manual_seed(seed)
    sd = OrderedDict()
    for key, shape in shapes.items():
        if key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(7)
        elif key.endswith('running_var'):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[key] = torch.randn(shape, generator=g) * 0.3
    return sd


def _ref_norm(sd, p, x, bn):
    if bn:
        p += '.bn'
    w, b = sd[p + '.weight'], sd[p + '.bias']
    if bn:  # eval-mode BatchNorm1d over channels
        mean, var = sd[p + '.running_mean'], sd[p + '.running_var']
        return (x - mean) / torch.sqrt(var + BN_EPS) * w + b
    mu = x.mean(-1, keepdim=True)
    var = x.var(-1, unbiased=False, keepdim=True)
    return (x - mu) / torch.sqrt(var + LN_EPS) * w + b


def _ref_block(sd, p, x, heads, bn):
    """timm ``Block``: x + Attn(norm1 x); x + fc2(GELU(fc1(norm2 x)))."""
    B, N, C = x.shape
    h = _ref_norm(sd, p + '.norm1', x, bn)
    qkv = h @ sd[p + '.attn.qkv.weight'].t() + sd[p + '.attn.qkv.bias']
    qkv = qkv.reshape(B, N, 3, heads, C // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = (q @ k.transpose(-2, -1) * (C // heads)**-0.5).softmax(-1)
    a = (attn @ v).transpose(1, 2).reshape(B, N, C)
    x = x + a @ sd[p + '.attn.proj.weight'].t() + sd[p + '.attn.proj.bias']
    h = _ref_norm(sd, p + '.norm2', x, bn)
    h = F.gelu(h @ sd[p + '.mlp.fc1.weight'].t() + sd[p + '.mlp.fc1.bias'])
    return x + h @ sd[p + '.mlp.fc2.weight'].t() + sd[p + '.mlp.fc2.bias']


def ref_encoder(sd, img, mask=None, mm=''):
    """Official encoder: patch embed + abs pos, optional masking, blocks."""
    x = F.conv2d(
        img,
        sd[mm + 'patch_embed.proj.weight'],
        sd[mm + 'patch_embed.proj.bias'],
        stride=PATCH)
    x = x.flatten(2).transpose(1, 2) + sd['pos_embed'][:, 1:]
    B = x.shape[0]
    if mask is not None:
        x = x[~mask].reshape(B, -1, EMBED)
    cls = sd[mm + 'cls_token'] + sd['pos_embed'][:, :1]
    x = torch.cat([cls.expand(B, -1, -1), x], 1)
    for i in range(DEPTH):
        x = _ref_block(sd, f'{mm}blocks.{i}', x, HEADS, bn=False)
    return x


def ref_projector(sd, x, mm=''):
    x = x @ sd[mm + 'decoder_embed.weight'].t() + sd[mm + 'decoder_embed.bias']
    for i in range(NECK_DEPTH):
        x = _ref_block(sd, f'{mm}projector_decoder_blocks.{i}', x, 2, True)
    return x


def ref_predictor(sd, latent, mask, rel_pos):
    B = latent.shape[0]
    table = sd['decoder_pos_embed']
    vis = table[:, 1:].expand(B, -1, -1)[~mask].reshape(B, -1, EMBED)
    code = relative_sincos_embedding(rel_pos, GRID, EMBED)
    q = sd['mask_token'] + code @ sd['decoder_pos_mlp.weight'].t() \
        + sd['decoder_pos_mlp.bias']
    z = torch.cat([latent[:, :1] + table[:, :1], latent[:, 1:] + vis, q], 1)
    for i in range(HEAD_DEPTH):
        z = _ref_block(sd, f'predictor_decoder_blocks.{i}', z, 2, True)
    z = z @ sd['decoder_pred.weight'].t() + sd['decoder_pred.bias']
    return z[:, latent.shape[1]:]


def assert_close(actual, expected):
    """fp32 agreement up to rounding (values reach ~50 with random
    weights); a wrong mapping gives differences of the values' order."""
    scale = expected.abs().max().item()
    torch.testing.assert_close(
        actual, expected, rtol=1e-5, atol=1e-5 * max(scale, 1.))


def _inputs(seed=3, batch=2, masked=9):
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(batch, 3, IMG, IMG, generator=g)
    mask = torch.zeros(batch, GRID * GRID, dtype=torch.bool)
    for row in mask:
        row[torch.randperm(GRID * GRID, generator=g)[:masked]] = True
    rel = torch.tensor([[0.1, -0.2, 1.3, 0.8, 0., 1.1],
                        [-0.3, 0.4, 0.7, 1.5, 1., 0.9]])[:batch]
    return img, mask, rel


def _tiny_vit(**kwargs):
    """mmpretrain's stock ViT of the tiny architecture."""
    cfg = dict(
        arch=dict(
            embed_dims=EMBED,
            num_layers=DEPTH,
            num_heads=HEADS,
            feedforward_channels=FF),
        img_size=IMG,
        patch_size=PATCH,
        norm_cfg=dict(type='LN', eps=LN_EPS),
        final_norm=False,
        out_type='raw')
    cfg.update(kwargs)
    vit = VisionTransformer(**cfg)
    vit.eval()
    return vit


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
    img, mask, rel = _inputs()
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
    vit = _tiny_vit(final_norm=True)
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
    vit = _tiny_vit()
    result = vit.load_state_dict(out, strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    encoder = tiny.backbone if source == 'online' else \
        tiny.target_encoder.module[0]
    img = _inputs()[0]
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
    vit = _tiny_vit()
    vit.load_state_dict(out, strict=True)
    img = _inputs()[0]
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
