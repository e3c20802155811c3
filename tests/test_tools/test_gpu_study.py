"""The short GPU study's pieces (projects/study_bench/studies/gpu_*.py,
tools/benchmarks/gpu/study.py): sizing, worker split, the per-method
configs, the timing and deadline hook, the command line and its budget."""
import os.path as osp
import sys
import time
from types import SimpleNamespace

import pytest
from tool_modules import load_tool

import projects.study_bench.studies.gpu_study as plan
from projects.study_bench.studies.records import read_records
from projects.study_bench.studies.study_hook import StudyTimerHook

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GPU = osp.join(ROOT, 'tools', 'benchmarks', 'gpu')


@pytest.fixture(scope='module')
def study():
    return plan


@pytest.fixture(scope='module')
def tool():
    return load_tool(osp.join(GPU, 'study.py'))


def _costs(study):
    return {m: spec['cpu_ms'] for m, spec in study.METHODS.items()}


def test_planned_steps(study):
    # 60000 images // 256 = 234 steps per epoch (drop_last), 8 epochs
    assert study.steps_per_epoch(60000, 256) == 234
    assert study.planned_steps(study.SIZES['gpu']) == 1872
    assert study.planned_steps(study.SIZES['toy']) == 2


def test_split_workers_16_cores(study):
    costs = _costs(study)
    workers = study.split_workers(16, costs)
    assert list(workers) == list(costs)
    assert dict(workers) == {
        'siameseim': 3,
        'mae': 1,
        'mocov3': 5,
        'siameseim-sameview': 3
    }
    assert sum(workers.values()) == 16 - len(costs)

    def slowest(w):
        return min(w[m] / costs[m] for m in w)

    # no single move of a worker makes the slowest loader faster
    for a in workers:
        for b in workers:
            if a != b and workers[a] > 1:
                moved = dict(workers)
                moved[a] -= 1
                moved[b] += 1
                assert slowest(moved) <= slowest(workers) + 1e-12


def test_split_workers_minimum_and_errors(study):
    costs = _costs(study)
    assert set(study.split_workers(2, costs).values()) == {1}
    assert dict(study.split_workers(8, {'a': 1., 'b': 3.}, minimum=2)) == {
        'a': 2,
        'b': 4
    }
    with pytest.raises(ValueError, match='positive'):
        study.split_workers(8, {'a': 0.})


def test_study_configs_of_every_method(study, tmp_path):
    size = study.SIZES['gpu']
    for method, spec in study.METHODS.items():
        cfg = study.study_config(method, size, str(tmp_path / method), 3)
        assert cfg.work_dir == str(tmp_path / method)
        assert cfg.optim_wrapper.optimizer.lr == spec['lr']
        assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
        assert cfg.train_cfg.max_epochs == 8
        linear, cosine = cfg.param_scheduler
        assert (linear.begin, linear.end) == (0, 1)
        assert (cosine.begin, cosine.end, cosine.T_max) == (1, 8, 7)
        loader = cfg.train_dataloader
        assert (loader.batch_size, loader.num_workers) == (256, 3)
        assert loader.persistent_workers and loader.pin_memory
        assert loader.dataset.indices is None
        assert loader.dataset.data_root == 'data/fashion-mnist'
        assert cfg.model.data_preprocessor.non_blocking is True
        knn = cfg.custom_hooks[0]
        assert knn.interval == 8
        assert knn.train_dataloader.dataset.indices == 5000
        assert knn.val_dataloader.dataset.indices == 2000
        ckpt = cfg.default_hooks.checkpoint
        assert (ckpt.interval, ckpt.max_keep_ckpts) == (1, 1)
        assert cfg.visualizer.vis_backends == [dict(type='LocalVisBackend')]
        siam = method.startswith('siameseim')
        assert cfg.model.type == ('SiameseIM' if siam else
                                  {'mae': 'MAE', 'mocov3': 'MoCoV3'}[method])
        if siam:
            assert cfg.model.backbone.num_masked == 38
        else:
            assert 'num_masked' not in cfg.model.backbone
    # what the method rows are about is kept
    sameview = study.study_config('siameseim-sameview', size, 'w', 1)
    assert sameview.train_dataloader.dataset.pipeline[0].same_crop is True
    moco = study.study_config('mocov3', size, 'w', 1)
    assert moco.optim_wrapper.optimizer.weight_decay == 0.1
    toy = study.study_config('mae', study.SIZES['toy'], 'w', 1,
                             data_root='/x')
    assert toy.optim_wrapper.type == 'OptimWrapper'
    assert 'loss_scale' not in toy.optim_wrapper
    assert toy.train_dataloader.dataset.data_root == '/x'
    assert toy.custom_hooks[0].val_dataloader.dataset.data_root == '/x'
    assert toy.train_dataloader.dataset.indices == 8


def _runner(epoch, max_epochs=8):
    return SimpleNamespace(
        epoch=epoch,
        max_epochs=max_epochs,
        train_loop=SimpleNamespace(stop_training=False))


def test_study_hook_times_steps_and_stops_before_the_deadline(
        study, monkeypatch):
    clock = [0.]
    monkeypatch.setattr(time, 'perf_counter', lambda: clock[0])
    hook = StudyTimerHook(deadline_s=50., skip_iters=1)
    runner = _runner(0)
    hook.before_train(runner)
    # iteration 0 (not timed), then two timed ones with loader waits
    for t_start, t_end in ((0., 4.), (4.5, 6.5), (7.5, 9.5)):
        clock[0] = t_start
        hook.before_train_iter(runner, 0)
        clock[0] = t_end
        hook.after_train_iter(runner, 0)
    clock[0] = 20.
    hook.after_train_epoch(runner)  # 20 s + 20 s per epoch < 50 s
    assert not runner.train_loop.stop_training
    # the wait across the epoch end (20 -> 21) is not loader wait
    runner.epoch = 1
    clock[0] = 21.
    hook.before_train_iter(runner, 0)
    clock[0] = 23.
    hook.after_train_iter(runner, 0)
    clock[0] = 30.
    hook.after_train_epoch(runner)  # 30 + 15 < 50
    assert not runner.train_loop.stop_training
    runner.epoch = 2
    clock[0] = 40.
    hook.after_train_epoch(runner)  # 40 + 40 / 3 > 50: stop
    assert runner.train_loop.stop_training
    summary = hook.summary(batch=10)
    # timed: 3 steps of 2 s, loader waits 0.5 + 1.0
    assert summary['timed_steps'] == 3
    assert summary['img_per_s'] == pytest.approx(30 / 7.5, abs=0.05)
    assert summary['loader_wait_fraction'] == pytest.approx(1.5 / 7.5)
    assert summary['truncated'] is True


def test_study_hook_never_stops_the_last_epoch(study, monkeypatch):
    clock = [0.]
    monkeypatch.setattr(time, 'perf_counter', lambda: clock[0])
    hook = StudyTimerHook(deadline_s=1.)
    runner = _runner(1, max_epochs=2)
    hook.before_train(runner)
    clock[0] = 100.
    hook.after_train_epoch(runner)
    assert not runner.train_loop.stop_training
    assert hook.summary(4)['truncated'] is False
    assert hook.summary(4)['img_per_s'] is None


def test_parse_args_rejects_repeated_and_unknown_methods(tool):
    with pytest.raises(SystemExit):
        tool.parse_args(['--methods', 'mae', 'mae'])
    with pytest.raises(SystemExit):
        tool.parse_args(['--methods', 'simclr'])


def _study_cmd(tmp_path, *extra):
    return [sys.executable, osp.join(GPU, 'study.py'), '--toy', '--methods',
            'mae', '--out', str(tmp_path / 'out'), '--work-root',
            str(tmp_path / 'runs'), *extra]


def _check_terminated(tmp_path, proc):
    assert proc.returncode == 1, proc.stdout
    records = read_records(str(tmp_path / 'out' / 'study.jsonl'))
    (process, ) = [r for r in records if r.get('tool') == 'process']
    assert process['method'] == 'mae' and process['killed'] is True
    summary = (tmp_path / 'out' / 'study_summary.md').read_text()
    assert '| mae | 0.002 |' in summary
    assert 'terminated (budget)' in summary


def test_study_terminates_runs_over_budget(tmp_path):
    import subprocess
    proc = subprocess.run(_study_cmd(tmp_path, '--budget-s', '0.5'),
                          capture_output=True, text=True, timeout=120)
    assert 'over the 0 s budget, terminating' in proc.stdout
    _check_terminated(tmp_path, proc)


def test_study_sigterm_still_writes_the_records(tmp_path):
    import signal
    import subprocess
    proc = subprocess.Popen(_study_cmd(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    line = proc.stdout.readline()  # the parent's first line: runs started
    assert line.startswith('[study] toy: 1 runs at once')
    proc.send_signal(signal.SIGTERM)
    out = line + proc.communicate(timeout=120)[0]
    assert 'mae: SIGTERM, terminating' in out
    proc.stdout = out
    _check_terminated(tmp_path, proc)
