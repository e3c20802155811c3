"""The two checkpoint converter CLIs, on temporary files."""
import argparse
import os
import os.path as osp
import random
import subprocess
import sys

import pytest
import torch
from mmengine.logging import HistoryBuffer
from test_models.siameseim_tiny import build_tiny
from test_utils.official_oracles import (assert_close, make_inputs,
                                         make_official, randomise,
                                         ref_encoder, tiny_to_official,
                                         tiny_vit)
from tool_modules import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOLS = osp.join(ROOT, 'tools', 'model_converters')
OFFICIAL_TOOL = osp.join(TOOLS, 'siameseim_official_to_mmpretrain.py')
BACKBONE_TOOL = osp.join(TOOLS, 'siameseim_to_backbone.py')


official_tool = load_tool(OFFICIAL_TOOL)
backbone_tool = load_tool(BACKBONE_TOOL)


def _run(tool, *args, cwd):
    """Run a tool as a user would: no PYTHONPATH, outside the repo."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([sys.executable, tool, *map(str, args)],
                          capture_output=True,
                          text=True,
                          env=env,
                          cwd=cwd,
                          timeout=300)


def _read(path):
    return torch.load(path, map_location='cpu', weights_only=True)


def _official_file(tmp_path, sd, name='sim_official.pth'):
    """Save like the release: ``model`` + training state + an args
    namespace (which ``weights_only=True`` must be allowed to read)."""
    path = tmp_path / name
    torch.save(
        dict(
            model=sd,
            epoch=1599,
            scaler={'scale': 1024.},
            args=argparse.Namespace(model='sim_base', lr=1e-3)), path)
    return path


@pytest.fixture(scope='module')
def tiny():
    torch.manual_seed(0)
    model = randomise(build_tiny(), seed=5)
    model.eval()
    return model


def test_cli_round_trip(tiny, tmp_path):
    """official file -> our checkpoint (subprocess) -> backbone file
    -> stock mmpretrain ViT, checked number by number."""
    src = _official_file(tmp_path, tiny_to_official(tiny))
    dst = tmp_path / 'out' / 'sim_mmsiameseim.pth'
    proc = _run(OFFICIAL_TOOL, src, dst, '--strict', cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '0 unmapped' in proc.stdout
    assert 'ignored: mm_mask_token' in proc.stdout
    ckpt = _read(dst)
    assert ckpt['meta']['converted_from'] == str(src)
    assert ckpt['meta']['unmapped_keys'] == []
    model = build_tiny()
    result = model.load_state_dict(ckpt['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    for key, value in tiny.state_dict().items():
        if key not in ('target_encoder.module.0.pos_embed',
                       'target_encoder.steps'):
            assert torch.equal(ckpt['state_dict'][key], value), key

    # The second tool shares the first one's start-up code, so it runs
    # in-process here (a subprocess costs a full mmpretrain import).
    out = tmp_path / 'backbone.pth'
    assert backbone_tool.main([str(dst), str(out), '--prefix', '']) == 0
    backbone = _read(out)
    assert backbone['meta']['source'] == 'online'
    vit = tiny_vit()
    result = vit.load_state_dict(backbone['state_dict'], strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    img = make_inputs()[0]
    with torch.no_grad():
        assert_close(vit(img)[-1], tiny.backbone(img)[-1])


def test_strict_fails_on_unmapped_keys(tmp_path, capsys):
    sd = make_official()
    sd['junk_head.weight'] = torch.ones(2, 2)
    sd['blocks.0.ls1.gamma'] = torch.ones(4)
    src = _official_file(tmp_path, sd)
    dst = tmp_path / 'strict.pth'
    assert official_tool.main([str(src), str(dst), '--strict']) == 1
    captured = capsys.readouterr()
    assert 'unmapped: junk_head.weight (2, 2)' in captured.out
    assert 'unmapped: blocks.0.ls1.gamma (4,)' in captured.out
    assert '2 unmapped' in captured.out
    assert '--strict' in captured.err
    assert not dst.exists()

    # Without --strict the rest is converted and the junk is recorded.
    assert official_tool.main([str(src), str(dst)]) == 0
    ckpt = _read(dst)
    assert sorted(ckpt['meta']['unmapped_keys']) == [
        'blocks.0.ls1.gamma', 'junk_head.weight'
    ]
    model = build_tiny()
    model.load_state_dict(ckpt['state_dict'], strict=True)


def test_official_tool_rejects_other_layouts_and_bad_files(tmp_path, capsys):
    ours = tmp_path / 'ours.pth'
    torch.save(dict(state_dict=build_tiny().state_dict()), ours)
    missing = tmp_path / 'nope.pth'
    garbage = tmp_path / 'garbage.pth'
    garbage.write_bytes(random.Random(0).randbytes(256))
    truncated = tmp_path / 'truncated.pth'
    whole = _official_file(tmp_path, make_official()).read_bytes()
    truncated.write_bytes(whole[:len(whole) // 2])
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    dst = tmp_path / 'x.pth'

    assert official_tool.main([str(ours), str(dst)]) == 1
    assert 'siameseim_to_backbone' in capsys.readouterr().err
    assert official_tool.main([str(missing), str(dst)]) == 1
    err = capsys.readouterr().err
    assert str(missing) in err and 'does not exist' in err
    for bad in (garbage, truncated, empty):
        assert official_tool.main([str(bad), str(dst)]) == 1
        err = capsys.readouterr().err
        assert str(bad) in err and 'not a' in err and 'PyTorch checkpoint' \
            in err, err
        assert len(err.strip().splitlines()) == 1, err
    assert not dst.exists()


def test_backbone_tool_needs_trusted_for_training_checkpoints(
        tiny, tmp_path, capsys):
    """mmengine checkpoints hold Python objects: refused without
    --trusted, read with full pickle with it; the EMA encoder on request."""
    buffer = HistoryBuffer()
    buffer.update(1.)
    src = tmp_path / 'epoch_1.pth'
    torch.save(
        dict(
            meta=dict(epoch=1),
            state_dict=tiny.state_dict(),
            message_hub=dict(log_scalars={'loss': buffer})), src)
    dst = tmp_path / 'backbone_ema.pth'
    args = [str(src), str(dst), '--source', 'target', '--prefix', '']
    assert backbone_tool.main(args) == 1
    err = capsys.readouterr().err
    assert str(src) in err and '--trusted' in err
    assert not dst.exists()

    assert backbone_tool.main(args + ['--trusted']) == 0
    out = _read(dst)['state_dict']
    vit = tiny_vit()
    vit.load_state_dict(out, strict=True)
    img = make_inputs()[0]
    with torch.no_grad():
        assert_close(vit(img)[-1], tiny.target_encoder.module[0](img)[-1])


def test_backbone_tool_official_input_and_pretrained_init(tmp_path):
    """Official file straight to a backbone; the default 'backbone.' prefix
    works with init_cfg=dict(type='Pretrained', prefix='backbone.')."""
    sd = make_official()
    src = _official_file(tmp_path, sd)
    dst = tmp_path / 'sim_backbone.pth'
    assert backbone_tool.main([str(src), str(dst)]) == 0
    state = _read(dst)['state_dict']
    assert all(k.startswith('backbone.') for k in state)
    vit = tiny_vit(
        init_cfg=dict(
            type='Pretrained', checkpoint=str(dst), prefix='backbone.'))
    vit.init_weights()
    vit.eval()
    img = make_inputs()[0]
    with torch.no_grad():
        assert_close(vit(img)[-1], ref_encoder(sd, img))

    timm = tmp_path / 'sim_backbone_timm.pth'
    assert backbone_tool.main([str(src), str(timm), '--layout', 'timm']) == 0
    state = _read(timm)['state_dict']
    assert set(state) == {
        k
        for k in sd
        if k.startswith(('blocks.', 'patch_embed.')) or k in ('cls_token',
                                                              'pos_embed')
    }


def test_backbone_tool_errors_name_the_file(tmp_path, capsys):
    missing = tmp_path / 'missing.pth'
    dst = tmp_path / 'x.pth'
    assert backbone_tool.main([str(missing), str(dst)]) == 1
    assert str(missing) in capsys.readouterr().err
    junk = tmp_path / 'junk.pth'
    torch.save({'foo.weight': torch.ones(1)}, junk)
    assert backbone_tool.main([str(junk), str(dst)]) == 1
    err = capsys.readouterr().err
    assert str(junk) in err and 'unrecognised' in err
    head_only = tmp_path / 'head_only.pth'
    torch.save({'state_dict': {
        'backbone.cls_token': torch.ones(1)
    }}, head_only)
    assert backbone_tool.main([str(head_only),
                               str(dst), '--source', 'target']) == 1
    err = capsys.readouterr().err
    assert str(head_only) in err and 'no target encoder' in err
    assert not dst.exists()


# --------------------------------------------------------------------------
# The release's real key layout (a fixture written out from it, not from
# our rules): every key maps with --strict
# --------------------------------------------------------------------------
KEY_FIXTURE = osp.join(ROOT, 'tests', 'data',
                       'official_siameseim_small_keys.txt')


def read_key_fixture():
    """``{key: shape}`` of the checked-in release key list."""
    keys = {}
    with open(KEY_FIXTURE) as f:
        for line in f:
            if not line.strip() or line.startswith('#'):
                continue
            key, shape = line.split()
            keys[key] = () if shape == '()' else tuple(
                int(n) for n in shape.split('x'))
    return keys


def release_state_dict(seed=0):
    """Random tensors of the fixture's keys and shapes."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for key, shape in read_key_fixture().items():
        if key.endswith('num_batches_tracked'):
            sd[key] = torch.tensor(1000 + len(sd))
        elif key.endswith('running_var'):
            sd[key] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[key] = torch.randn(shape, generator=g)
    return sd


def _small_release_model():
    """Our model at the fixture's sizes (encoder MLP 128, depths 2 / 4)."""
    return build_tiny(
        backbone=dict(
            arch=dict(
                embed_dims=32,
                num_layers=2,
                num_heads=2,
                feedforward_channels=128)),
        neck=dict(depth=2),
        head=dict(depth=4))


def test_release_key_layout_converts_strictly(tmp_path, capsys):
    keys = read_key_fixture()
    assert len(keys) == 210
    bn = [k for k in keys if '.bn.' in k]
    assert len(bn) == 80  # 5 tensors x 2 norms x (2 + 4 + 2) BN blocks
    sd = release_state_dict()
    src = _official_file(tmp_path, sd, 'release.pth')
    dst = tmp_path / 'converted.pth'
    # in-process (the CLI as a subprocess is covered by test_cli_round_trip)
    assert official_tool.main([str(src), str(dst), '--strict']) == 0
    assert '210 source keys: 209 mapped, 1 ignored, 0 unmapped' in \
        capsys.readouterr().out
    converted = _read(dst)['state_dict']
    model = _small_release_model()
    load = model.load_state_dict(converted, strict=True)
    assert not load.missing_keys and not load.unexpected_keys
    report = official_tool.convert_checkpoint(sd)
    assert len(report.renamed) == 209 and report.unmapped == []
    for old, new in report.renamed.items():
        assert torch.equal(converted[new], sd[old]), (old, new)
    # the BN tensors land in TokenBN's ln1 / ln2, running stats included
    got = model.state_dict()
    for group, ours in (('projector_decoder_blocks', 'neck.blocks'),
                        ('predictor_decoder_blocks', 'head.blocks'),
                        ('mm_projector_decoder_blocks',
                         'target_encoder.module.1.blocks')):
        for name in ('running_mean', 'running_var', 'num_batches_tracked',
                     'weight'):
            assert torch.equal(got[f'{ours}.1.ln2.{name}'],
                               sd[f'{group}.1.norm2.bn.{name}'])


@pytest.mark.parametrize('bad_key,shape', [
    ('projector_decoder_blocks.0.norm1.running_mean', (32, )),  # no ``.bn``
    ('blocks.0.norm1.bn.weight', (32, )),  # the encoder has no BN
    ('predictor_decoder_blocks.0.ls1.gamma', (32, )),
])
def test_release_layout_with_an_unknown_key_fails_strict(
        tmp_path, capsys, bad_key, shape):
    sd = release_state_dict()
    sd[bad_key] = torch.ones(shape)
    src = _official_file(tmp_path, sd, 'release.pth')
    dst = tmp_path / 'converted.pth'
    assert official_tool.main([str(src), str(dst), '--strict']) == 1
    captured = capsys.readouterr()
    assert f'unmapped: {bad_key}' in captured.out
    assert 'nothing written' in captured.err and not dst.exists()
