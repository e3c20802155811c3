"""Exact resume on both colour routes.

The demo config applies its colour ops on the device
(``SiameseIMViews(colour_on='device')``: the workers draw the parameters
under each sample's seed, ``SiameseIMDataPreprocessor`` applies them in
the training process), so ``test_exact_resume.py``, which runs the demo at
tiny size, checks that route; the first test here pins that. The second
runs the same kind of chain with the colour ops in the worker: a run
SIGKILLed in the middle of epoch 2 and resumed must give every iteration's
loss, learning rate and EMA sum, and the final training state, bit for bit
as the uninterrupted run.
"""
import os.path as osp

import torch
from mmengine.config import Config
from train_runs import DEMO, read_losses, run_train, state_tensors, \
    write_tiny_config

from mmsiameseim.checkpoints import read_checkpoint

WORKER_ROUTE = '''
_base_ = ['./tiny.py']
views = dict(_base_.views, colour_on='worker')
train_dataloader = dict(dataset=dict(pipeline=[
    views, _base_.mask_generator,
    dict(_base_.pack, algorithm_keys=['rel_pos'])]))
'''


def _route(cfg):
    views, _, pack = cfg.train_dataloader.dataset.pipeline
    assert views.online_pipeline and views.target_pipeline  # colour ops
    return views.colour_on, list(pack.algorithm_keys)


def test_the_demo_and_so_test_exact_resume_use_the_device_route():
    cfg = Config.fromfile(DEMO)
    assert _route(cfg) == ('device', ['rel_pos', 'colour_params'])
    assert cfg.model.data_preprocessor.type == 'SiameseIMDataPreprocessor'


def test_worker_route_resumes_to_the_same_losses(tmp_path):
    write_tiny_config(tmp_path / 'tiny.py')
    cfg = tmp_path / 'tiny_worker.py'
    cfg.write_text(WORKER_ROUTE)
    cfg = str(cfg)
    assert _route(Config.fromfile(cfg)) == ('worker', ['rel_pos'])
    ref, chain = str(tmp_path / 'ref'), str(tmp_path / 'chain')

    assert run_train([cfg, '--work-dir', ref]) == 0
    assert run_train([cfg, '--work-dir', chain], kill='iter:6') == -9
    assert sorted(read_losses(chain)) == [1, 2, 3, 4, 5, 6]
    assert run_train([cfg, '--work-dir', chain, '--resume']) == 0

    want, got = read_losses(ref), read_losses(chain)
    assert sorted(want) == list(range(1, 13))
    assert got[7][0] == 2  # epoch 2 goes on at its third batch
    assert got == want
    a = state_tensors(read_checkpoint(osp.join(ref, 'epoch_3.pth')))
    b = state_tensors(read_checkpoint(osp.join(chain, 'epoch_3.pth')))
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []
