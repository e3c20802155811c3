"""The GPU study's hook: step timing, loader wait and the deadline."""
import time

from mmengine.hooks import Hook


class StudyTimerHook(Hook):
    """Times the steps and stops a run that would overrun its deadline.

    * Step time: from ``before_train_iter`` to ``after_train_iter`` (this
      hook runs last); loader wait: from the end of one step to the start
      of the next within an epoch. The first ``skip_iters`` steps (worker
      start-up, cuDNN autotuning) are not counted.
    * Deadline: after each epoch, if the mean epoch time so far says the
      next epoch would end later than ``deadline_s`` after the start of
      training, training stops (``truncated``); the checkpoint of the epoch
      just finished is the last one.

    Args:
        deadline_s (float): Seconds from ``before_train``.
        skip_iters (int): Steps not timed. Defaults to 10.
    """

    priority = 'LOWEST'

    def __init__(self, deadline_s: float, skip_iters: int = 10) -> None:
        self.deadline_s = deadline_s
        self.skip_iters = skip_iters
        self.truncated = False
        self.step_s = self.wait_s = 0.
        self.timed = 0
        self._start = self._iter_start = None
        self._last_end = None
        self._seen = 0

    def before_train(self, runner) -> None:
        self._start = time.perf_counter()

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        now = time.perf_counter()
        if self._last_end is not None and self._seen >= self.skip_iters:
            self.wait_s += now - self._last_end
        self._iter_start = now

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None) -> None:
        now = time.perf_counter()
        if self._seen >= self.skip_iters:
            self.step_s += now - self._iter_start
            self.timed += 1
        self._seen += 1
        self._last_end = now

    def after_train_epoch(self, runner) -> None:
        self._last_end = None  # epoch-end hooks are not loader wait
        done = runner.epoch + 1  # the loop increments after the hooks
        elapsed = time.perf_counter() - self._start
        if done < runner.max_epochs and \
                elapsed + elapsed / done > self.deadline_s:
            runner.train_loop.stop_training = True
            self.truncated = True

    def summary(self, batch: int) -> dict:
        """``timed_steps``, ``img_per_s``, ``loader_wait_fraction`` and
        ``truncated`` of the run so far."""
        busy = self.step_s + self.wait_s
        return dict(
            timed_steps=self.timed,
            img_per_s=round(batch * self.timed / busy, 1)
            if busy > 0 else None,
            loader_wait_fraction=round(self.wait_s / busy, 4)
            if busy > 0 else None,
            truncated=self.truncated)
