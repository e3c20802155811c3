"""Non-finite losses and skipped optimizer steps during pretraining."""
import math
from typing import List, Optional

import torch
from mmengine.hooks import Hook
from mmengine.optim import OptimWrapperDict
from mmpretrain.registry import HOOKS

from ...arg_checks import check_int
from ..runner import unwrap_model

CKPT_KEY = 'numerics_guard'


@HOOKS.register_module()
class NumericsGuardHook(Hook):
    """Skip non-finite steps, keep them out of the EMA, stop after N
    (docs/operations.md §4); the EMA gate is saved in checkpoints.

    Args:
        max_consecutive (int): Non-finite losses in a row that stop the run.
            Defaults to 3.
        skip_nonfinite_steps (bool): Drop the gradients of non-finite steps
            when no loss scaler does it. Defaults to True.
    """

    # after RuntimeInfoHook (VERY_HIGH), before CheckpointHook (VERY_LOW)
    priority = 'ABOVE_NORMAL'

    def __init__(self,
                 max_consecutive: int = 3,
                 skip_nonfinite_steps: bool = True) -> None:
        check_int(max_consecutive, 'NumericsGuardHook: `max_consecutive`')
        self.max_consecutive = max_consecutive
        self.skip_nonfinite_steps = skip_nonfinite_steps
        self._handles: List = []
        self._wrappers: List = []
        self._stepped = None
        self._dropped = False
        self._streak = 0
        self._first_bad: Optional[int] = None

    def before_train(self, runner) -> None:
        """Attach step hooks to every optimizer of the run."""
        wrapper = runner.optim_wrapper
        self._wrappers = (
            list(wrapper.optim_wrappers.values()) if isinstance(
                wrapper, OptimWrapperDict) else [wrapper])
        for w in self._wrappers:
            scaled = getattr(w, 'loss_scaler', None) is not None
            if self.skip_nonfinite_steps and not scaled:
                self._handles.append(
                    w.optimizer.register_step_pre_hook(
                        self._make_pre_hook(w, runner)))
            self._handles.append(
                w.optimizer.register_step_post_hook(self._post_step))

    def after_train(self, runner) -> None:
        """Detach the step hooks."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _make_pre_hook(self, wrapper, runner):

        def pre_hook(optimizer, args, kwargs):
            params = [
                p for group in optimizer.param_groups for p in group['params']
                if p.grad is not None
            ]
            if (wrapper.clip_grad_kwargs
                    and getattr(wrapper, 'grad_name', None) == 'grad_norm'):
                # OptimWrapper._clip_grad logged this step's norm just now
                norm = runner.message_hub.get_scalar(
                    'train/grad_norm').current()
            else:
                norm = float(
                    torch.linalg.vector_norm(
                        torch.stack([
                            torch.linalg.vector_norm(p.grad.float())
                            for p in params
                        ]))) if params else 0.
            if not math.isfinite(norm):
                for p in params:
                    p.grad = None  # the optimizer skips parameters without
                self._dropped = True

        return pre_hook

    def _post_step(self, optimizer, args, kwargs) -> None:
        # a fused optimizer is always called by the loss scaler, which
        # hands it ``found_inf`` as an attribute (torch >= 2.1) or kwarg
        found_inf = getattr(optimizer, 'found_inf', kwargs.get('found_inf'))
        if self._dropped:
            self._stepped = False
        elif isinstance(found_inf, torch.Tensor):
            self._stepped = found_inf.reshape(()) == 0  # stays on device
        else:
            self._stepped = True

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch=None) -> None:
        """No optimizer step has run in this iteration yet."""
        self._stepped = False
        self._dropped = False

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Gate the next EMA update; count and act on non-finite losses."""
        model = unwrap_model(runner.model)
        if hasattr(model, 'set_ema_gate'):
            model.set_ema_gate(self._stepped)
        loss = (outputs or {}).get('loss')
        if loss is None:
            return
        if isinstance(loss, torch.Tensor):
            loss = loss.detach()
        value = float(loss)
        if math.isfinite(value):
            self._streak, self._first_bad = 0, None
            return
        self._streak += 1
        iteration = runner.iter + 1
        if self._first_bad is None:
            self._first_bad = iteration
        last_ckpt = runner.message_hub.get_info('last_ckpt')
        where = (f'The last checkpoint, {last_ckpt}, was written before '
                 'and is left as it is; resume from it with `--resume`'
                 if last_ckpt else 'No checkpoint was written yet')
        bad = [
            name for name, p in model.named_parameters()
            if not bool(torch.isfinite(p).all())
        ]
        if bad:
            raise RuntimeError(
                f'NumericsGuardHook: the loss was {value} at iteration '
                f'{iteration} and the weights are no longer finite '
                f'({len(bad)} tensors, e.g. {bad[0]}); stopping before any '
                f'checkpoint is written from them. {where} (lower the '
                'learning rate or train in fp32/fp16 with a loss scaler).')
        if self._streak >= self.max_consecutive:
            raise RuntimeError(
                f'NumericsGuardHook: the loss was NaN/inf for '
                f'{self._streak} consecutive iterations '
                f'({self._first_bad}-{iteration}; max_consecutive='
                f'{self.max_consecutive}); every such step was skipped, so '
                f'the weights are intact, but training makes no progress. '
                f'{where}.')
        runner.logger.warning(
            f'NumericsGuardHook: loss {value} at iteration {iteration} '
            f'({self._streak}/{self.max_consecutive} in a row); the '
            'optimizer step was skipped and the EMA target will not count '
            'it.')

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Save the pending EMA gate."""
        gate = getattr(unwrap_model(runner.model), 'ema_gate', None)
        if gate is not None:
            checkpoint[CKPT_KEY] = dict(ema_gate=bool(gate))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Restore the EMA gate when resuming."""
        state = checkpoint.get(CKPT_KEY)
        model = unwrap_model(runner.model)
        if (state and getattr(runner, '_resume', False)
                and hasattr(model, 'set_ema_gate')):
            model.set_ema_gate(state['ema_gate'])
