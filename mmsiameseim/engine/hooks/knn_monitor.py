"""Online kNN accuracy and collapse monitor for self-supervised training."""
import copy
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.dist import (broadcast_object_list, collect_results,
                           get_world_size, is_main_process)
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS
from torch import Tensor
from torch.utils.data import DataLoader

from ...arg_checks import check_choice, check_int, check_real
from ...evaluation.features import POOL_TYPES, extract_features
from ...evaluation.knn import collapse_signal, knn_accuracy
from ..runner import data_error, innermost_dataset, unwrap_model


def gather_features(feats: Tensor, labels: Tensor,
                    size: int) -> Optional[Tuple[Tensor, Tensor]]:
    """All ranks' features ``(n, C)`` and labels ``(n, )`` in dataset order
    (``size`` rows) on the main process (mmengine's ``collect_results``
    interleaves the ``DefaultSampler`` shards), None on the others."""
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

    The backbone encodes a labelled bank and the test split (each rank its
    shard); rank 0 logs ``knn/top1``, ``knn/top5`` and
    ``collapse/feat_std(_ratio)`` at finished epochs or iterations. A loader
    dataset without ``data_root`` reads the ``train_dataloader``'s.

    Args:
        train_dataloader (dict | DataLoader): Labelled memory-bank loader
            (default sampler: ``DefaultSampler(shuffle=False)``).
        val_dataloader (dict | DataLoader): Test-split loader, the same.
        interval (int): Evaluate every ``interval`` epochs (iterations) and
            at the end. Defaults to 1.
        by_epoch (bool): Count ``interval`` in epochs. Defaults to True.
        k (int): Number of neighbours. Defaults to 20.
        temperature (float): Vote temperature. Defaults to 0.07.
        pool (str): ``'avg'``, ``'cls'`` or ``'both'``. Defaults to ``'avg'``.
        before_train (bool): Evaluate before training too. Defaults to True.
        collapse_signal (bool): Log the collapse signal. Defaults to True.
        num_classes (int, optional): Defaults to None (from the labels).
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
        defaults = dict(
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate'))
        self._loader_cfgs = dict(train=train_dataloader, val=val_dataloader)
        for name, loader in self._loader_cfgs.items():
            if isinstance(loader, dict) and 'dataset' not in loader:
                raise ValueError(f"{name}_dataloader needs a 'dataset' key")
            if not isinstance(loader, (dict, DataLoader)):
                raise TypeError(f'{name}_dataloader must be a dict config or '
                                f'a DataLoader, got {type(loader).__name__}')
            if isinstance(loader, dict):
                self._loader_cfgs[name] = dict(defaults,
                                               **copy.deepcopy(loader))
        check_int(interval, 'interval')
        check_int(k, 'k')
        check_real(temperature, 'temperature', 0, strict=True)
        check_choice(pool, 'pool', POOL_TYPES)
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

    def _loader(self, runner, name: str) -> DataLoader:
        if name not in self._loaders:
            cfg = self._loader_cfgs[name]
            if isinstance(cfg, dict):
                cfg = copy.deepcopy(cfg)
                dataset = innermost_dataset(cfg['dataset'])
                if dataset.get('data_root') is None:
                    train = runner.cfg.get('train_dataloader') or {}
                    root = innermost_dataset(train.get('dataset', {})).get(
                        'data_root')
                    if root is not None:
                        dataset['data_root'] = root
            try:
                self._loaders[name] = runner.build_dataloader(
                    cfg, seed=runner.seed)
            except (OSError, RuntimeError, AssertionError) as e:
                raise data_error(f'KNNMonitorHook {name}_dataloader',
                                 cfg['dataset'], e) from e
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
                         data_batch: Optional[dict] = None,
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
        """Run the kNN at logging ``step``; the result (on all ranks)."""
        model = unwrap_model(runner.model)
        if not hasattr(model, 'backbone'):
            raise AttributeError('KNNMonitorHook needs runner.model.backbone')
        bank_loader = self._loader(runner, 'train')
        query_loader = self._loader(runner, 'val')
        runner.logger.info(
            f'kNN monitor: encoding {len(bank_loader.dataset)} bank and '
            f'{len(query_loader.dataset)} query images')
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
                signal = collapse_signal(bank[0]).items()
                result.update({f'collapse/{key}': v for key, v in signal})
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
