"""Training-step throughput of SiameseIM, MAE and MoCo-v3 (ViT-B/16).

Builds each model from its config (SiameseIM from ours, MAE and MoCo-v3 from
the configs shipped inside mmpretrain), builds the optimizer wrapper with
mmengine's ``build_optim_wrapper`` and times full training steps
(``model.train_step``: data preprocessor, forward, loss, backward, gradient
clipping where configured, optimizer step) on one batch of random images
(SiameseIM's made by its config's own view, mask and packing transforms,
:func:`~projects.study_bench.throughput.models.make_batch`), one
process, one device. SyncBN is reverted to BN;
SiameseIM's TokenBN runs single-process.
Every step is bracketed by ``torch.cuda.synchronize()`` for timing only; the
reported ``img_per_s`` is ``batch / median step time`` over ``--steps`` steps
after ``--warmup`` steps. ``tflops`` is the achieved rate from the analytic
training FLOPs per image (:mod:`projects.study_bench.throughput.flops`,
sizes read from the timed config; 1 MAC = 2 FLOPs, backward = 2x forward
for trained layers; docs/benchmarks.md). The pieces live in
``projects/study_bench/throughput/``; this is the command line.

One JSON line per (model, batch, dtype, compile) goes to stdout and, with
``--out``, is appended to that file. Eager configurations run first, then
the compiled ones (``--compile``, or only the models of
``--compile-models``); ``--deadline-s`` skips configurations that would
start late, so a long compilation costs compiled rows only.

Examples:
    # the GPU table (see tools/benchmarks/run_gpu_benchmarks.sh)
    python tools/benchmarks/pretrain_throughput.py --device cuda \\
        --models siameseim,mae,mocov3 --batch-sizes 64,128,256 \\
        --dtypes fp16,bf16 --steps 30 --warmup 10 --out results.jsonl
    # the short GPU command (see tools/benchmarks/gpu/throughput.sh)
    python tools/benchmarks/pretrain_throughput.py --device cuda \\
        --models siameseim,mae,mocov3 --compile-models siameseim,mae \\
        --batch-sizes 128 --dtypes bf16 --deadline-s 150 --out t.jsonl
    # CPU smoke test with tiny widths
    python tools/benchmarks/pretrain_throughput.py --device cpu --tiny \\
        --batch-sizes 4 --steps 2 --warmup 1
"""
import argparse
import sys
from typing import Optional, Sequence

from projects.study_bench.cli import csv_list
from projects.study_bench.throughput.benchmark import run_all
from projects.study_bench.throughput.models import DTYPES, MODEL_NAMES
from projects.study_bench.throughput.summary import summarize

#: The on/off options: flag -> help.
FLAGS = {
    '--compile': 'also time each configuration with torch.compile',
    '--compile-only': 'time only the compiled runs (implies --compile)',
    '--tiny': 'tiny widths and 32 px images (CPU smoke test)',
    '--tf32': 'allow TF32 matmuls/convolutions (off by default, as upstream)',
    '--fused-adamw': 'AdamW(fused=True) instead of the default foreach AdamW',
    '--sync-debug': 'after timing, count synchronising CUDA calls of a step',
}


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Pretraining step throughput (JSON lines).')
    add = parser.add_argument
    add('--models', type=csv_list(str, MODEL_NAMES),
        default=list(MODEL_NAMES),
        help='comma-separated subset of siameseim,mae,mocov3')
    add('--batch-sizes', type=csv_list(int), default=[64, 128, 256],
        help='per-device batch sizes, e.g. 64,128,256')
    add('--dtypes', type=csv_list(str, DTYPES), default=['fp16', 'bf16'],
        help='AMP dtypes (fp16, bf16) or fp32; the CPU runs fp32 only')
    add('--steps', type=int, default=30)
    add('--warmup', type=int, default=10)
    for flag, text in FLAGS.items():
        add(flag, action='store_true', help=text)
    add('--compile-models', type=csv_list(str, MODEL_NAMES),
        help='models that also get a compiled run (implies --compile; '
        'default with --compile: all of --models)')
    add('--deadline-s', type=float,
        help='start no configuration but the first later than this many '
        'seconds after the first started; those get a status="skipped" '
        'record')
    add('--compile-target', choices=('modules', 'train_step'),
        default='modules', help='what --compile compiles (see compile_model)')
    add('--compile-backend', default='inductor',
        help="torch.compile backend ('eager' checks tracing only)")
    add('--device', default='cuda')
    add('--siameseim-cfg-options', nargs='+', action=DictAction,
        help='overrides of the SiameseIM config, e.g. '
        'model.backbone.num_masked=118 model.sync_free_ema=False')
    add('--seed', type=int, default=0)
    add('--out', help='append the JSON lines to this file')
    add('--summarize', metavar='JSONL',
        help='only print a markdown table of an earlier output file')
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error('--steps must be >= 1 and --warmup >= 0')
    if args.compile_models is not None:
        args.compile = True
        unknown = [m for m in args.compile_models if m not in args.models]
        if unknown:
            parser.error(f'--compile-models {unknown} not in --models')
    if args.compile_only:
        args.compile = True
    if args.deadline_s is not None and args.deadline_s <= 0:
        parser.error('--deadline-s must be > 0')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark (or print ``--summarize``); the exit status."""
    args = parse_args(argv)
    if args.summarize:
        print(summarize(args.summarize))
        return 0
    return run_all(args)


if __name__ == '__main__':
    sys.exit(main())
