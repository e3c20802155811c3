"""tools/benchmarks/cpu_comparison.py: every method at the demo's size.

The CPU preview must compare like with like: the demo's encoder, data,
schedule and kNN monitor for all methods, each method's own algorithm,
pipeline and optimiser settings. Checked on the config dicts, then one real
fp32 ``train_step`` per method on a batch of 4 from its own pipeline.
"""
import copy
import importlib.util
import math
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmpretrain.registry import DATASETS, MODELS

import mmsiameseim  # noqa: F401  registration

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    '_cpu_comparison',
    osp.join(ROOT, 'tools', 'benchmarks', 'cpu_comparison.py'))
tool = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tool)

DEMO_ARCH = dict(
    embed_dims=128, num_layers=4, num_heads=2, feedforward_channels=512)
FIRST_TRANSFORM = dict(
    siameseim='SiameseIMViews', mae='RandomResizedCrop', mocov3='MultiView')
MODEL_TYPE = dict(siameseim='SiameseIM', mae='MAE', mocov3='MoCoV3')


@pytest.mark.parametrize('method', sorted(tool.CONFIGS))
def test_demo_sized_config(method):
    cfg = tool.demo_sized(method)
    demo = Config.fromfile(osp.join(ROOT, tool.DEMO))
    assert cfg.model.type == MODEL_TYPE[method]
    assert cfg.model.backbone.arch == DEMO_ARCH == demo.model.backbone.arch
    loader = cfg.train_dataloader
    assert loader.batch_size == 64 and loader.dataset.indices == 10240
    assert loader.dataset.pipeline[0].type == FIRST_TRANSFORM[method]
    assert cfg.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.train_cfg.max_epochs == 4
    assert cfg.param_scheduler == demo.param_scheduler
    hook = cfg.custom_hooks[0]
    assert hook.type == 'KNNMonitorHook' and hook.interval == 1
    assert hook.val_dataloader.dataset.split == 'test'
    if method == 'mae':
        neck = cfg.model.neck
        assert neck.embed_dim == neck.decoder_embed_dim == 128
        assert neck.decoder_depth == 2  # demo projector 1 + predictor 1
        assert 128 % neck.decoder_num_heads == 0
    if method == 'mocov3':
        assert cfg.model.neck.in_channels == 128
        assert 'find_unused_parameters' not in cfg


@pytest.mark.parametrize('method', sorted(tool.CONFIGS))
def test_one_train_step_at_demo_size(method):
    cfg = tool.demo_sized(method)
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    np.random.seed(0)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(data_root=osp.join(ROOT, 'data', 'fashion-mnist'),
                       indices=4)
    dataset = DATASETS.build(dataset_cfg)
    collate = FUNCTIONS.get(cfg.train_dataloader.collate_fn.type)
    batch = collate([dataset[i] for i in range(4)])
    model = MODELS.build(cfg.model)
    model.init_weights()
    assert model.backbone.embed_dims == 128
    assert len(model.backbone.layers) == 4
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    MessageHub.get_current_instance().update_info('max_iters', 1)
    model.train()
    log_vars = model.train_step(batch, wrapper)
    assert math.isfinite(float(torch.as_tensor(log_vars['loss'])))


def test_unknown_method_is_named():
    with pytest.raises(ValueError, match="unknown method 'byol'"):
        tool.demo_sized('byol')
