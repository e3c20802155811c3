"""The short GPU study: SiameseIM, MAE, MoCo v3 and the same-view row,
trained at the same time on one GPU, then probed.

Each method of :data:`METHODS` trains its ``projects/study_bench/configs/reproduction/`` config
(mmpretrain's own MAE and MoCo v3 algorithms; the 192-wide, 6-block ViT at
32 px) in its own process, all processes at once on the one GPU, for a fixed
number of epochs (:data:`SIZES`: 8 epochs of the 60k Fashion-MNIST train
images at batch 256 = 1872 steps), at one learning rate per method fixed
beforehand (docs/reproduction.md, "GPU runs"). The CPU cores are shared out
as dataloader workers in proportion to each pipeline's measured cost per
sample (:func:`split_workers`). After training, the same process runs the
probe CLIs ``tools/benchmarks/{knn_eval,linear_probe,dense_probe}.py`` on
the last checkpoint: each script is executed as ``__main__`` with its
command line (``runpy``), so the interpreter start-up is paid once per
method.

Records (JSON lines, merged into ``OUT/study.jsonl``):

* ``tool='train'``, ``metric='gpu_seconds'``: wall seconds of the training
  loop (the GPU is shared by ``concurrent_runs`` processes), steps done and
  planned, steady-state img/s, the fraction of step time spent waiting for
  the dataloader, peak GPU memory, final loss, the online kNN monitor at
  init and at the end;
* one record per probe, as the CLI writes it (``knn_eval``: ``knn_top1``,
  ``linear_probe``: ``linear_top1``, ``dense_probe``: ``miou``), plus
  ``wall_seconds``;
* ``tool='process'``: exit status and wall time of each method's process;
  ``tool='env'``: the machine.

Every record carries ``method``, ``lr``, ``seed`` and ``split`` as
``summarize_reproduction.py`` expects. ``summarize.py study`` turns the file
into the table of docs/reproduction.md.

A training that would run past ``--train-deadline-s`` stops at the end of
the epoch before (``truncated: true`` in its record) and is still probed;
processes still running at ``--budget-s`` are terminated. ``--toy`` runs the
same code at toy size on the CPU (the test of ``make test``).

Usage:
    python tools/benchmarks/gpu/study.py --out OUT_DIR [--toy]
        [--methods siameseim mae mocov3 siameseim-sameview]
"""
import argparse
import gc
import json
import os
import os.path as osp
import platform
import runpy
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

from projects.study_bench.fashion_mnist import write_head
from projects.study_bench.studies.records import append_tagged, read_records

HERE = osp.dirname(osp.abspath(__file__))
ROOT = osp.dirname(osp.dirname(osp.dirname(HERE)))
BENCH = osp.dirname(HERE)

REPRO = 'projects/study_bench/configs/reproduction/'
# lr: fixed beforehand from the CPU preview (docs/reproduction.md): the best
# lr at batch 64 there times sqrt(256 / 64) = 2. cpu_ms: CPU time of one
# sample of the method's train pipeline (decode from the IDX array, both
# views, mask, packing), measured on the 2-core development machine; only
# the ratios matter (the worker split).
METHODS = OrderedDict([
    ('siameseim', dict(
        config=REPRO + 'siameseim_vit-tiny-p4_1xb256-amp-coslr-100e_'
        'fashion-mnist.py', lr=6e-4, cpu_ms=0.46)),
    ('mae', dict(
        config=REPRO + 'mae_vit-tiny-p4_1xb256-amp-coslr-100e_'
        'fashion-mnist.py', lr=2e-3, cpu_ms=0.19)),
    ('mocov3', dict(
        config=REPRO + 'mocov3_vit-tiny-p4_1xb256-amp-coslr-100e_'
        'fashion-mnist.py', lr=6e-3, cpu_ms=0.83)),
    ('siameseim-sameview', dict(
        config=REPRO + 'siameseim-sameview_vit-tiny-p4_1xb256-amp-coslr-'
        '100e_fashion-mnist.py', lr=6e-4, cpu_ms=0.46)),
])
# The probes on the last checkpoint: (CLI, split, extra arguments). The
# full-size study uses the CLIs' defaults (the protocol of
# docs/reproduction.md).
PROBES = ('knn_eval', 'linear_probe', 'dense_probe')
SIZES = dict(
    gpu=dict(
        device='cuda',
        epochs=8,
        warmup_epochs=1,
        batch=256,
        train_images=None,  # all 60000
        knn_monitor=(5000, 2000),
        log_interval=50,
        skip_iters=10,
        probe_args=dict(knn_eval=[], linear_probe=[], dense_probe=[]),
        train_deadline_s=150.,
        budget_s=255.),
    toy=dict(
        device='cpu',
        epochs=2,
        warmup_epochs=1,
        batch=8,
        train_images=8,
        knn_monitor=(32, 16),
        log_interval=1,
        skip_iters=0,
        probe_args=dict(
            knn_eval=['--train-size', '32', '--test-size', '16'],
            linear_probe=[
                '--train-size', '32', '--test-size', '16', '--epochs', '2',
                '--warmup-epochs', '1', '--probe-batch-size', '16'
            ],
            dense_probe=[
                '--train-size', '4', '--test-size', '2', '--epochs', '1',
                '--probe-batch-size', '4'
            ]),
        train_deadline_s=120.,
        budget_s=240.,
        head_images=64),  # --toy reads a copy of the first 64 images
)
DATA_ROOT = 'data/fashion-mnist'


# --------------------------------------------------------------------------
# Sizing (pure functions, tested)
# --------------------------------------------------------------------------
def steps_per_epoch(images: int, batch: int) -> int:
    """Training steps of one epoch (the loaders drop the last batch)."""
    return images // batch


def split_workers(cores: int,
                  cost: Dict[str, float],
                  minimum: int = 1) -> Dict[str, int]:
    """Share the cores out as dataloader workers.

    Each method's training process keeps one core (eager PyTorch is bound
    by its host thread); the other ``cores - len(cost)`` become workers,
    one at a time, each to the method whose loader can feed the fewest
    steps per second (``workers / cost``; ties: the earlier method). That
    maximises the slowest loader's rate. Every method gets at least
    ``minimum`` workers, also when that exceeds the cores (toy runs).

    Args:
        cores (int): CPU cores of the machine.
        cost (dict): Method -> CPU milliseconds per sample of its pipeline.
        minimum (int): Workers per method at least. Defaults to 1.

    Returns:
        dict: Method -> number of workers (in the order of ``cost``).
    """
    if any(c <= 0 for c in cost.values()):
        raise ValueError(f'costs must be positive, got {cost}')
    workers = OrderedDict((m, minimum) for m in cost)
    for _ in range(cores - len(cost) - minimum * len(cost)):
        slowest = min(workers, key=lambda m: workers[m] / cost[m])
        workers[slowest] += 1
    return workers


def planned_steps(size: dict, train_images: int = 60000) -> int:
    """Steps of a full run at ``size`` (:data:`SIZES` entry)."""
    images = size['train_images'] or train_images
    return size['epochs'] * steps_per_epoch(images, size['batch'])


# --------------------------------------------------------------------------
# Child: one method's training and probes
# --------------------------------------------------------------------------
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


def mask_count(pipeline: Sequence[dict]) -> Optional[int]:
    """``num_masking_patches`` of the mask generator in ``pipeline``."""
    for step in pipeline:
        if 'num_masking_patches' in step:
            return int(step['num_masking_patches'])
    return None


def study_config(method: str, size: dict, work_dir: str, num_workers: int,
                 seed: int = 0, data_root: str = DATA_ROOT):
    """The reproduction config of ``method`` at the study's size.

    Only the run's length, loader and bookkeeping change; model, pipeline
    and optimiser stay the config's. Numerics-neutral speed settings:
    non-blocking copies of the data samples, SiameseIM's fixed mask count
    (no per-step count of the mask). On the CPU (``--toy``) the AMP wrapper
    becomes a plain one (mmengine's AMP wrapper needs a GPU).

    Args:
        method (str): A key of :data:`METHODS`.
        size (dict): A :data:`SIZES` entry.
        work_dir (str): The run's folder.
        num_workers (int): Dataloader workers.
        seed (int): Seed. Defaults to 0.
        data_root (str): Fashion-MNIST folder of the training and the kNN
            monitor. Defaults to :data:`DATA_ROOT`.

    Returns:
        Config: For ``SafeResumeRunner.from_cfg``.
    """
    from projects.study_bench.config_files import load_config
    from projects.study_bench.sizes import (fp32_optim_wrapper,
                                            rescale_schedule)
    spec = METHODS[method]
    cfg = load_config(spec['config'])
    rescale_schedule(cfg, size['epochs'], warmup=size['warmup_epochs'])
    epochs = size['epochs']
    cfg.work_dir = work_dir
    cfg.optim_wrapper.optimizer.lr = spec['lr']
    cfg.randomness = dict(seed=seed, diff_rank_seed=True)
    loader = cfg.train_dataloader
    loader.update(
        batch_size=size['batch'],
        num_workers=num_workers,
        persistent_workers=True,
        prefetch_factor=4,
        pin_memory=size['device'] == 'cuda')
    loader.dataset.update(indices=size['train_images'], data_root=data_root)
    cfg.model.data_preprocessor.non_blocking = True
    if cfg.model.type == 'SiameseIM':
        cfg.model.backbone.num_masked = mask_count(loader.dataset.pipeline)
    knn = cfg.custom_hooks[0]
    if knn.type != 'KNNMonitorHook':
        raise ValueError(f'{spec["config"]}: custom_hooks[0] is {knn.type}')
    knn.interval = epochs  # at init and after the last epoch
    for name, count in zip(('train_dataloader', 'val_dataloader'),
                           size['knn_monitor']):
        knn[name].dataset.update(indices=count, data_root=data_root)
    cfg.default_hooks.checkpoint = dict(
        type='CheckpointHook',
        interval=1,  # a truncated run keeps its last epoch
        max_keep_ckpts=1,
        save_optimizer=False,
        save_param_scheduler=False)
    cfg.default_hooks.logger = dict(
        type='LoggerHook', interval=size['log_interval'])
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    if size['device'] == 'cpu':
        fp32_optim_wrapper(cfg)
    return cfg


def build_study_hook(deadline_s: float, skip_iters: int = 10):
    """A hook that times the steps and stops a run that would overrun.

    * Step time: from ``before_train_iter`` to ``after_train_iter`` (this
      hook runs last); loader wait: from the end of one step to the start
      of the next within an epoch. The first ``skip_iters`` steps (worker
      start-up, cuDNN autotuning) are not counted.
    * Deadline: after each epoch, if the mean epoch time so far says the
      next epoch would end later than ``deadline_s`` after the start of
      training, training stops (``truncated``); the checkpoint of the epoch
      just finished is the last one.

    Args:
        deadline_s (float): Seconds from ``before_train``.
        skip_iters (int): Steps not timed. Defaults to 10.

    Returns:
        Hook: An mmengine hook with ``summary()``.
    """
    from mmengine.hooks import Hook

    class StudyHook(Hook):
        priority = 'LOWEST'

        def __init__(self):
            self.deadline_s = deadline_s
            self.skip_iters = skip_iters
            self.truncated = False
            self.step_s = self.wait_s = 0.
            self.timed = 0
            self._start = self._iter_start = None
            self._last_end = None
            self._seen = 0

        def before_train(self, runner) -> None:
            self._start = time.perf_counter()

        def before_train_iter(self, runner, batch_idx, data_batch=None):
            now = time.perf_counter()
            if self._last_end is not None and self._seen >= self.skip_iters:
                self.wait_s += now - self._last_end
            self._iter_start = now

        def after_train_iter(self,
                             runner,
                             batch_idx,
                             data_batch=None,
                             outputs=None) -> None:
            now = time.perf_counter()
            if self._seen >= self.skip_iters:
                self.step_s += now - self._iter_start
                self.timed += 1
            self._seen += 1
            self._last_end = now

        def after_train_epoch(self, runner) -> None:
            self._last_end = None  # epoch-end hooks are not loader wait
            done = runner.epoch + 1  # the loop increments after the hooks
            elapsed = time.perf_counter() - self._start
            if done < runner.max_epochs and \
                    elapsed + elapsed / done > self.deadline_s:
                runner.train_loop.stop_training = True
                self.truncated = True

        def summary(self, batch: int) -> dict:
            busy = self.step_s + self.wait_s
            return dict(
                timed_steps=self.timed,
                img_per_s=round(batch * self.timed / busy, 1)
                if busy > 0 else None,
                loader_wait_fraction=round(self.wait_s / busy, 4)
                if busy > 0 else None,
                truncated=self.truncated)

    return StudyHook()


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


def run_cli(script: str, argv: List[str]) -> None:
    """Run a CLI script as ``__main__`` with ``argv`` in this process.

    Raises:
        RuntimeError: If the script exits with a non-zero status.
    """
    saved = sys.argv
    sys.argv = [script] + list(argv)
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as e:
        if e.code not in (0, None):
            raise RuntimeError(f'{osp.basename(script)} exited with '
                               f'{e.code}') from e
    finally:
        sys.argv = saved


def run_child(args: argparse.Namespace) -> int:
    """Train one method, then run the probes; append records."""
    os.chdir(ROOT)  # the configs' data roots are repo-relative
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
        hook = build_study_hook(args.train_deadline_s, size['skip_iters'])
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
    config = osp.join(ROOT, spec['config'])
    failures = int(record['status'] != 'ok')
    for tool in PROBES:
        out = osp.join(args.work_dir, f'{tool}.jsonl')
        if osp.exists(out):
            os.remove(out)
        argv = [config, ckpt, '--device', size['device'], '--data-root',
                args.data_root, '--out', out]
        argv += size['probe_args'][tool]
        print(f'[study] {args.method}: {tool} {" ".join(argv)}', flush=True)
        t0 = time.perf_counter()
        try:
            run_cli(osp.join(BENCH, f'{tool}.py'), argv)
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


# --------------------------------------------------------------------------
# Parent: launch, watch, merge, summarise
# --------------------------------------------------------------------------
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


def run_parent(args: argparse.Namespace) -> int:
    """Launch every method at once, wait, merge the records, summarise."""
    import summarize

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
        p for p in (ROOT, env.get('PYTHONPATH')) if p)
    data_root = osp.join(ROOT, args.data_root)  # unchanged if absolute
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
        cmd = [sys.executable, osp.abspath(__file__), '--child', method,
               '--size', size_name, '--work-dir', work_dir, '--records',
               records, '--num-workers', str(workers[method]),
               '--concurrent', str(len(args.methods)),
               '--train-deadline-s', str(deadline), '--seed', str(args.seed),
               '--data-root', data_root]
        log = open(osp.join(work_root, f'{method}.log'), 'w')
        procs[method] = (subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
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
    text = summarize.study_summary(read_records(results))
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


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/gpu',
                        help='folder of study.jsonl, study_summary.md, '
                        'study_logs.txt')
    parser.add_argument('--work-root', default='work_dirs/gpu_study',
                        help='folder of the runs (checkpoints, logs)')
    parser.add_argument('--toy', action='store_true',
                        help='toy size on the CPU')
    parser.add_argument('--methods', nargs='+', default=list(METHODS),
                        choices=list(METHODS))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--data-root', default=DATA_ROOT,
                        help='Fashion-MNIST IDX folder')
    parser.add_argument('--budget-s', type=float, default=None,
                        help='terminate runs still going after this many '
                        'seconds (default: the size\'s)')
    parser.add_argument('--train-deadline-s', type=float, default=None,
                        help='stop training at the epoch end before this '
                        'many seconds of training (default: the size\'s)')
    # internal: one method in this process
    parser.add_argument('--child', choices=list(METHODS),
                        help=argparse.SUPPRESS)
    parser.add_argument('--size', choices=list(SIZES),
                        help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    parser.add_argument('--records', help=argparse.SUPPRESS)
    parser.add_argument('--num-workers', type=int, help=argparse.SUPPRESS)
    parser.add_argument('--concurrent', type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if len(set(args.methods)) != len(args.methods):
        parser.error('--methods: each method once')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    if args.child:
        args.method = args.child
        return run_child(args)
    return run_parent(args)


if __name__ == '__main__':
    sys.exit(main())
