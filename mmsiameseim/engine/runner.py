"""``SafeResumeRunner``: mmengine's Runner with trusted resume and exact loops.

It reads every checkpoint through :func:`mmsiameseim.checkpoints.
read_checkpoint`, records the checkpoints it writes in the run's manifest,
and saves / restores the state of a resumable train loop.
"""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import BaseLoop, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..checkpoints.reading import (MapLocation, read_checkpoint,
                                   record_run_checkpoint)
from ..config_scope import collate_fn_without_scope


@RUNNERS.register_module()
class SafeResumeRunner(Runner):
    """mmengine's Runner, reading checkpoints under the package's trust policy.

    * :meth:`save_checkpoint` records every checkpoint it writes in the
      manifest next to it, so the run's own files can later be read with
      full pickle (resume, evaluation, converters) and nothing else can.
    * :meth:`resume` and :meth:`load_checkpoint` read with
      :func:`read_checkpoint`: full pickle for the run's own files or when
      the config sets ``load_from_trusted=True``; ``weights_only=True``
      otherwise, which refuses pickled code with a message naming the file.

    * A train loop with ``state_dict()`` / ``load_state_dict()`` (e.g.
      :class:`~mmsiameseim.engine.ResumableEpochBasedTrainLoop`: sampler
      position and seed, RNG states) has its state saved in every
      checkpoint (``meta['train_loop']``) and restored by :meth:`resume`,
      which makes a resumed run continue exactly (docs/operations.md).

    Select it with ``runner_type = 'SafeResumeRunner'`` in a config
    (``tools/train.py`` uses it by default).
    """

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        file_client_args: Optional[dict] = None,
                        save_optimizer: bool = True,
                        save_param_scheduler: bool = True,
                        meta: Optional[dict] = None,
                        by_epoch: bool = True,
                        backend_args: Optional[dict] = None) -> None:
        """Save a checkpoint (mmengine) and record it in the manifest.

        Called on every rank (mmengine's method writes on rank 0 only); the
        train loop's state is gathered from all ranks here.

        Args:
            out_dir (str): Folder of the checkpoint.
            filename (str): File name.
            file_client_args (dict, optional): Deprecated mmengine argument.
                Defaults to None.
            save_optimizer (bool): Save the optimizer state. Defaults to
                True.
            save_param_scheduler (bool): Save the schedulers' state.
                Defaults to True.
            meta (dict, optional): Extra meta information. Defaults to None.
            by_epoch (bool): An epoch (True) or iteration checkpoint.
                Defaults to True.
            backend_args (dict, optional): File backend arguments. Defaults
                to None.
        """
        loop = self._train_loop
        if isinstance(loop, BaseLoop) and hasattr(loop, 'state_dict'):
            meta = dict(meta or {})
            meta['train_loop'] = loop.state_dict()
        super().save_checkpoint(
            out_dir,
            filename,
            file_client_args,
            save_optimizer=save_optimizer,
            save_param_scheduler=save_param_scheduler,
            meta=meta,
            by_epoch=by_epoch,
            backend_args=backend_args)
        path = osp.join(out_dir, filename)
        if is_main_process() and '://' not in path and osp.isfile(path):
            record_run_checkpoint(path)

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume, then the train loop's saved state.

        Args:
            filename (str): The checkpoint.
            *args: Passed to :meth:`mmengine.runner.Runner.resume`.
            **kwargs: Passed to :meth:`mmengine.runner.Runner.resume`.
        """
        self._loaded_meta = None
        super().resume(filename, *args, **kwargs)
        loop = self.train_loop
        if not hasattr(loop, 'load_state_dict'):
            return
        state = (self._loaded_meta or {}).get('train_loop')
        if state is None:
            self.logger.warning(
                f'{filename} holds no train loop state (written by another '
                'loop or runner): the sampler position and RNG states are '
                'not restored, so the resumed run is not an exact '
                'continuation.')
            return
        loop.load_state_dict(state)

    def load_checkpoint(self,
                        filename: str,
                        map_location: MapLocation = 'cpu',
                        strict: bool = False,
                        revise_keys: Optional[list] = None) -> dict:
        """Load model weights from ``filename`` (``load_from`` and resume).

        mmengine's :meth:`~mmengine.runner.Runner.resume` reads its file
        through this method too, so both follow the trust policy.

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
        trusted = bool(self.cfg.get('load_from_trusted', False))
        checkpoint = read_checkpoint(
            filename, trusted=trusted, map_location=map_location)
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        self._loaded_meta = meta if isinstance(meta, dict) else None
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        model = self.model.module if is_model_wrapper(
            self.model) else self.model
        checkpoint = _load_checkpoint_to_model(
            model, checkpoint, strict, revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        """Build a dataloader as mmengine's Runner does.

        mmengine 0.10.7 turns ``collate_fn=dict(type=..., **kwargs)`` into
        ``partial(fn, **kwargs)``, so the ``_scope_`` key it adds to every
        dict of a ``pkg::`` base reaches the function (``TypeError:
        default_collate() got an unexpected keyword argument '_scope_'``).
        The scope means nothing to a plain function and is dropped here.

        Args:
            dataloader (DataLoader | dict): As in
                :meth:`mmengine.runner.Runner.build_dataloader`.
            seed (int, optional): Random seed. Defaults to None.
            diff_rank_seed (bool): Different seeds per rank. Defaults to
                False.

        Returns:
            DataLoader: The built dataloader.
        """
        return Runner.build_dataloader(
            collate_fn_without_scope(dataloader),
            seed=seed,
            diff_rank_seed=diff_rank_seed)
