"""Online kNN accuracy and collapse monitor for self-supervised training."""
import copy
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dist import (broadcast_object_list, collect_results,
                           get_world_size, is_main_process)
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpretrain.registry import HOOKS
from torch import Tensor
from torch.utils.data import DataLoader

from ...evaluation.features import POOL_TYPES, extract_features
from ...evaluation.knn import collapse_signal, is_positive_int, knn_accuracy

DATA_BATCH = Optional[Union[dict, tuple, list]]


def gather_features(feats: Tensor, labels: Tensor,
                    size: int) -> Optional[Tuple[Tensor, Tensor]]:
    """Collect per-rank features in dataset order on the main process.

    Each rank holds the rows its ``DefaultSampler`` shard gave it (rank
    ``r`` gets samples ``r, r + W, ...``, padded to equal length).
    :func:`mmengine.dist.collect_results` interleaves the parts back and
    drops the padding. Without a process group the input is returned.

    Args:
        feats (Tensor): Local features ``(n, C)``.
        labels (Tensor): Local labels ``(n, )``.
        size (int): Length of the whole dataset.

    Returns:
        tuple[Tensor, Tensor] | None: All features and labels on the main
        process, None on the others.
    """
    if get_world_size() == 1:
        return feats[:size], labels[:size]
    rows = list(zip(feats.numpy(), labels.numpy()))
    rows = collect_results(rows, size, device='cpu')
    if rows is None:
        return None
    return (torch.from_numpy(np.stack([r[0] for r in rows])),
            torch.from_numpy(np.stack([r[1] for r in rows])))


@HOOKS.register_module()
class KNNMonitorHook(Hook):
    """Weighted kNN accuracy and a collapse signal during pretraining.

    At every evaluation the backbone (``runner.model.backbone``, unwrapped
    from DDP) encodes a labelled train subset (the memory bank) and the test
    split in eval mode under ``no_grad``, with the model's
    ``data_preprocessor`` (single-view inputs; of multi-view inputs the first
    view). It then computes :func:`~mmsiameseim.evaluation.knn_accuracy`
    and :func:`~mmsiameseim.evaluation.collapse_signal` of the memory bank
    and logs ``knn/top1``, ``knn/top5``, ``collapse/feat_std`` and
    ``collapse/feat_std_ratio`` to the message hub, to the visualizer
    (hence TensorBoard / W&B backends) and to the logger.

    Distributed training: both dataloaders use a non-shuffling
    ``DefaultSampler`` by default, so every rank encodes its own shard; the
    shards are gathered in dataset order on rank 0 with
    :func:`mmengine.dist.collect_results` (through a temporary directory),
    rank 0 runs the kNN and logs, and the result is broadcast so that
    ``last_result`` / ``history`` agree on all ranks.

    The step of an entry is the number of finished epochs (``by_epoch``) or
    iterations: 0 for the ``before_train`` evaluation of a fresh run.

    Args:
        train_dataloader (dict | DataLoader): Labelled memory-bank loader,
            built with :meth:`Runner.build_dataloader`. ``sampler`` defaults
            to ``DefaultSampler(shuffle=False)`` and ``collate_fn`` to
            ``default_collate``.
        val_dataloader (dict | DataLoader): Test-split loader, same rules.
        interval (int): Evaluate every ``interval`` epochs (or iterations
            if ``by_epoch=False``); the last epoch / iteration is always
            evaluated. Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs. Defaults to True.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        pool (str): ``'avg'``, ``'cls'`` or ``'both'`` token pooling.
            Defaults to ``'avg'``.
        before_train (bool): Also evaluate before training starts, to see
            the rise from initialisation. Defaults to True.
        collapse_signal (bool): Also log the feature-std collapse signal.
            Defaults to True.
        num_classes (int, optional): Number of classes. Defaults to None,
            i.e. inferred from the labels.
        chunk_size (int): Test rows per kNN chunk. Defaults to 1024.
        prefix (str): Prefix of the kNN keys. Defaults to ``'knn'``.
    """

    priority = 'LOW'

    def __init__(self,
                 train_dataloader: Union[dict, DataLoader],
                 val_dataloader: Union[dict, DataLoader],
                 interval: int = 1,
                 by_epoch: bool = True,
                 k: int = 20,
                 temperature: float = 0.07,
                 pool: str = 'avg',
                 before_train: bool = True,
                 collapse_signal: bool = True,
                 num_classes: Optional[int] = None,
                 chunk_size: int = 1024,
                 prefix: str = 'knn') -> None:
        for name, loader in (('train_dataloader', train_dataloader),
                             ('val_dataloader', val_dataloader)):
            if isinstance(loader, dict):
                if 'dataset' not in loader:
                    raise ValueError(f"{name} needs a 'dataset' key")
            elif not isinstance(loader, DataLoader):
                raise TypeError(f'{name} must be a dict config or a '
                                f'DataLoader, got {type(loader).__name__}')
        if not is_positive_int(interval):
            raise ValueError(f'interval must be a positive int, got '
                             f'{interval!r}')
        if not is_positive_int(k):
            raise ValueError(f'k must be a positive int, got {k!r}')
        if not temperature > 0:
            raise ValueError(f'temperature must be > 0, got {temperature!r}')
        if pool not in POOL_TYPES:
            raise ValueError(f'pool must be one of {POOL_TYPES}, got '
                             f'{pool!r}')
        self._loader_cfgs = dict(
            train=self._with_defaults(train_dataloader),
            val=self._with_defaults(val_dataloader))
        self._loaders: Dict[str, DataLoader] = {}
        self.interval = interval
        self.by_epoch = by_epoch
        self.k = k
        self.temperature = temperature
        self.pool = pool
        self.eval_before_train = before_train
        self.with_collapse = collapse_signal
        self.num_classes = num_classes
        self.chunk_size = chunk_size
        self.prefix = prefix
        self.last_result: Dict[str, float] = {}
        self.history: List[Tuple[int, Dict[str, float]]] = []

    @staticmethod
    def _with_defaults(
            loader: Union[dict, DataLoader]) -> Union[dict, DataLoader]:
        if isinstance(loader, DataLoader):
            return loader
        loader = copy.deepcopy(loader)
        loader.setdefault('sampler',
                          dict(type='DefaultSampler', shuffle=False))
        loader.setdefault('collate_fn', dict(type='default_collate'))
        return loader

    def _loader(self, runner, name: str) -> DataLoader:
        if name not in self._loaders:
            self._loaders[name] = runner.build_dataloader(
                self._loader_cfgs[name], seed=runner.seed)
        return self._loaders[name]

    def before_train(self, runner) -> None:
        """Evaluate the initial model."""
        if self.eval_before_train:
            step = runner.epoch if self.by_epoch else runner.iter
            self.evaluate(runner, step)

    def after_train_epoch(self, runner) -> None:
        """Evaluate every ``interval`` epochs and after the last one."""
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or \
                self.is_last_train_epoch(runner):
            self.evaluate(runner, runner.epoch + 1)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Evaluate every ``interval`` iterations if not ``by_epoch``."""
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval) or \
                self.is_last_train_iter(runner):
            self.evaluate(runner, runner.iter + 1)

    def _features(self, runner, name: str,
                  model) -> Optional[Tuple[Tensor, Tensor]]:
        loader = self._loader(runner, name)
        feats, labels = extract_features(model, loader, pool=self.pool)
        return gather_features(feats, labels, len(loader.dataset))

    def evaluate(self, runner, step: int) -> Dict[str, float]:
        """Extract features, run the kNN, log and record the result.

        Args:
            runner (Runner): The runner.
            step (int): Epoch or iteration count used as the logging step.

        Returns:
            dict: The result (the same on all ranks).
        """
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if not hasattr(model, 'backbone'):
            raise AttributeError('KNNMonitorHook needs runner.model.backbone')
        bank = self._features(runner, 'train', model)
        query = self._features(runner, 'val', model)
        result = None
        if is_main_process():
            device = next(model.backbone.parameters(), torch.empty(0)).device
            result = knn_accuracy(
                bank[0].to(device),
                bank[1],
                query[0],
                query[1],
                num_classes=self.num_classes,
                k=self.k,
                temperature=self.temperature,
                chunk_size=self.chunk_size)
            result = {f'{self.prefix}/{key}': v for key, v in result.items()}
            if self.with_collapse:
                signal = collapse_signal(bank[0])
                result.update({
                    f'collapse/{key}': v
                    for key, v in signal.items()
                })
        if get_world_size() > 1:
            holder = [result]
            broadcast_object_list(holder)
            result = holder[0]
        self.last_result = dict(result)
        self.history.append((step, dict(result)))
        if is_main_process():
            self._log(runner, step, result)
        return result

    def _log(self, runner, step: int, result: Dict[str, float]) -> None:
        for key, value in result.items():
            runner.message_hub.update_scalar(key, value)
        runner.visualizer.add_scalars(result, step=step)
        unit = 'epoch' if self.by_epoch else 'iter'
        text = ', '.join(f'{key}: {value:.4f}'
                         for key, value in result.items())
        runner.logger.info(f'kNN monitor ({unit} {step}, k={self.k}, '
                           f'T={self.temperature}, pool={self.pool}): '
                           f'{text}')
