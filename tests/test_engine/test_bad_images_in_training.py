"""Training on a folder with bad files: skipped and logged, or named.

The tiny demo model trains through mmengine's Runner and the resumable
loop on an image folder (mmpretrain ``CustomDataset``) holding good PNGs
and bad files, with one dataloader worker:

* ``on_error='skip'``: training runs to the end; every bad file is named
  once in the log and each epoch ends with the number of skipped images,
  which equals the number of skips the batches carried;
* a worker killed by a segfault while decoding one file: the run stops
  with torch's error plus the file the worker was preparing.
"""
import itertools
import os
import os.path as osp
import re
import signal

import numpy as np
import pytest
import torch
from mmcv.transforms import BaseTransform
from mmengine.config import Config
from mmengine.hooks import Hook
from mmpretrain.registry import HOOKS, TRANSFORMS
from PIL import Image
from train_runs import read_losses, write_tiny_config

from mmsiameseim.engine import SafeResumeRunner

_RUNS = itertools.count()
CRASH_FILE = 'crash_here.png'


@pytest.fixture
def one_thread():
    """Tiny models on a shared 2-core machine: no OpenMP spinning."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@TRANSFORMS.register_module(name='SegfaultOnFileProbe', force=True)
class SegfaultOnFileProbe(BaseTransform):
    """Kills its process with SIGSEGV when it sees ``CRASH_FILE``."""

    def transform(self, results):
        if osp.basename(results['img_path']) == CRASH_FILE:
            os.kill(os.getpid(), signal.SIGSEGV)
        return results


@HOOKS.register_module(name='SkipCounterProbeHook', force=True)
class SkipCounterProbeHook(Hook):
    """Counts the skip records the batches carried, per epoch."""

    def __init__(self):
        self.per_epoch = {}

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        n = sum(
            len(s.get('skipped_images', []))
            for s in data_batch['data_samples'])
        epoch = runner.epoch + 1
        self.per_epoch[epoch] = self.per_epoch.get(epoch, 0) + n


def _folder(tmp_path, bad, extra_good=()):
    folder = tmp_path / 'images'
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(13):
        img = rng.integers(0, 256, (20 + i, 24, 3), dtype=np.uint8)
        Image.fromarray(img).save(folder / f'good_{i:02d}.png')
    for name in extra_good:
        Image.fromarray(rng.integers(0, 256, (20, 20, 3),
                                     dtype=np.uint8)).save(folder / name)
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    return str(folder)


def _runner(tmp_path, folder, pipeline_extra=()):
    cfg = Config.fromfile(write_tiny_config(tmp_path / 'tiny.py', epochs=2))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'bad_images_{next(_RUNS)}'
    cfg.train_dataloader.batch_size = 4
    cfg.train_dataloader.dataset = dict(
        type='CustomDataset',
        data_root=folder,
        with_label=False,
        pipeline=[
            dict(type='RobustLoadImageFromFile', on_error='skip'),
            *pipeline_extra,
            dict(type='SiameseIMViews', img_size=32),
            dict(type='BlockwiseMaskGenerator', input_size=8,
                 num_masking_patches=38, min_num_patches=4),
            dict(type='PackInputs', algorithm_keys=['rel_pos']),
        ])
    cfg.custom_hooks = [
        dict(type='NumericsGuardHook'),
        dict(type='TestLossRecorderHook'),
        dict(type='SkipCounterProbeHook'),
    ]
    return SafeResumeRunner.from_cfg(cfg)


def _log_text(work_dir):
    logs = [
        osp.join(root, f) for root, _, names in os.walk(work_dir)
        for f in names if f.endswith('.log')
    ]
    assert len(logs) == 1
    with open(logs[0]) as f:
        return f.read()


def test_skipped_files_are_logged_once_and_counted_per_epoch(
        tmp_path, one_thread):
    bad = {'empty.png': b'', 'corrupt.jpg': b'\xff\xd8' + b'\x00' * 300,
           'text.png': b'hello\n' * 30}
    runner = _runner(tmp_path, _folder(tmp_path, bad))
    runner.train()

    losses = read_losses(runner.work_dir)
    assert sorted(losses) == list(range(1, 9))  # 16 files / 4, 2 epochs
    assert all(np.isfinite(v[1]) for v in losses.values())
    log = _log_text(runner.work_dir)
    for name in bad:
        named = re.findall(rf'Skipped a bad image \(logged once\): '
                           rf'\S*{re.escape(name)}', log)
        assert len(named) == 1, name
    counter = next(h for h in runner.hooks
                   if type(h).__name__ == 'SkipCounterProbeHook')
    for epoch in (1, 2):
        # 3 bad files among 16, each index visited once per epoch
        assert counter.per_epoch[epoch] >= 3
        assert (f'Epoch {epoch}: {counter.per_epoch[epoch]} bad image(s) '
                'skipped') in log


def test_a_crashing_worker_names_the_file_it_was_reading(
        tmp_path, one_thread):
    folder = _folder(tmp_path, {}, extra_good=[CRASH_FILE])
    runner = _runner(tmp_path, folder,
                     pipeline_extra=[dict(type='SegfaultOnFileProbe')])
    with pytest.raises(RuntimeError) as info:
        runner.train()
    message = str(info.value)
    # torch's own words ("... is killed by signal: Segmentation fault" or
    # "... exited unexpectedly", depending on which check sees it first)
    assert re.match(r'DataLoader worker \(pid', message), message
    assert re.search(rf'It was preparing: worker pid \d+: sample \d+ '
                     rf'\({re.escape(osp.join(folder, CRASH_FILE))}\)',
                     message), message
