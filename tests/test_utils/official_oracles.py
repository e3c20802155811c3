"""Oracles of the key-mapping tests, independent of our key rules.

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

import torch
import torch.nn.functional as F
from mmpretrain.models import VisionTransformer
from test_models.siameseim_tiny import EMBED, GRID

from mmsiameseim.checkpoints import convert_checkpoint
from mmsiameseim.models.utils.relative_position import \
    relative_sincos_embedding


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


def randomise(model, seed=0):
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


def make_inputs(seed=3, batch=2, masked=9):
    g = torch.Generator().manual_seed(seed)
    img = torch.randn(batch, 3, IMG, IMG, generator=g)
    mask = torch.zeros(batch, GRID * GRID, dtype=torch.bool)
    for row in mask:
        row[torch.randperm(GRID * GRID, generator=g)[:masked]] = True
    rel = torch.tensor([[0.1, -0.2, 1.3, 0.8, 0., 1.1],
                        [-0.3, 0.4, 0.7, 1.5, 1., 0.9]])[:batch]
    return img, mask, rel


def tiny_vit(**kwargs):
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
