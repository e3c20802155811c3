"""Checkpoint loading that stays safe under torch >= 2.6.

A ``.pth`` file is a pickle. Unpickling an untrusted file runs arbitrary
code (a pickled object can name any callable to rebuild itself), so
torch >= 2.6 loads with ``weights_only=True`` by default: only tensors,
containers and a few primitive types are accepted.

mmengine 0.10.7 writes its training checkpoints with Python objects inside
(``message_hub`` holds ``HistoryBuffer`` objects with numpy arrays), so its
own ``Runner.resume`` fails on them under torch >= 2.6 with
``Unsupported global: GLOBAL mmengine.logging.history_buffer.HistoryBuffer``
and allow-listing cannot reach the numpy reconstruction chain.

The policy here:

* Resuming (:class:`SafeResumeRunner`, ``resume=True``) reads the
  checkpoint with full pickle. Resume targets the user's own run (the
  latest checkpoint of the work dir, or a file the user names explicitly
  with ``--resume``), i.e. a file this code wrote.
* ``load_from`` of a checkpoint the user marks as their own
  (``load_from_trusted=True`` in the config, ``tools/test.py
  --trusted-checkpoint``) is read the same way.
* Everything else (``load_from`` without resume, ``init_cfg=dict(
  type='Pretrained')``, model converters through
  :func:`load_state_dict_safely`) keeps ``weights_only=True``: weights
  from elsewhere must be plain state dicts.
"""
import io
import os.path as osp
import pickle
from typing import Any, Callable, Optional, Union

import torch
from mmengine.fileio import get as fileio_get
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

MapLocation = Union[str, torch.device, Callable, None]

_PICKLE_HINT = (
    'Files from elsewhere must be plain state dicts (tensors in nested '
    'dicts/lists): loading arbitrary pickled objects can execute code. If '
    'this file is a checkpoint written by your own training run, resume '
    'from it (`--resume`), evaluate it with `tools/test.py '
    '--trusted-checkpoint` (config key `load_from_trusted=True` with '
    "runner_type='SafeResumeRunner'), or extract its weights once with "
    "`torch.save(torch.load(path, weights_only=False)['state_dict'], "
    "new_path)`.")


def load_state_dict_safely(path: str,
                           map_location: MapLocation = 'cpu') -> Any:
    """Load a checkpoint of weights with ``weights_only=True``.

    Meant for files that do not come from the user's own runs (released
    weights, converter inputs). Unpickling such a file with full pickle
    would run whatever code it names; ``weights_only=True`` admits only
    tensors, containers and primitive values.

    Args:
        path (str): Path of the ``.pth`` file.
        map_location (str | torch.device | callable, optional): As in
            :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: The loaded object, typically a dict of tensors.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file holds pickled objects other than tensors,
            containers and primitives.
    """
    path = osp.expanduser(str(path))
    if not osp.isfile(path):
        raise FileNotFoundError(f'Checkpoint file {path} does not exist.')
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        first_line = str(e).strip().splitlines()[0] if str(e) else ''
        raise ValueError(
            f'Checkpoint {path} contains pickled Python objects that are not '
            f'tensors ({first_line}). {_PICKLE_HINT}') from e


def load_trusted_checkpoint(filename: str,
                            map_location: MapLocation = 'cpu') -> Any:
    """Load a checkpoint with full pickle (``weights_only=False``).

    Only for checkpoints written by the user's own runs (resume): full
    pickle executes whatever the file names, so never call this on files
    from elsewhere; use :func:`load_state_dict_safely` for those.

    Args:
        filename (str): Local path, or any URI mmengine's file backends
            read (``s3://``, ``http(s)://``, ...).
        map_location (str | torch.device | callable, optional): As in
            :func:`torch.load`. Defaults to ``'cpu'``.

    Returns:
        Any: The loaded checkpoint.
    """
    if '://' not in filename:
        path = osp.expanduser(filename)
        if not osp.isfile(path):
            raise FileNotFoundError(f'Checkpoint file {path} does not exist.')
        return torch.load(path, map_location=map_location, weights_only=False)
    with io.BytesIO(fileio_get(filename)) as buffer:
        return torch.load(
            buffer, map_location=map_location, weights_only=False)


@RUNNERS.register_module()
class SafeResumeRunner(Runner):
    """Runner that resumes its own checkpoints under torch >= 2.6.

    Identical to :class:`mmengine.runner.Runner` except that
    :meth:`resume` reads the checkpoint with full pickle (mmengine's own
    checkpoints hold Python objects), while :meth:`load_checkpoint` called
    for ``load_from`` without ``resume`` keeps torch's ``weights_only=True``
    and explains the failure if the file holds pickled objects. Select it
    with ``runner_type = 'SafeResumeRunner'`` in a config.

    Full pickle is used only inside :meth:`resume`, i.e. for the latest
    checkpoint of the work dir (``resume=True``) or the file named by
    ``--resume PATH``: files the user's own runs wrote. A config may also
    set ``load_from_trusted = True`` to read ``load_from`` that way (what
    ``tools/test.py --trusted-checkpoint`` does to evaluate one's own
    training checkpoint); it defaults to False.
    """

    _trusted_load: bool = False

    def resume(self,
               filename: str,
               resume_optimizer: bool = True,
               resume_param_scheduler: bool = True,
               map_location: MapLocation = 'default') -> None:
        """Resume training from one of this project's own checkpoints.

        Args:
            filename (str): Checkpoint written by a previous run.
            resume_optimizer (bool): Resume the optimizer state.
                Defaults to True.
            resume_param_scheduler (bool): Resume the parameter schedulers.
                Defaults to True.
            map_location (str | callable): As in :meth:`Runner.resume`.
                Defaults to ``'default'`` (the current device).
        """
        self.logger.info(f'Resuming from {filename} with full pickle '
                         '(a checkpoint of your own run).')
        self._trusted_load = True
        try:
            super().resume(
                filename,
                resume_optimizer=resume_optimizer,
                resume_param_scheduler=resume_param_scheduler,
                map_location=map_location)
        finally:
            self._trusted_load = False

    def load_checkpoint(self,
                        filename: str,
                        map_location: MapLocation = 'cpu',
                        strict: bool = False,
                        revise_keys: Optional[list] = None) -> dict:
        """Load model weights from ``filename``.

        Outside :meth:`resume` this is mmengine's loader, i.e. torch's
        ``weights_only=True`` default; a file with pickled objects gives a
        :class:`ValueError` naming it. Inside :meth:`resume`, or when the
        config sets ``load_from_trusted=True``, the file is read with
        :func:`load_trusted_checkpoint`.

        Args:
            filename (str): Checkpoint path or URI.
            map_location (str | callable): As in :func:`torch.load`.
                Defaults to ``'cpu'``.
            strict (bool): Require matching keys. Defaults to False.
            revise_keys (list, optional): ``(pattern, replacement)`` pairs
                applied to the keys. Defaults to None, i.e. stripping a
                leading ``module.``.

        Returns:
            dict: The loaded checkpoint.
        """
        if revise_keys is None:
            revise_keys = [(r'^module.', '')]
        trusted = self._trusted_load or bool(
            self.cfg.get('load_from_trusted', False))
        if not trusted:
            try:
                return super().load_checkpoint(
                    filename,
                    map_location=map_location,
                    strict=strict,
                    revise_keys=revise_keys)
            except pickle.UnpicklingError as e:
                raise ValueError(
                    f'Checkpoint {filename} (load_from) contains pickled '
                    f'Python objects that are not tensors. {_PICKLE_HINT}'
                ) from e

        checkpoint = load_trusted_checkpoint(filename, map_location)
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename} (full pickle)')
        return checkpoint
