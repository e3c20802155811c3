"""A toy mmengine run (regression on 3 inputs) for the checkpoint tests:
its model, dataset, metric and a hook that records where training started,
registered under ``CkptTest*`` names."""
import itertools
import os.path as osp

import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.model import BaseModel
from mmengine.registry import DATASETS, HOOKS, METRICS, MODELS, RUNNERS
from torch.utils.data import Dataset

from mmsiameseim.engine import SafeResumeRunner

_RUN_IDS = itertools.count()


def run_name(prefix):
    """A distinct experiment name per run: it keeps mmengine's global
    instances (logger, visualizer) apart within the same second."""
    return f'{prefix}_{next(_RUN_IDS)}'


@MODELS.register_module(name='CkptTestToyModel', force=True)
class CkptTestToyModel(BaseModel):
    """Linear regression on 3 inputs."""

    def __init__(self, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        self.lin = nn.Linear(3, 1)

    def forward(self, inputs, targets=None, mode='tensor'):
        out = self.lin(inputs).squeeze(-1)
        if mode == 'loss':
            return dict(loss=((out - targets)**2).mean())
        return out


@DATASETS.register_module(name='CkptTestToyDataset', force=True)
class CkptTestToyDataset(Dataset):
    """Eight fixed samples, deterministic per index."""

    metainfo = dict(name='toy')

    def __len__(self):
        return 8

    def __getitem__(self, idx):
        gen = torch.Generator().manual_seed(idx)
        x = torch.randn(3, generator=gen)
        return dict(inputs=x, targets=x @ torch.tensor([1., -2., 0.5]))


@HOOKS.register_module(name='CkptTestRecordHook', force=True)
class CkptTestRecordHook(Hook):
    """Records the state at ``before_train`` and the iterations run."""

    def __init__(self):
        self.start_iter = None
        self.start_state = None
        self.iters = []

    def before_train(self, runner):
        self.start_iter = runner.iter
        with open(osp.join(runner.work_dir, 'start_iters.txt'), 'a') as f:
            f.write(f'{runner.iter}\n')
        self.start_state = {
            k: v.detach().clone()
            for k, v in runner.model.state_dict().items()
        }

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.iters.append(runner.iter + 1)


@METRICS.register_module(name='CkptTestMSEMetric', force=True)
class CkptTestMSEMetric(BaseMetric):
    """Mean squared error of the toy regression."""

    def process(self, data_batch, data_samples):
        for pred, target in zip(data_samples, data_batch['targets']):
            self.results.append(float((pred - target)**2))

    def compute_metrics(self, results):
        return dict(mse=sum(results) / len(results))


def toy_cfg(work_dir, max_iters, **kwargs):
    cfg = dict(
        runner_type='SafeResumeRunner',
        model=dict(type='CkptTestToyModel'),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=dict(type='CkptTestToyDataset'),
            batch_size=2,
            num_workers=0,
            sampler=dict(type='DefaultSampler', shuffle=False),
            collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.05, momentum=0.9)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            logger=dict(type='LoggerHook', interval=100),
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        custom_hooks=[dict(type='CkptTestRecordHook')],
        randomness=dict(seed=0),
        env_cfg=dict(dist_cfg=dict(backend='gloo')),
        experiment_name=run_name('ckpt_test'),
        log_level='WARNING')
    cfg.update(kwargs)
    return cfg


def build_runner(cfg):
    runner = RUNNERS.build(cfg)
    assert type(runner) is SafeResumeRunner
    return runner


def record_hook(runner):
    return [h for h in runner.hooks if isinstance(h, CkptTestRecordHook)][0]


def state_of(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def assert_state_equal(actual, expected):
    assert actual.keys() == expected.keys()
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key], rtol=0, atol=0)
