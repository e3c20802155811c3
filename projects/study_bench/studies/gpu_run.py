"""The short GPU study's run: every method trained at once on the one
GPU, each in its own process, then probed in that process.

:func:`run_parent` launches one child per method (:func:`run_child`),
watches the budget (``--budget-s``: runs still going are terminated; a
SIGTERM stops them too), merges their records into ``OUT/study.jsonl`` and
writes the table (:mod:`.gpu_summary`). A child trains its config
(:func:`.gpu_study.study_config`) with :class:`.study_hook.StudyTimerHook`
(a training that would run past ``--train-deadline-s`` stops at the end of
the epoch before, ``truncated``) and runs the probes of
:mod:`projects.study_bench.probes` on the last checkpoint.

Records (JSON lines): ``tool='train'`` (``metric='gpu_seconds'``: wall
seconds of the training loop with ``concurrent_runs`` processes on the
GPU, steps done and planned, img/s, loader wait, peak memory, final loss,
the online kNN monitor at init and at the end); one per probe, as the
probe writes it, plus ``wall_seconds``; ``tool='process'`` (exit status
and wall time of each child); ``tool='env'`` (the machine). Every record
carries ``method``, ``lr``, ``seed`` and ``split``.
"""
import argparse
import gc
import json
import os
import os.path as osp
import platform
import shutil
import signal
import subprocess
import time
import traceback
from collections import OrderedDict
from typing import Optional, Sequence

from ..config_files import REPO_ROOT, repo_path
from ..fashion_mnist import write_head
from ..probes.dense_probe import dense_probe
from ..probes.knn import knn_probe
from ..probes.linear import linear_probe
from .gpu_study import (METHODS, PROBES, SIZES, planned_steps, split_workers,
                        study_config)
from .gpu_summary import study_summary
from .records import append_tagged, read_records
from .study_hook import StudyTimerHook

PROBE_FUNCTIONS = dict(
    knn_eval=knn_probe, linear_probe=linear_probe, dense_probe=dense_probe)


def ensure_distutils() -> None:
    """Make ``import distutils`` work on Python >= 3.12.

    mmengine 0.10.7's Runner logs its environment with ``collect_env``,
    which imports ``distutils``; Python 3.12 removed it from the standard
    library. setuptools provides it once imported (its ``_distutils_hack``).
    """
    try:
        import distutils  # noqa: F401
    except ImportError:
        import setuptools  # noqa: F401


def _append(path: str, record: dict) -> None:
    with open(path, 'a') as f:
        f.write(json.dumps(record) + '\n')


def _last_checkpoint(work_dir: str) -> Optional[str]:
    path = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(path):
        return None
    with open(path) as f:
        ckpt = f.read().strip()
    return ckpt if osp.isfile(ckpt) else None


def run_child(args: argparse.Namespace) -> int:
    """Train one method, then run the probes; append records.

    Args:
        args (argparse.Namespace): ``method``, ``size`` (a :data:`SIZES`
            key), ``work_dir``, ``records``, ``num_workers``,
            ``concurrent``, ``train_deadline_s``, ``seed``, ``data_root``.

    Returns:
        int: 0, or 1 if the training or a probe failed.
    """
    os.chdir(REPO_ROOT)  # the configs' data roots are repo-relative
    ensure_distutils()
    import torch
    from mmengine.registry import RUNNERS

    import mmsiameseim  # noqa: F401  registers our modules
    from mmsiameseim.engine import SafeResumeRunner
    size = SIZES[args.size]
    spec = METHODS[args.method]
    meta = dict(method=args.method, config=spec['config'], lr=spec['lr'],
                seed=args.seed)
    os.makedirs(args.work_dir, exist_ok=True)
    cuda = size['device'] == 'cuda'
    record = dict(tool='train', metric='gpu_seconds', value=None,
                  planned_steps=planned_steps(size), batch=size['batch'],
                  epochs=size['epochs'], num_workers=args.num_workers,
                  concurrent_runs=args.concurrent, device=size['device'],
                  gpu=torch.cuda.get_device_name() if cuda else None,
                  torch=torch.__version__, status='ok')
    start = time.perf_counter()
    try:
        cfg = study_config(args.method, size, args.work_dir,
                           args.num_workers, args.seed, args.data_root)
        runner = (RUNNERS.build(cfg) if 'runner_type' in cfg else
                  SafeResumeRunner.from_cfg(cfg))
        hook = StudyTimerHook(args.train_deadline_s, size['skip_iters'])
        runner.register_hook(hook)
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        runner.train()
        record['value'] = round(time.perf_counter() - start, 1)
        record.update(hook.summary(size['batch']))
        knn = next((h for h in runner.hooks
                    if type(h).__name__ == 'KNNMonitorHook'), None)
        loss = runner.message_hub.get_scalar('train/loss').current()
        record.update(
            steps=runner.iter,
            epochs_done=runner.epoch,
            loss_final=float(loss),
            knn_monitor=[[step, round(r['knn/top1'], 2)]
                         for step, r in knn.history] if knn else None,
            peak_mem_gib=round(torch.cuda.max_memory_allocated() / 2**30,
                               3) if cuda else None)
        del runner, knn
    except Exception as exc:
        traceback.print_exc()
        record.update(
            status='error',
            value=round(time.perf_counter() - start, 1),
            error=f'{type(exc).__name__}: {exc}'[:500])
    _append(args.records, dict(record, **meta, split='train'))
    gc.collect()
    if cuda:
        torch.cuda.empty_cache()
    ckpt = _last_checkpoint(args.work_dir)
    if ckpt is None:
        print(f'[study] {args.method}: no checkpoint to probe', flush=True)
        return 1
    # a run that failed after an epoch is probed too (its record says so)
    config = repo_path(spec['config'])
    failures = int(record['status'] != 'ok')
    for tool in PROBES:
        out = osp.join(args.work_dir, f'{tool}.jsonl')
        if osp.exists(out):
            os.remove(out)
        kwargs = dict(device=size['device'], data_root=args.data_root,
                      out=out, **size['probe_args'][tool])
        if tool == 'linear_probe':
            kwargs['work_dir'] = osp.join(args.work_dir, tool)
        print(f'[study] {args.method}: {tool} {ckpt} {kwargs}', flush=True)
        t0 = time.perf_counter()
        try:
            PROBE_FUNCTIONS[tool](config, ckpt, **kwargs)
            status = 'ok'
        except Exception as exc:
            traceback.print_exc()
            failures += 1
            status = f'{type(exc).__name__}: {exc}'[:300]
        wall = round(time.perf_counter() - t0, 1)
        if status == 'ok':
            append_tagged(out, args.records,
                          dict(meta, split='test', wall_seconds=wall))
        else:
            _append(args.records, dict(tool=tool, value=None, status=status,
                                       wall_seconds=wall, **meta,
                                       split='test'))
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
    return 1 if failures else 0


def _kill(proc: subprocess.Popen) -> None:
    """SIGTERM the child's process group (its loader workers too), then
    SIGKILL after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            pass


def _tail(path: str, lines: int = 60) -> str:
    if not osp.isfile(path):
        return '(no log)\n'
    with open(path, errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def run_parent(args: argparse.Namespace, child: Sequence[str]) -> int:
    """Launch every method at once, wait, merge the records, summarise.

    Args:
        args (argparse.Namespace): ``out``, ``work_root``, ``toy``,
            ``methods``, ``seed``, ``data_root``, ``budget_s``,
            ``train_deadline_s`` of the study's command line.
        child (Sequence[str]): The command that runs one method
            (:func:`run_child`) given ``--child METHOD`` and the rest.

    Returns:
        int: 0, or 1 if a run failed or was terminated.
    """
    # A SIGTERM (the script's time limit) stops the runs; what they
    # recorded is still merged and summarised.
    terminated = []
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(1))
    size_name = 'toy' if args.toy else 'gpu'
    size = SIZES[size_name]
    budget = args.budget_s or size['budget_s']
    deadline = args.train_deadline_s or size['train_deadline_s']
    out_dir = osp.abspath(args.out)
    work_root = osp.abspath(args.work_root)
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(work_root, exist_ok=True)
    cores = os.cpu_count() or 1
    workers = split_workers(cores,
                            OrderedDict((m, METHODS[m]['cpu_ms'])
                                        for m in args.methods))
    env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1',
               PYTHONUNBUFFERED='1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (REPO_ROOT, env.get('PYTHONPATH')) if p)
    data_root = repo_path(args.data_root)
    if args.toy:
        data_root = write_head(data_root, osp.join(work_root, 'toy-data'),
                               size['head_images'])
    results = osp.join(out_dir, 'study.jsonl')
    if osp.exists(results):
        os.remove(results)
    _append(results, dict(
        tool='env', size=size_name, cores=cores, workers=workers,
        budget_s=budget, train_deadline_s=deadline, data_root=data_root,
        planned_steps=planned_steps(size), python=platform.python_version(),
        machine=platform.machine(), host=platform.node(),
        date=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())))
    print(f'[study] {size_name}: {len(args.methods)} runs at once, '
          f'{planned_steps(size)} steps each, workers {dict(workers)}, '
          f'budget {budget:.0f} s', flush=True)
    start = time.monotonic()
    procs = OrderedDict()
    for method in args.methods:
        work_dir = osp.join(work_root, method)
        shutil.rmtree(work_dir, ignore_errors=True)  # no stale checkpoint
        os.makedirs(work_dir)
        records = osp.join(work_dir, 'records.jsonl')
        cmd = [*child, '--child', method,
               '--size', size_name, '--work-dir', work_dir, '--records',
               records, '--num-workers', str(workers[method]),
               '--concurrent', str(len(args.methods)),
               '--train-deadline-s', str(deadline), '--seed', str(args.seed),
               '--data-root', data_root]
        log = open(osp.join(work_root, f'{method}.log'), 'w')
        procs[method] = (subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
            cwd=REPO_ROOT,
            start_new_session=True), log, records)
    ended = {}

    def stop_all(reason: str) -> None:
        for method, (proc, log, _) in procs.items():
            if method not in ended:
                print(f'[study] {method}: {reason}, terminating', flush=True)
                _kill(proc)
                ended[method] = (proc.returncode,
                                 round(time.monotonic() - start, 1), True)

    while len(ended) < len(procs):
        for method, (proc, log, _) in procs.items():
            if method not in ended and proc.poll() is not None:
                ended[method] = (proc.returncode,
                                 round(time.monotonic() - start, 1), False)
                print(f'[study] {method} exited {proc.returncode} after '
                      f'{ended[method][1]} s', flush=True)
        if terminated:
            stop_all('SIGTERM')
        elif time.monotonic() - start > budget:
            stop_all(f'over the {budget:.0f} s budget')
        time.sleep(0.2)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    merged = []
    for method, (proc, log, records) in procs.items():
        log.close()
        rc, wall, killed = ended[method]
        if osp.isfile(records):
            merged.extend(read_records(records))
        merged.append(dict(tool='process', method=method,
                           lr=METHODS[method]['lr'], seed=args.seed,
                           split='process', returncode=rc,
                           wall_seconds=wall, killed=killed))
    with open(results, 'a') as f:
        for record in merged:
            f.write(json.dumps(record) + '\n')
    text = study_summary(read_records(results))
    with open(osp.join(out_dir, 'study_summary.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(out_dir, 'study_logs.txt'), 'w') as f:
        for method in procs:
            f.write(f'===== {method} (last lines of its log) =====\n')
            f.write(_tail(osp.join(work_root, f'{method}.log')))
    print(text, flush=True)
    failed = [m for m, (rc, _, killed) in ended.items() if rc or killed]
    if failed:
        print(f'[study] failed or terminated: {failed}; see '
              f'{osp.join(out_dir, "study_logs.txt")}', flush=True)
    return 1 if failed else 0
