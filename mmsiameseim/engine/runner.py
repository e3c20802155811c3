"""``SafeResumeRunner``: mmengine's Runner with trusted resume and exact
loops (docs/checkpoints.md, docs/operations.md §1)."""
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.model import is_model_wrapper
from mmengine.registry import RUNNERS
from mmengine.runner import BaseLoop, Runner
from mmengine.runner.checkpoint import _load_checkpoint_to_model

from ..checkpoints.convert import unwrap_state_dict
from ..checkpoints.verify import refuse_other_shapes
from ..checkpoints.reading import (MapLocation, read_checkpoint,
                                   record_run_checkpoint)
from ..config_scope import collate_fn_without_scope


#: How to place a dataset a config reads, by its ``type``.
DATA_HINTS = {
    'FashionMNIST':
    'fetch it with `python tools/data/fetch_fashion_mnist.py DIR` (a clone) '
    'or `mim run mmsiameseim fetch_fashion_mnist DIR` (pip install), then '
    'run with --cfg-options train_dataloader.dataset.data_root=DIR',
}


def unwrap_model(model):
    """``model.module`` of a DDP-style wrapper, else ``model``."""
    return model.module if is_model_wrapper(model) else model


def innermost_dataset(dataset: dict) -> dict:
    """The dataset config inside wrappers (``dataset=dict(dataset=...)``)."""
    while isinstance(dataset, dict) and isinstance(
            dataset.get('dataset'), dict):
        dataset = dataset['dataset']
    return dataset


def data_error(loader: str, dataset: dict, error: Exception) -> ValueError:
    """A ``ValueError`` naming the ``loader``, the root its ``dataset``
    config read, the ``error`` building it raised, and what to do."""
    from ..cli import one_line
    inner = innermost_dataset(dataset)
    root = inner.get('data_root')
    where = f'data_root={root!r} ({osp.abspath(root)})' if root else \
        'no data_root'
    hint = DATA_HINTS.get(str(inner.get('type')).split('.')[-1],
                          'check its data_root')
    return ValueError(f'{loader}: cannot read the {inner.get("type")} '
                      f'dataset, {where}: {one_line(error)}; {hint}')


@RUNNERS.register_module()
class SafeResumeRunner(Runner):
    """mmengine's Runner, reading checkpoints under the package's trust policy.

    It records every checkpoint it writes in the manifest next to it, reads
    every one with :func:`read_checkpoint` (``load_from_trusted=True``
    vouches for ``load_from``) and saves / restores the train loop's state
    (``meta['train_loop']``); docs/checkpoints.md, docs/operations.md §1.
    """

    def save_checkpoint(self,
                        out_dir: str,
                        filename: str,
                        *args,
                        meta: Optional[dict] = None,
                        **kwargs) -> None:
        """mmengine's method (arguments as there), plus the train loop's
        state gathered from all ranks and the manifest record. Called on
        every rank."""
        loop = self._train_loop
        if isinstance(loop, BaseLoop) and hasattr(loop, 'state_dict'):
            meta = dict(meta or {})
            meta['train_loop'] = loop.state_dict()
        super().save_checkpoint(out_dir, filename, *args, meta=meta, **kwargs)
        path = osp.join(out_dir, filename)
        if is_main_process() and '://' not in path and osp.isfile(path):
            record_run_checkpoint(path)

    def resume(self, filename: str, *args, **kwargs) -> None:
        """mmengine's resume (arguments as there), then the loop's state."""
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
        """mmengine's method (arguments as there; resume reads through it
        too) under the trust policy; returns the loaded checkpoint. When the
        file must be this model's own (``resume``, ``load_from_exact=True``)
        tensors of other shapes stop the load (:func:`refuse_other_shapes`).
        """
        if revise_keys is None:
            revise_keys = [(r'^module.', '')]
        trusted = bool(self.cfg.get('load_from_trusted', False))
        checkpoint = read_checkpoint(
            filename, trusted=trusted, map_location=map_location)
        if self._resume or self.cfg.get('load_from_exact', False):
            refuse_other_shapes(filename, unwrap_state_dict(checkpoint),
                                unwrap_model(self.model).state_dict())
        meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
        self._loaded_meta = meta if isinstance(meta, dict) else None
        self.call_hook('after_load_checkpoint', checkpoint=checkpoint)
        checkpoint = _load_checkpoint_to_model(
            unwrap_model(self.model), checkpoint, strict,
            revise_keys=revise_keys)
        self._has_loaded = True
        self.logger.info(f'Load checkpoint from {filename}')
        return checkpoint

    @staticmethod
    def build_dataloader(dataloader, seed=None, diff_rank_seed=False):
        """mmengine's method (arguments as there), without the ``_scope_``
        that a ``pkg::`` base adds to ``collate_fn`` (mmengine 0.10.7 passes
        it to the function: docs/model_zoo.md)."""
        return Runner.build_dataloader(
            collate_fn_without_scope(dataloader),
            seed=seed,
            diff_rank_seed=diff_rank_seed)
