"""The CPU comparison (projects/study_bench/studies/cpu_comparison.py,
tools/benchmarks/cpu_comparison.py): every method at the demo's size.

The CPU preview must compare like with like: the demo's encoder, data,
schedule and kNN monitor for all methods, each method's own algorithm,
pipeline and optimiser settings. Checked on the config dicts, then one real
fp32 ``train_step`` per method on a batch of 4 from its own pipeline.
"""
import copy
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
from projects.study_bench.studies import cpu_comparison as tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

DEMO_ARCH = dict(
    embed_dims=128, num_layers=4, num_heads=2, feedforward_channels=512)
FIRST_TRANSFORM = dict(
    siameseim='SiameseIMViews', mae='RandomResizedCrop', mocov3='MultiView')
MODEL_TYPE = dict(siameseim='SiameseIM', mae='MAE', mocov3='MoCoV3')


@pytest.mark.parametrize('method', sorted(tool.CONFIGS))
def test_demo_sized_config(method):
    cfg = tool.comparison_config(method)
    demo = Config.fromfile(osp.join(ROOT, tool.CONFIGS['siameseim']))
    assert cfg.model.type == MODEL_TYPE[method]
    assert cfg.model.backbone.arch == DEMO_ARCH == demo.model.backbone.arch
    loader = cfg.train_dataloader
    assert loader.batch_size == 64 and loader.dataset.indices == 10240
    # (MoCo v3's colour ops want three channels: GrayToRGB comes first)
    types = [t.type for t in loader.dataset.pipeline]
    assert types[int(method == 'mocov3')] == FIRST_TRANSFORM[method]
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
    cfg = tool.comparison_config(method)
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
        tool.comparison_config('byol')


def test_summarize_picks_each_methods_best_final_knn():
    def rec(method, lr, curve):
        return dict(method=method, lr=lr, iterations=640,
                    train_seconds=320., knn_top1=list(enumerate(curve)),
                    knn_init=curve[0], knn_final=curve[-1])

    table = tool.summarize([
        rec('mae', 1e-3, [54.0, 60.0, 65.5]),
        rec('mae', 3e-4, [54.0, 70.0, 69.0]),
        rec('siameseim', 1e-3, [55.4, 62.4, 66.1]),
    ])
    rows = table.splitlines()
    assert '| mae | 0.0003 | 54.0 → 70.0 → 69.0 | 69.0 | 0.50 |' in rows
    best = rows[rows.index('| method | best lr | kNN init | kNN final | '
                           'gain |') + 2:]
    assert best == ['| mae | 0.0003 | 54.0 | 69.0 | +15.0 |',
                    '| siameseim | 0.001 | 55.4 | 66.1 | +10.7 |']
    with pytest.raises(ValueError, match='no records'):
        tool.summarize([])


def test_pixel_baseline_matches_a_hand_computed_knn():
    record = tool.pixel_baseline()
    assert record['method'] == 'pixels' and record['iterations'] == 0
    assert (record['bank'], record['queries']) == (2000, 1000)
    small = tool.pixel_baseline(sizes=(200, 50))
    assert (small['bank'], small['queries']) == (200, 50)
    # oracle: the same bank / queries as uint8 pixel vectors, brute force
    from mmsiameseim.evaluation import knn_accuracy
    full = tool.comparison_config('siameseim')
    cfg = full.custom_hooks[0]
    root = osp.join(ROOT, full.train_dataloader.dataset.data_root)
    sets = []
    for loader_cfg in (cfg.train_dataloader, cfg.val_dataloader):
        assert 'data_root' not in loader_cfg.dataset  # the training root
        dataset = DATASETS.build(dict(loader_cfg.dataset, data_root=root))
        items = [dataset[i] for i in range(len(dataset))]
        sets.append((torch.stack([d['inputs'].float().flatten()
                                  for d in items]),
                     torch.tensor([int(d['data_samples'].gt_label)
                                   for d in items])))
    assert len(sets[0][0]) == 2000 and len(sets[1][0]) == 1000
    expected = knn_accuracy(*sets[0], *sets[1], k=20,
                            temperature=0.07)['top1']
    assert record['knn_final'] == pytest.approx(expected)
    assert 60. < expected < 95.  # far above the 10 % of chance
