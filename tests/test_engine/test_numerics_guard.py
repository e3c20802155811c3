"""fp16 overflow steps, NaN/inf losses and the EMA target.

* fp16: mmengine's ``AmpOptimWrapper`` (its own step logic) with torch's
  CPU ``GradScaler``; an inf gradient forced into one step. The step must
  leave the weights as they were, and the EMA target must end up exactly
  where a run that never saw that batch puts it (the EMA update of step
  ``k`` runs inside the forward, before the optimizer step, and pulls the
  target towards the weights of step ``k - 1``; after a skipped step the
  next pull would count the same weights twice).
* fp32: NaN losses from iteration 3 on, through mmengine's Runner, with an
  iteration checkpoint after every iteration and ``max_keep_ckpts=1``
  (mmengine deletes the old file before writing the new one): the
  non-finite steps are dropped, the run stops after ``max_consecutive``
  of them, and the last checkpoint on disk is a good one.
"""
import copy
import itertools
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import MessageHub, MMLogger
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmengine.optim.optimizer import amp_optimizer_wrapper
from mmpretrain.registry import HOOKS
from test_models.siameseim_tiny import build_tiny, make_batch
from train_runs import write_tiny_config

from mmsiameseim.checkpoints import read_checkpoint
from mmsiameseim.engine import NumericsGuardHook, SafeResumeRunner

_RUNS = itertools.count()


@pytest.fixture
def one_thread():
    """Tiny models on a shared 2-core machine: no OpenMP spinning."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class _Runner:
    """What the hook reads from mmengine's Runner."""

    def __init__(self, model, optim_wrapper):
        self.model = model
        self.optim_wrapper = optim_wrapper
        self.message_hub = MessageHub.get_current_instance()
        self.logger = MMLogger.get_current_instance()
        self.iter = 0
        self.epoch = 0
        self._resume = False


def _amp_wrapper(model, monkeypatch, fused=False):
    # AmpOptimWrapper refuses to be built without CUDA; its step logic
    # (unscale, clip, scaler.step, scaler.update) is what is tested, with
    # torch's CPU loss scaler in place of the CUDA one.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = AmpOptimWrapper(
        optimizer=torch.optim.AdamW(params, lr=1e-3, fused=fused),
        clip_grad=dict(max_norm=1.0))
    wrapper.loss_scaler = torch.amp.GradScaler('cpu', init_scale=2.**12)
    return wrapper


def _train(model0, batches, monkeypatch, overflow_at=None, guard=True,
           fused=False):
    """Steps through ``train_step``: per-step losses, states, scales, gates."""
    model = copy.deepcopy(model0)
    wrapper = _amp_wrapper(model, monkeypatch, fused)
    runner = _Runner(model, wrapper)
    hook = NumericsGuardHook() if guard else None
    if hook:
        hook.before_train(runner)
    losses, states, scales, gates = [], [], [], []
    for step, (views, samples) in enumerate(batches):
        if hook:
            hook.before_train_iter(runner, step)
        handle = None
        if step == overflow_at:
            weight = model.head.out_proj.weight
            handle = weight.register_hook(lambda g: g * math.inf)
        log_vars = model.train_step(
            dict(inputs=views, data_samples=samples), wrapper)
        if handle:
            handle.remove()
        if hook:
            hook.after_train_iter(runner, step, outputs=log_vars)
            gates.append(model.ema_gate)
        runner.iter += 1
        losses.append(float(log_vars['loss'].detach()))
        states.append({
            k: v.detach().clone()
            for k, v in model.named_parameters()
        })
        scales.append(wrapper.loss_scaler.get_scale())
    if hook:
        hook.after_train(runner)
    return losses, states, scales, gates


@pytest.mark.parametrize('fused', [False, True], ids=['foreach', 'fused'])
def test_fp16_overflow_step_touches_neither_weights_nor_ema(
        monkeypatch, one_thread, fused):
    """``fused``: the scaler calls the optimizer with ``found_inf`` even on
    an overflow; the gate then stays a device tensor."""
    MessageHub.get_current_instance().update_info('max_iters', 100)
    torch.manual_seed(0)
    model0 = build_tiny()
    b = [make_batch(batch=4, seed=s) for s in range(4)]

    losses, states, scales, gates = _train(model0, b, monkeypatch,
                                           overflow_at=2, fused=fused)
    online = [k for k in states[0] if not k.startswith('target_encoder.')]
    ema = [k for k in states[0] if k.startswith('target_encoder.')]
    assert online and ema
    # the overflow step: scale halved, no online weight changed, the next
    # EMA update gated (a device tensor from a fused optimizer)
    if fused:
        assert all(isinstance(g, torch.Tensor) for g in gates)
        assert [bool(g) for g in gates] == [True, True, False, True]
    else:
        assert gates == [True, True, False, True]
    assert scales[2] == scales[1] / 2
    for name in online:
        assert torch.equal(states[2][name], states[1][name]), name
    # a run that never saw batch 2, after the same optimizer steps
    ref_losses, ref_states, _, _ = _train(
        model0, [b[0], b[1], b[3]], monkeypatch, fused=fused)
    # the EMA update inside step 2 pulled the target towards the weights
    # of step 1 (as the reference run's step 2 does, before its forward);
    # step 3 saw unchanged weights and did not pull again
    for name in ema:
        assert torch.equal(states[2][name], ref_states[2][name]), name
        assert torch.equal(states[3][name], states[2][name]), name
    # and the step after the overflow is the reference run's step 2
    assert losses[3] == ref_losses[2]
    for name, value in states[3].items():
        assert torch.equal(value, ref_states[2][name]), name

    # without the guard, the target is pulled twice towards the same
    # weights and drifts from the run that skipped nothing
    _, unguarded, _, _ = _train(
        model0, b, monkeypatch, overflow_at=2, guard=False, fused=fused)
    assert not all(
        torch.equal(unguarded[3][k], ref_states[2][k]) for k in ema)


def test_poisoned_weights_stop_at_once(monkeypatch, one_thread):
    """Without step dropping, the first NaN reaches the weights: stop."""
    MessageHub.get_current_instance().update_info('max_iters', 100)
    torch.manual_seed(0)
    model = build_tiny()
    params = [p for p in model.parameters() if p.requires_grad]
    wrapper = OptimWrapper(optimizer=torch.optim.AdamW(params, lr=1e-3))
    runner = _Runner(model, wrapper)
    hook = NumericsGuardHook(max_consecutive=3, skip_nonfinite_steps=False)
    hook.before_train(runner)
    model.head.loss_module.loss_weight = math.nan
    hook.before_train_iter(runner, 0)
    views, samples = make_batch(batch=4)
    log_vars = model.train_step(dict(inputs=views, data_samples=samples),
                                wrapper)
    with pytest.raises(RuntimeError,
                       match='weights are no longer finite'):
        hook.after_train_iter(runner, 0, outputs=log_vars)


def test_ema_gate_survives_a_checkpoint(one_thread):
    model = build_tiny()
    runner = _Runner(model, None)
    hook = NumericsGuardHook()
    model.set_ema_gate(False)
    checkpoint = {}
    hook.before_save_checkpoint(runner, checkpoint)
    assert checkpoint['numerics_guard'] == dict(ema_gate=False)
    model.set_ema_gate(None)
    runner._resume = True
    hook.after_load_checkpoint(runner, checkpoint)
    assert model.ema_gate is False


@HOOKS.register_module(name='NaNFromIterProbeHook', force=True)
class NaNFromIterProbeHook(Hook):
    """Makes the loss NaN from iteration ``start`` on (loss_weight = NaN)."""

    priority = 'HIGHEST'

    def __init__(self, start):
        self.start = start

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.start:
            runner.model.head.loss_module.loss_weight = math.nan


def test_nan_losses_stop_the_run_and_keep_the_last_good_checkpoint(
        tmp_path, one_thread):
    cfg = Config.fromfile(write_tiny_config(tmp_path / 'tiny.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'nan_{next(_RUNS)}'
    cfg.custom_hooks = [
        dict(type='NumericsGuardHook', max_consecutive=2),
        dict(type='CheckpointHook', by_epoch=False, interval=1,
             max_keep_ckpts=1),
        dict(type='NaNFromIterProbeHook', start=3),
    ]
    runner = SafeResumeRunner.from_cfg(cfg)
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    assert 'NaN/inf for 2 consecutive iterations (3-4' in message
    assert 'iter_3.pth' in message and 'weights are intact' in message

    with open(osp.join(cfg.work_dir, 'last_checkpoint')) as f:
        last = f.read().strip()
    assert osp.basename(last) == 'iter_3.pth' and osp.isfile(last)
    assert not osp.exists(osp.join(cfg.work_dir, 'iter_4.pth'))
    saved = read_checkpoint(last)['state_dict']
    now = runner.model.state_dict()
    # steps 3 and 4 were dropped: the file holds the weights of step 2,
    # which are also the weights in memory now, all finite
    for name, value in saved.items():
        if value.is_floating_point():
            assert torch.isfinite(value).all(), name
        if not name.endswith(('running_mean', 'running_var',
                              'num_batches_tracked', 'steps')):
            assert torch.equal(value, now[name]), name
