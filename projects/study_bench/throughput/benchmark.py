"""The throughput benchmark's run: every (model, batch, dtype, compile)
configuration of a command line built, warmed up and timed, one JSON
record each (:data:`REQUIRED_KEYS` at least), eager ones first."""
import argparse
import gc
import math
import statistics
import sys
import time
import traceback
from typing import List, Optional, Sequence

import torch

from ..cli import append_jsonl
from .flops import flop_sizes, train_gflops_per_image
from .models import (CONFIGS, build_model, build_optim_wrapper, compile_model,
                     load_config, make_batch)
from .timing import count_host_syncs, environment, round_sig, time_steps

REQUIRED_KEYS = ('model', 'batch', 'dtype', 'compile', 'img_per_s',
                 'peak_mem_gib', 'tflops', 'device', 'torch', 'date')


def run_one(name: str, batch: int, dtype: str, compile_target: str,
            args: argparse.Namespace, device: torch.device,
            cfg_options: Optional[dict]) -> dict:
    """Build, warm up and time one configuration; returns its record."""
    from mmengine.logging import MessageHub
    MessageHub.get_current_instance().update_info(
        'max_iters', 10 * (args.steps + args.warmup + 2))
    cfg = load_config(name, args.tiny, cfg_options)
    model = build_model(name, cfg, device)
    if compile_target:
        model = compile_model(model, compile_target, args.compile_backend)
    optim_wrapper = build_optim_wrapper(model, cfg, dtype, device,
                                        args.fused_adamw)
    data = make_batch(name, batch, device, cfg, args.seed, model)
    last = {}

    def step():
        last['log_vars'] = model.train_step(data, optim_wrapper)

    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times = time_steps(step, device, args.steps, args.warmup)
    peak = None
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device) / 2**30
    syncs = count_host_syncs(step, device) if args.sync_debug else None
    loss = float(last['log_vars']['loss'].detach())
    median = statistics.median(times)
    gflops = train_gflops_per_image(name, flop_sizes(name, cfg), batch)
    img_per_s = batch / median
    return dict(
        model=name,
        batch=batch,
        dtype=dtype,
        compile=compile_target or False,
        img_per_s=round(img_per_s, 2),
        step_ms=round(1e3 * median, 3),
        step_ms_min=round(1e3 * min(times), 3),
        steps=len(times),
        warmup=args.warmup,
        peak_mem_gib=None if peak is None else round(peak, 3),
        gflop_per_img=round_sig(gflops),
        tflops=round_sig(img_per_s * gflops / 1e3),
        host_syncs=syncs,
        loss=loss if math.isfinite(loss) else str(loss),
        optim_wrapper=type(optim_wrapper).__name__,
        fused_adamw=args.fused_adamw,
        tf32=args.tf32,
        tiny=args.tiny,
        config=CONFIGS[name],
        cfg_options=cfg_options or None,
        status='ok')


def run_plan(args: argparse.Namespace,
             dtypes: Sequence[str]) -> List[tuple]:
    """``(model, batch, dtype, compile target)`` in the order they run.

    Every eager configuration comes first and every compiled one after, so
    that a compilation that runs long (or past ``--deadline-s``) costs only
    compiled rows. ``''`` is eager.
    """
    compiled = args.compile_models if args.compile_models is not None \
        else args.models
    eager = [] if args.compile_only else [
        (name, batch, dtype, '') for name in args.models
        for batch in args.batch_sizes for dtype in dtypes
    ]
    if not args.compile:
        return eager
    return eager + [(name, batch, dtype, args.compile_target)
                    for name in args.models if name in compiled
                    for batch in args.batch_sizes for dtype in dtypes]


def run_all(args: argparse.Namespace) -> int:
    """Time every configuration of ``args`` (the tool's command line).

    Returns:
        int: 0, 1 if a configuration failed, 2 without the asked device.
    """
    if args.steps < 20 and not args.tiny:
        print('warning: --steps < 20; the median is noisy', file=sys.stderr)
    device = torch.device(args.device)
    if device.type == 'cuda' and not torch.cuda.is_available():
        print('error: CUDA is not available; use --device cpu --tiny',
              file=sys.stderr)
        return 2
    dtypes = args.dtypes
    if device.type == 'cpu' and dtypes != ['fp32']:
        print('note: AMP needs an accelerator; the CPU runs fp32',
              file=sys.stderr)
        dtypes = ['fp32']
    if device.type == 'cuda':
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = args.tf32
        torch.backends.cudnn.allow_tf32 = args.tf32
        torch.backends.cudnn.benchmark = True

    import logging

    from mmengine.logging import MMLogger
    from mmpretrain.utils import register_all_modules

    import mmsiameseim  # noqa: F401  registers our modules
    register_all_modules(init_default_scope=True)
    # mmengine logs to stdout: keep stdout for the JSON lines
    MMLogger.get_instance('mmengine').setLevel(logging.ERROR)
    env = environment(device)
    failures = 0
    start = time.monotonic()
    for index, (name, batch, dtype, target) in enumerate(
            run_plan(args, dtypes)):
        cfg_options = args.siameseim_cfg_options if name == 'siameseim' \
            else None
        torch.manual_seed(args.seed)
        elapsed = time.monotonic() - start
        untimed = dict(model=name, batch=batch, dtype=dtype,
                       compile=target or False, img_per_s=None,
                       peak_mem_gib=None, tflops=None)
        if index and args.deadline_s is not None and \
                elapsed > args.deadline_s:
            record = dict(untimed, status='skipped',
                          error=f'not started: {elapsed:.0f} s > '
                          f'--deadline-s {args.deadline_s:g}')
        else:
            try:
                record = run_one(name, batch, dtype, target, args, device,
                                 cfg_options)
            except torch.cuda.OutOfMemoryError as exc:
                record = dict(untimed, status='oom',
                              error=str(exc).splitlines()[0])
            except Exception as exc:  # keep the table going
                failures += 1
                traceback.print_exc()
                record = dict(untimed, status='error',
                              error=f'{type(exc).__name__}: {exc}'[:500])
        record['seconds'] = round(time.monotonic() - start - elapsed, 3)
        record.update(env)
        append_jsonl(args.out, record)
        gc.collect()
        if device.type == 'cuda':
            torch.cuda.empty_cache()
        if target:
            torch._dynamo.reset()
    return 1 if failures else 0
