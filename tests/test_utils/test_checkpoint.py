"""The checkpoint service: resume, the run's manifest, the trust policy."""
import json
import os.path as osp
import pickle
import shutil

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import MODELS
from test_utils.toy_run import (CkptTestToyDataset, CkptTestToyModel,
                                assert_state_equal, build_runner,
                                record_hook, run_name, state_of, toy_cfg)
from tool_modules import load_tool

from mmsiameseim.checkpoints import (MANIFEST_NAME, UntrustedCheckpointError,
                                     convert_checkpoint, detect_layout,
                                     read_checkpoint, unwrap_state_dict,
                                     written_by_run)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# Set by _mark_unpickled when a malicious payload gets unpickled.
UNPICKLED = []


def _mark_unpickled():
    UNPICKLED.append(True)
    return 'payload'


class _Payload:
    """An object that runs code when unpickled."""

    def __reduce__(self):
        return (_mark_unpickled, ())


class _FileWriter:
    """Unpickling this creates the file ``path`` (``open(path, 'w')``)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, 'w'))


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    """A 2-iteration run; its checkpoint and the weights it saved."""
    work_dir = tmp_path_factory.mktemp('run')
    runner = build_runner(toy_cfg(work_dir, max_iters=2))
    runner.train()
    ckpt = osp.join(str(work_dir), 'iter_2.pth')
    assert osp.isfile(ckpt)
    return dict(
        work_dir=work_dir,
        ckpt=ckpt,
        state=state_of(runner.model),
        momentum={
            k: v['momentum_buffer'].clone()
            for k, v in runner.optim_wrapper.optimizer.state_dict()
            ['state'].items()
        })


def test_torch_default_refuses_mmengine_checkpoint(trained):
    # The problem the runner solves: torch's default (weights_only) refuses
    # mmengine's own training checkpoints; the run's manifest vouches for
    # its own files, so the service reads them with full pickle.
    with pytest.raises(pickle.UnpicklingError, match='HistoryBuffer'):
        torch.load(trained['ckpt'], map_location='cpu')
    assert written_by_run(trained['ckpt'])
    manifest = json.loads(
        (trained['work_dir'] / MANIFEST_NAME).read_text())
    assert set(manifest) == {'iter_2.pth'}
    full = read_checkpoint(trained['ckpt'])
    assert full['meta']['iter'] == 2
    assert_state_equal(full['state_dict'], trained['state'])


def test_manifest_vouches_only_for_the_bytes_it_recorded(trained, tmp_path):
    # a copy elsewhere (no manifest) and a changed file are not the run's
    copy = tmp_path / 'iter_2.pth'
    shutil.copy(trained['ckpt'], copy)
    assert not written_by_run(str(copy))
    with pytest.raises(UntrustedCheckpointError) as err:
        read_checkpoint(str(copy))
    assert str(copy) in str(err.value) and '--trusted' in str(err.value)
    assert read_checkpoint(str(copy), trusted=True)['meta']['iter'] == 2
    shutil.copy(trained['work_dir'] / MANIFEST_NAME, tmp_path)
    assert written_by_run(str(copy))  # same name, same bytes
    with open(copy, 'r+b') as f:  # same size, one byte changed
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    assert not written_by_run(str(copy))


def test_auto_resume_continues_counter_and_weights(trained, tmp_path):
    # Resume in a copy of the work dir so the fixture stays untouched.
    work_dir = tmp_path / 'resumed'
    shutil.copytree(trained['work_dir'], work_dir)
    with open(work_dir / 'last_checkpoint', 'w') as f:
        f.write(str(work_dir / 'iter_2.pth'))
    runner = build_runner(toy_cfg(work_dir, max_iters=4, resume=True))
    runner.train()
    rec = record_hook(runner)
    assert rec.start_iter == 2
    assert rec.iters == [3, 4]
    assert runner.iter == 4
    assert_state_equal(rec.start_state, trained['state'])
    assert osp.isfile(work_dir / 'iter_4.pth')

    # Oracle: an uninterrupted 4-iteration run ends at the same weights,
    # which needs the optimizer momentum to have been resumed too.
    straight = build_runner(toy_cfg(tmp_path / 'straight', max_iters=4))
    straight.train()
    assert_state_equal(state_of(runner.model), state_of(straight.model))


def test_resume_from_explicit_path_restores_optimizer(trained, tmp_path):
    runner = build_runner(
        toy_cfg(tmp_path, max_iters=2, resume=True, load_from=trained['ckpt']))
    runner.load_or_resume()
    assert runner.iter == 2
    assert_state_equal(state_of(runner.model), trained['state'])
    state = runner.optim_wrapper.optimizer.state_dict()['state']
    assert state.keys() == trained['momentum'].keys()
    for key, buf in trained['momentum'].items():
        torch.testing.assert_close(
            state[key]['momentum_buffer'], buf, rtol=0, atol=0)


def test_load_from_foreign_run_checkpoint_needs_trust(trained, tmp_path):
    # The run's own file loads (manifest); the same bytes elsewhere do not,
    # unless the config vouches for them.
    runner = build_runner(
        toy_cfg(tmp_path / 'own', max_iters=2, load_from=trained['ckpt']))
    runner.load_or_resume()
    assert_state_equal(state_of(runner.model), trained['state'])
    copy = tmp_path / 'downloaded.pth'
    shutil.copy(trained['ckpt'], copy)
    runner = build_runner(
        toy_cfg(tmp_path / 'a', max_iters=2, load_from=str(copy)))
    with pytest.raises(ValueError, match='downloaded.pth'):
        runner.load_or_resume()
    runner = build_runner(
        toy_cfg(
            tmp_path / 'b',
            max_iters=2,
            load_from=str(copy),
            load_from_trusted=True))
    runner.load_or_resume()
    assert runner.iter == 0  # weights only, no resume
    assert_state_equal(state_of(runner.model), trained['state'])


def test_auto_resume_refuses_a_planted_checkpoint(trained, tmp_path):
    """A file saved into a work dir and named by ``last_checkpoint`` (what
    any download into the folder can become) is not unpickled: no code
    runs, and the error names the file and how to trust it."""
    work_dir = tmp_path / 'planted'
    shutil.copytree(trained['work_dir'], work_dir)
    marker = tmp_path / 'pwned.txt'
    evil = work_dir / 'iter_3.pth'
    state = torch.load(trained['ckpt'], weights_only=False)
    state['meta']['payload'] = _FileWriter(marker)
    torch.save(state, evil)
    (work_dir / 'last_checkpoint').write_text(str(evil))
    runner = build_runner(toy_cfg(work_dir, max_iters=4, resume=True))
    with pytest.raises(UntrustedCheckpointError) as err:
        runner.train()
    assert not marker.exists()
    message = str(err.value)
    assert str(evil) in message and 'load_from_trusted' in message
    # sanity check of the payload: full pickle does write the file
    read_checkpoint(str(evil), trusted=True)
    assert marker.exists()


@pytest.fixture
def weights(tmp_path):
    """A plain state dict and one with a code-running object inside."""
    torch.manual_seed(1)
    model = CkptTestToyModel()
    state = state_of(model)
    plain = tmp_path / 'plain.pth'
    torch.save(state, plain)
    evil = tmp_path / 'evil.pth'
    torch.save(dict(state_dict=state, meta=_Payload()), evil)
    UNPICKLED.clear()
    return dict(state=state, plain=str(plain), evil=str(evil))


def test_load_from_plain_state_dict(weights, tmp_path):
    runner = build_runner(
        toy_cfg(tmp_path, max_iters=2, load_from=weights['plain']))
    runner.load_or_resume()
    assert_state_equal(state_of(runner.model), weights['state'])


def test_load_from_pickled_object_fails_without_running_it(weights, tmp_path):
    runner = build_runner(
        toy_cfg(tmp_path, max_iters=2, load_from=weights['evil']))
    with pytest.raises(ValueError, match='evil.pth'):
        runner.load_or_resume()
    assert UNPICKLED == []
    # Sanity check of the payload itself: full pickle does run it.
    read_checkpoint(weights['evil'], trusted=True)
    assert UNPICKLED == [True]


def test_pretrained_init_cfg_is_safe(weights):
    model = MODELS.build(
        dict(
            type='CkptTestToyModel',
            init_cfg=dict(type='Pretrained', checkpoint=weights['plain'])))
    model.init_weights()
    assert_state_equal(state_of(model), weights['state'])

    model = MODELS.build(
        dict(
            type='CkptTestToyModel',
            init_cfg=dict(type='Pretrained', checkpoint=weights['evil'])))
    with pytest.raises(pickle.UnpicklingError):
        model.init_weights()
    assert UNPICKLED == []


def test_read_checkpoint_errors_name_the_file(weights, tmp_path):
    assert_state_equal(read_checkpoint(weights['plain']), weights['state'])
    with pytest.raises(UntrustedCheckpointError, match='evil.pth'):
        read_checkpoint(weights['evil'])
    # the folder of a run (last_checkpoint beside it) does not vouch
    (tmp_path / 'last_checkpoint').write_text(weights['evil'])
    with pytest.raises(UntrustedCheckpointError, match='evil.pth'):
        read_checkpoint(weights['evil'])
    assert UNPICKLED == []
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(open(weights['plain'], 'rb').read()[:200])
    with pytest.raises(ValueError, match='truncated.pth.*corrupt'):
        read_checkpoint(str(truncated))
    empty = tmp_path / 'empty.pth'
    empty.write_bytes(b'')
    with pytest.raises(ValueError, match='empty.pth'):
        read_checkpoint(str(empty))


def test_backbone_extraction_through_the_service(trained, tmp_path):
    """Unwrapping ``state_dict`` / ``model`` / ``module.`` and picking the
    online or the EMA encoder: the same tensors as the source keys."""
    torch.manual_seed(0)
    online = {'backbone.cls_token': torch.randn(1, 1, 4),
              'backbone.layers.0.ln1.weight': torch.randn(4)}
    ema = {k.replace('backbone.', 'target_encoder.module.0.'): v + 1
           for k, v in online.items()}
    extra = {'neck.proj.weight': torch.randn(4, 4)}
    for i, wrap in enumerate([
            lambda sd: dict(state_dict=sd, meta=dict(epoch=1)),
            lambda sd: dict(model={'module.' + k: v
                                   for k, v in sd.items()}), lambda sd: sd
    ]):
        path = tmp_path / f'ckpt{i}.pth'
        torch.save(wrap({**online, **ema, **extra}), path)
        got = convert_checkpoint(read_checkpoint(str(path)),
                                 layout='mmpretrain', prefix='').state_dict
        assert set(got) == {'cls_token', 'layers.0.ln1.weight'}
        assert torch.equal(got['cls_token'], online['backbone.cls_token'])
        got = convert_checkpoint(read_checkpoint(str(path)),
                                 layout='mmpretrain', source='target',
                                 prefix='').state_dict
        assert torch.equal(got['layers.0.ln1.weight'],
                           online['backbone.layers.0.ln1.weight'] + 1)
        sd = unwrap_state_dict(read_checkpoint(str(path)))
        assert detect_layout(sd) == 'mmsiameseim'
        assert 'neck.proj.weight' in sd
    with pytest.raises(ValueError, match='no target encoder'):
        torch.save({'neck.proj.weight': torch.ones(1),
                    'backbone.x': torch.ones(1)}, tmp_path / 'nothing.pth')
        convert_checkpoint(read_checkpoint(str(tmp_path / 'nothing.pth')),
                           layout='mmpretrain', source='target')


def _load_tool(name):
    path = osp.join(ROOT, 'tools', f'{name}.py')
    return load_tool(path)


def test_train_tool_merge_args(tmp_path):
    train = _load_tool('train')
    cfg_file = tmp_path / 'toy_cfg.py'
    Config(toy_cfg(tmp_path / 'wd', max_iters=2)).dump(str(cfg_file))
    ckpt = str(tmp_path / 'x.pth')
    torch.save({}, ckpt)
    args = train.parse_args([str(cfg_file), '--amp', '--resume', ckpt])
    cfg = train.merge_args(Config.fromfile(str(cfg_file)), args)
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    assert (cfg.resume, cfg.load_from) == (True, ckpt)
    args = train.parse_args([str(cfg_file), '--amp'])
    with pytest.raises(ValueError, match='AmpOptimWrapper'):
        train.merge_args(cfg, args)


def test_train_and_test_tools_resume_and_evaluate(tmp_path, monkeypatch,
                                                  capsys):
    monkeypatch.setenv('LOCAL_RANK', '0')
    work_dir = tmp_path / 'wd'
    cfg = toy_cfg(work_dir, max_iters=2)
    del cfg['runner_type']  # the tools default to SafeResumeRunner
    cfg.update(
        test_dataloader=cfg['train_dataloader'],
        test_evaluator=dict(type='CkptTestMSEMetric'),
        test_cfg=dict())
    cfg_file = tmp_path / 'toy_cfg.py'
    Config(cfg).dump(str(cfg_file))

    def opts(*pairs):
        return ['--cfg-options', f"experiment_name={run_name('tool')}",
                *pairs]

    train = _load_tool('train')
    train.main([str(cfg_file), '--work-dir', str(work_dir), *opts()])
    train.main([
        str(cfg_file), '--work-dir',
        str(work_dir), '--resume', *opts('train_cfg.max_iters=4')
    ])
    assert (work_dir / 'start_iters.txt').read_text().split() == ['0', '2']
    ckpt = str(work_dir / 'iter_4.pth')
    assert read_checkpoint(ckpt)['meta']['iter'] == 4

    test = _load_tool('test')
    # the run's own checkpoint evaluates as it is; a copy needs the flag
    copy = str(tmp_path / 'copy.pth')
    shutil.copy(ckpt, copy)
    assert test.main([
        str(cfg_file), copy, '--work-dir',
        str(tmp_path / 'eval0'), *opts()
    ]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and 'copy.pth' in err
    out = tmp_path / 'metrics.json'
    test.main([
        str(cfg_file), copy, '--work-dir',
        str(tmp_path / 'eval'), '--trusted-checkpoint', '--out',
        str(out), '--out-item', 'metrics', *opts()
    ])
    own = tmp_path / 'metrics_own.json'
    test.main([
        str(cfg_file), ckpt, '--work-dir',
        str(tmp_path / 'eval_own'), '--out',
        str(own), '--out-item', 'metrics', *opts()
    ])
    assert json.loads(own.read_text()) == json.loads(out.read_text())
    state = read_checkpoint(ckpt)['state_dict']
    data = CkptTestToyDataset()
    errors = [(float(data[i]['inputs'] @ state['lin.weight'][0]) +
               float(state['lin.bias'][0]) - float(data[i]['targets']))**2
              for i in range(len(data))]
    assert json.loads(out.read_text())['mse'] == pytest.approx(
        sum(errors) / len(errors), rel=1e-5)

    # a checkpoint of another size stops the evaluation with one line
    # naming the file and the tensor (mmengine would log it and go on)
    wrong = dict(state)
    wrong['lin.weight'] = torch.zeros(1, 5)
    bad = tmp_path / 'other_size.pth'
    torch.save({'state_dict': wrong, 'meta': {}}, bad)
    capsys.readouterr()
    assert test.main([
        str(cfg_file),
        str(bad), '--work-dir',
        str(tmp_path / 'eval_bad'), '--trusted-checkpoint', *opts()
    ]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert 'other_size.pth' in err and 'lin.weight' in err and '(1, 5)' in err
