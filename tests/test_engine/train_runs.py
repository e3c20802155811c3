"""Helpers of the resume and DDP tests: tiny demo runs in child processes.

Not a test module. The hooks are imported by the child processes through
the run config's ``custom_imports`` (``train_runs`` must be importable:
this folder on ``sys.path`` / ``PYTHONPATH``).
"""
import multiprocessing
import os
import os.path as osp
import signal
import sys
import tempfile
from multiprocessing import forkserver

import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
HERE = osp.dirname(osp.abspath(__file__))
DEMO = osp.join(ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')
DATA = osp.join(ROOT, 'data', 'fashion-mnist')
KILL_ENV = 'MMSIAMESEIM_TEST_KILL'


@HOOKS.register_module(name='TestLossRecorderHook', force=True)
class TestLossRecorderHook(Hook):
    """Appends one line per iteration to ``losses_rank{r}.txt``.

    ``iteration batch_idx loss lr ema samples``: floats in hex (exact),
    ``ema`` the float64 sum of the EMA target's parameters after the step,
    ``samples`` the sorted dataset indices of the batch. Written with
    ``write`` + ``flush``, so a SIGKILL loses nothing that was recorded.
    """

    priority = 'NORMAL'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        loss = float(outputs['loss'].detach())
        lr = float(runner.optim_wrapper.get_lr()['lr'][0])
        model = runner.model
        model = getattr(model, 'module', model)
        ema = float(
            sum(p.double().sum()
                for p in model.target_encoder.parameters()))
        samples = sorted(int(s.sample_idx)
                         for s in data_batch['data_samples'])
        path = osp.join(runner.work_dir, f'losses_rank{get_rank()}.txt')
        with open(path, 'a') as f:
            f.write(f'{runner.iter + 1} {batch_idx} {loss.hex()} '
                    f'{lr.hex()} {ema.hex()} '
                    f'{",".join(map(str, samples))}\n')
            f.flush()


@HOOKS.register_module(name='TestKillHook', force=True)
class TestKillHook(Hook):
    """SIGKILLs its own process after a checkpoint, as ``$KILL_ENV`` says.

    ``iter:K`` kills after iteration K's ``after_train_iter`` hooks (so
    after the iteration checkpoint of K is written), ``epoch:E`` after epoch
    E's ``after_train_epoch`` hooks (after the epoch checkpoint).
    """

    priority = 'LOWEST'  # after CheckpointHook (VERY_LOW)

    def _kill_if(self, kind, value):
        want = os.environ.get(KILL_ENV, '')
        if want == f'{kind}:{value}':
            os.kill(os.getpid(), signal.SIGKILL)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self._kill_if('iter', runner.iter + 1)

    def after_train_epoch(self, runner):
        self._kill_if('epoch', runner.epoch + 1)


def read_losses(work_dir, rank=0):
    """``{iteration: (batch_idx, loss, lr, ema, samples)}``; no duplicates."""
    out = {}
    path = osp.join(work_dir, f'losses_rank{rank}.txt')
    with open(path) as f:
        for line in f:
            it, idx, loss, lr, ema, samples = line.split()
            assert int(it) not in out, f'iteration {it} recorded twice'
            out[int(it)] = (int(idx), float.fromhex(loss), float.fromhex(lr),
                            float.fromhex(ema),
                            tuple(int(i) for i in samples.split(',')))
    return out


def write_tiny_config(path, *, batch_size=8, images=32, epochs=3,
                      num_workers=1, drop_path=0.1, iter_ckpt=6,
                      epoch_ckpt=2, sampler_seed=None):
    """The demo config shrunk by overrides, written to ``path``.

    A 32-wide, 2-block encoder (drop path ``linspace(0, drop_path, 2)``:
    the model draws from torch's RNG in the main process), TokenBN heads,
    EMA target, UniGrad loss, the demo's augmentations and mask;
    ``images / batch_size`` iterations
    per epoch; epoch checkpoints every ``epoch_ckpt`` epochs and after the
    last (all kept) plus rolling iteration checkpoints every ``iter_ckpt``
    iterations, as the ImageNet runtime does (few: mmengine formats the
    whole config with yapf for every checkpoint, ~0.5 s each here);
    deterministic algorithms.
    """
    sampler = '' if sampler_seed is None else f', seed={sampler_seed}'
    cosine = '' if epochs < 2 else f'''
    dict(type='CosineAnnealingLR', T_max={epochs} - 1, eta_min=1e-5,
         by_epoch=True, begin=1, end={epochs}, convert_to_iter_based=True),'''
    text = f'''
_base_ = [{DEMO!r}]
custom_imports = dict(imports=['mmsiameseim', 'train_runs'],
                      allow_failed_imports=False)
model = dict(
    backbone=dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                            feedforward_channels=64),
                  drop_path_rate={drop_path}),
    neck=dict(in_channels=32, embed_dims=32, num_heads=2),
    head=dict(embed_dims=32, num_heads=2))
train_dataloader = dict(
    batch_size={batch_size}, num_workers={num_workers},
    persistent_workers={num_workers > 0},
    sampler=dict(type='ResumableSampler', shuffle=True{sampler}),
    dataset=dict(data_root={DATA!r}, indices={images}))
custom_hooks = [
    dict(type='NumericsGuardHook', max_consecutive=3),
    dict(type='CheckpointHook', by_epoch=False, interval={iter_ckpt},
         max_keep_ckpts=2),
    dict(type='TestLossRecorderHook'),
    dict(type='TestKillHook'),
]
train_cfg = dict(max_epochs={epochs})
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),{cosine}
]
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=1),
    checkpoint=dict(type='CheckpointHook', interval={epoch_ckpt},
                    max_keep_ckpts=-1))
randomness = dict(seed=0, deterministic=True)
visualizer = dict(vis_backends=[dict(type='LocalVisBackend')])
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_level = 'WARNING'
'''
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


def _train_main(argv, kill=None):
    """Child process: ``tools/train.py`` main with ``argv``."""
    if kill:
        os.environ[KILL_ENV] = kill
    else:
        os.environ.pop(KILL_ENV, None)
    # One intra-op thread: the same arithmetic in every run, and no OpenMP
    # threads spinning against other processes on a shared 2-core machine
    # (measured: 38 ms per tiny step with 1 thread, 1.2 s with 2 under load).
    torch.set_num_threads(1)
    import tools.train as train
    sys.exit(train.main(list(argv)))


_CONTEXT = None
_HIDDEN = None


def hidden_downstream_dir():
    """A folder whose ``mmdet`` and ``mmseg`` raise ImportError on import.

    Put first on ``PYTHONPATH`` of the training processes: pretraining
    needs neither, and mmpretrain imports ``mmdet.models`` whenever it can
    (about 4 s per process here), as tests/test_packaging.py also avoids.
    """
    global _HIDDEN
    if _HIDDEN is None:
        _HIDDEN = tempfile.mkdtemp(prefix='mmsiameseim-hidden-')
        for name in ('mmdet', 'mmseg'):
            os.makedirs(osp.join(_HIDDEN, name))
            with open(osp.join(_HIDDEN, name, '__init__.py'), 'w') as f:
                f.write(f'raise ImportError({name!r} " is hidden from the '
                        'training runs of the tests")\n')
    return _HIDDEN


def run_train(argv, kill=None, timeout=240):
    """Run ``tools/train.py argv`` in a fresh child; return its exit code.

    The child is forked from a forkserver that imported the package once
    (a new interpreter per run would spend seconds importing torch and
    mmpretrain; forking the test process itself is unsafe once torch's
    OpenMP threads have run). The exit code is ``-9`` when the child was
    SIGKILLed.
    """
    global _CONTEXT
    if _CONTEXT is None:
        _CONTEXT = multiprocessing.get_context('forkserver')
        _CONTEXT.set_forkserver_preload(['mmsiameseim', 'train_runs'])
        # The server imports the preloaded modules with its own sys.path
        # (Python 3.11 ignores the parent's): put this checkout first.
        old = os.environ.get('PYTHONPATH')
        os.environ['PYTHONPATH'] = os.pathsep.join(
            [hidden_downstream_dir(), ROOT, HERE] + ([old] if old else []))
        try:
            forkserver.ensure_running()
        finally:
            if old is None:
                os.environ.pop('PYTHONPATH')
            else:
                os.environ['PYTHONPATH'] = old
    proc = _CONTEXT.Process(target=_train_main, args=(list(argv), kill))
    proc.start()
    proc.join(timeout)
    if proc.is_alive():
        proc.kill()
        proc.join()
        raise TimeoutError(f'tools/train.py {argv} ran over {timeout} s')
    return proc.exitcode


def state_tensors(ckpt):
    """Every tensor of a checkpoint that defines the training state."""
    out = {f'model.{k}': v for k, v in ckpt['state_dict'].items()}
    for pid, state in ckpt['optimizer']['state'].items():
        for k, v in state.items():
            out[f'optim.{pid}.{k}'] = torch.as_tensor(v)
    return out
