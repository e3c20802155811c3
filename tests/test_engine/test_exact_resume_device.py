"""Exact resume with the colour ops on the device.

The tiny demo run of ``test_exact_resume.py`` with
``SiameseIMViews(colour_on='device')``: the workers draw the colour
parameters under each sample's seed and ``SiameseIMDataPreprocessor``
applies them in the training process. A run SIGKILLed in the middle of
epoch 2 and resumed must give every iteration's loss, learning rate and
EMA sum, and the final training state, bit for bit as the uninterrupted
run.
"""
import os.path as osp

import torch
from mmengine.config import Config
from train_runs import read_losses, run_train, state_tensors, \
    write_tiny_config

from mmsiameseim.utils import read_checkpoint

DEVICE_ROUTE = '''
_base_ = ['./tiny.py']
views = dict(_base_.views, colour_on='device')
train_dataloader = dict(dataset=dict(pipeline=[
    views, _base_.mask_generator,
    dict(_base_.pack, algorithm_keys=['rel_pos', 'colour_params'])]))
# the demo's gray images load as BGR: the colour ops need the swap
model = dict(data_preprocessor=dict(type='SiameseIMDataPreprocessor',
                                    to_rgb=True))
'''


def test_device_route_resumes_to_the_same_losses(tmp_path):
    write_tiny_config(tmp_path / 'tiny.py')
    cfg = tmp_path / 'tiny_device.py'
    cfg.write_text(DEVICE_ROUTE)
    cfg = str(cfg)
    loaded = Config.fromfile(cfg)
    views, _, pack = loaded.train_dataloader.dataset.pipeline
    assert views.colour_on == 'device'
    assert 'colour_params' in pack.algorithm_keys
    assert views.online_pipeline and views.target_pipeline  # colour ops
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
