"""Smoke tests of configs/reproduction and the reproduction summary.

Every config builds its model (widths shrunk to tiny through the config
dict) and runs two ``train_step`` iterations on CPU with a real batch from
its own pipeline; the summariser turns a synthetic results file into the
expected table.
"""
import copy
import functools
import glob
import json
import math
import os.path as osp
import re

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MessageHub
from mmengine.optim import build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmpretrain.registry import DATASETS, MODELS
from tool_modules import load_tool

import mmsiameseim  # noqa: F401  registration
from projects.study_bench.sizes import TINY_SIZES, apply_sizes
from projects.study_bench.studies.records import read_records
from projects.study_bench.studies.reproduction_summary import best_lr, collect

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG_DIR = osp.join(ROOT, 'projects', 'study_bench', 'configs',
                      'reproduction')
CONFIGS = sorted(glob.glob(osp.join(CONFIG_DIR, '*.py')))
DATA_ROOT = osp.join(ROOT, 'data', 'fashion-mnist')
NAME = re.compile(r'^(?P<algo>[a-z0-9-]+)_vit-tiny-p4_1xb256-amp-coslr-100e_'
                  r'fashion-mnist\.py$')


summarize = load_tool(
    osp.join(ROOT, 'tools', 'benchmarks', 'summarize_reproduction.py'))


@functools.lru_cache(maxsize=None)
def _parsed(path):
    return Config.fromfile(path)


def load_config(path):
    """A fresh copy of a parsed config (parsing is cached per file)."""
    return copy.deepcopy(_parsed(path))


def test_config_set_and_names():
    names = [osp.basename(c) for c in CONFIGS]
    algos = {NAME.match(n).group('algo') for n in names if NAME.match(n)}
    assert len(algos) == len(names), names
    assert {
        'siameseim', 'mae', 'mocov3', 'siameseim-sameview', 'siameseim-pixel',
        'siameseim-randmask'
    } <= algos


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_contract(path):
    cfg = load_config(path)
    assert cfg.custom_imports.imports[0] == 'mmsiameseim'
    loader = cfg.train_dataloader
    assert loader.dataset.type == 'FashionMNIST'
    assert loader.dataset.download is False
    assert loader.dataset.indices is None  # the full 60k train split
    assert loader.batch_size == 256
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    backbone = cfg.model.backbone
    assert backbone.img_size == 32 and backbone.patch_size == 4
    assert backbone.arch == dict(
        embed_dims=192, num_layers=6, num_heads=3, feedforward_channels=768)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_knn_monitor_datasets_build(path):
    # A plain dict(base, dataset=dict(indices=...)) in a config replaces the
    # whole dataset; the hook then fails at before_train on the GPU.
    cfg = load_config(path)
    init_default_scope('mmpretrain')
    hooks = [h for h in cfg.custom_hooks if h.type == 'KNNMonitorHook']
    assert len(hooks) == 1 and hooks[0].interval == 10
    for key, split, size in (('train_dataloader', 'train', 5000),
                             ('val_dataloader', 'test', 2000)):
        dataset_cfg = copy.deepcopy(hooks[0][key].dataset)
        dataset_cfg.data_root = DATA_ROOT
        dataset = DATASETS.build(dataset_cfg)
        assert dataset.split == split and len(dataset) == size
        image = dataset[0]['inputs']
        assert tuple(image.shape) == (3, 32, 32)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_two_train_steps_on_cpu(path):
    cfg = load_config(path)
    init_default_scope('mmpretrain')
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add overhead
    try:
        _two_train_steps(path, cfg)
    finally:
        torch.set_num_threads(threads)


def _two_train_steps(path, cfg):
    """Real batch of 4 from the config's pipeline, 2 fp32 train steps."""
    torch.manual_seed(0)
    np.random.seed(0)
    dataset_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    dataset_cfg.update(data_root=DATA_ROOT, indices=8)
    dataset = DATASETS.build(dataset_cfg)
    collate = FUNCTIONS.get(cfg.train_dataloader.collate_fn.type)
    batch = collate([dataset[i] for i in range(4)])
    samples = batch['data_samples']

    algo = NAME.match(osp.basename(path)).group('algo')
    if algo == 'siameseim-sameview':
        for s in samples:  # view 2 = view 1: identity geometry
            np.testing.assert_allclose(
                np.asarray(s.rel_pos)[:5], [0, 0, 1, 1, 0])
    if algo.startswith('siameseim'):
        counts = {int(torch.as_tensor(s.mask).sum()) for s in samples}
        assert counts == {38}

    # the steps run at the one tiny test size (model and pipeline together)
    tiny = apply_sizes(
        copy.deepcopy(cfg), osp.join(ROOT, TINY_SIZES),
        {'MAE': 'mae_model', 'MoCoV3': 'mocov3_model'}.get(
            cfg.model.type, 'model'))
    dataset_cfg = copy.deepcopy(tiny.train_dataloader.dataset)
    dataset_cfg.update(data_root=DATA_ROOT, indices=8)
    dataset = DATASETS.build(dataset_cfg)
    batch = collate([dataset[i] for i in range(4)])
    model = MODELS.build(tiny.model)
    model.init_weights()
    wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
    wrapper_cfg.type = 'OptimWrapper'  # fp32 on CPU
    wrapper_cfg.pop('loss_scale', None)
    wrapper = build_optim_wrapper(model, wrapper_cfg)
    MessageHub.get_current_instance().update_info('max_iters', 2)
    model.train()
    before = [
        p.detach().clone() for p in model.parameters() if p.requires_grad
    ]
    for _ in range(2):
        log_vars = model.train_step(copy.deepcopy(batch), wrapper)
        loss = torch.as_tensor(log_vars['loss']).detach()
        assert math.isfinite(float(loss)), log_vars
    after = [p for p in model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(after, before))


# --------------------------------------------------------------------------
# summarize_reproduction.py
# --------------------------------------------------------------------------
def _records():
    """Two methods x three lrs; test kNN would pick another lr."""
    rows = []

    def add(method, lr, tool, split, value, seed=0, metric=None):
        rows.append(
            dict(
                tool=tool,
                metric=metric or f'{tool}_metric',
                value=value,
                method=method,
                lr=lr,
                seed=seed,
                split=split))

    for lr, heldout, test in ((5e-4, 70., 90.), (1.5e-3, 80., 71.),
                              (4.5e-3, 75., 72.)):
        add('siameseim', lr, 'knn_eval', 'heldout', heldout)
        add('siameseim', lr, 'knn_eval', 'test', test)
        add('siameseim', lr, 'train', 'train', 1800., metric='gpu_seconds')
    add('siameseim', 1.5e-3, 'linear_probe', 'test', 82.5)
    add('siameseim', 1.5e-3, 'dense_probe', 'test', 41.25)
    # mae: two seeds at its best lr, no dense probe, a failed lr
    for seed, heldout, test in ((0, 66., 60.), (1, 68., 62.)):
        add('mae', 5e-4, 'knn_eval', 'heldout', heldout, seed=seed)
        add('mae', 5e-4, 'knn_eval', 'test', test, seed=seed)
        add('mae',
            5e-4,
            'train',
            'train',
            3600.,
            seed=seed,
            metric='gpu_seconds')
    add('mae', 4.5e-3, 'knn_eval', 'heldout', float('nan'))
    add('mae', 4.5e-3, 'train', 'train', 360., metric='gpu_seconds')
    # mocov3: trained but never evaluated on the held-out split
    add('mocov3', 1.5e-3, 'knn_eval', 'test', 99.)
    add('mocov3', 1.5e-3, 'train', 'train', 900., metric='gpu_seconds')
    return rows


EXPECTED = '\n'.join([
    '| method | best lr | kNN top-1, held-out train (selects lr) | '
    'kNN top-1, test | linear probe top-1, test | dense probe mIoU, test | '
    'GPU time per run, best lr | GPU time, whole sweep |',
    '|---|---|---|---|---|---|---|---|',
    '| siameseim | 0.0015 | 80.00 | 71.00 | 82.50 | 41.25 | 0.50 h | '
    '1.50 h |',
    '| mae | 0.0005 | 67.00 ± 1.41 (n=2) | 61.00 ± 1.41 (n=2) | '
    'not measured | not measured | 1.00 h | 2.10 h |',
    '| mocov3 | none (no held-out kNN) | not measured | not measured | '
    'not measured | not measured | not measured | 0.25 h |',
])


def test_summary_table(tmp_path, capsys):
    results = tmp_path / 'results.jsonl'
    with open(results, 'w') as f:
        for record in _records():
            f.write(json.dumps(record) + '\n')
        f.write('\n')  # blank lines are skipped
    text = summarize.main([str(results)])
    table = text.split('\n\n')[0]
    assert table == EXPECTED
    assert 'Metrics: knn_eval: knn_eval_metric' in text
    assert capsys.readouterr().out.strip() == text.strip()
    sweep = summarize.main([str(results), '--all-runs'])
    assert '| siameseim | 0.0005 | 70.00 | 90.00 | 0.50 h |' in sweep


def test_append_tagged_then_summarise(tmp_path):
    run = tmp_path / 'run.jsonl'
    run.write_text(
        json.dumps(
            dict(tool='knn_eval', metric='knn_top1', value=55.0, seed=7)) +
        '\n')
    results = tmp_path / 'out' / 'results.jsonl'
    summarize.main([
        str(results), '--append-from',
        str(run), '--meta', 'method=m', 'lr=1e-3', 'seed=0', 'split=heldout'
    ])
    (record, ) = read_records(str(results))
    assert record['method'] == 'm' and record['lr'] == 1e-3
    assert record['seed'] == 0 and record['seed_reported'] == 7
    assert best_lr(collect([record])['m']) == 1e-3


def test_make_heldout_split(tmp_path):
    src, dst = tmp_path / 'src', tmp_path / 'dst'
    src.mkdir()
    images = np.arange(12 * 28 * 28, dtype=np.uint32).astype(np.uint8)
    images = images.reshape(12, 28, 28)
    labels = (np.arange(12) % 10).astype(np.uint8)
    for name, array in (('train-images-idx3-ubyte', images),
                        ('train-labels-idx1-ubyte', labels)):
        header = bytes([0, 0, 8, array.ndim])
        header += b''.join(int(d).to_bytes(4, 'big') for d in array.shape)
        with open(src / name, 'wb') as f:
            f.write(header + array.tobytes())
    summarize.main([
        str(tmp_path / 'unused.jsonl'), '--make-heldout',
        str(src),
        str(dst), '--num-heldout', '5'
    ])
    from projects.study_bench.fashion_mnist import load_split
    bank, _ = load_split(str(dst), 'train')
    queries, query_labels = load_split(str(dst), 'test')
    assert len(bank) == 7 and len(queries) == 5
    np.testing.assert_array_equal(queries[0], images[7])
    np.testing.assert_array_equal(query_labels, labels[7:])
