"""Two-view data-pipeline throughput per worker process (CPU).

Runs, in one process and interleaved round by round, the training pipelines
of

- ``siameseim``: ours (``configs/siameseim/_base_/imagenet_siameseim_views.py``
  : ``LoadImageFromFile`` -> ``SiameseIMViews`` -> ``BlockwiseMaskGenerator``
  -> ``PackInputs``), with the configs' Pillow resize (anti-aliased, as the
  original's PIL crops) and the colour ops in the worker
  (``colour_on='worker'``);
- ``siameseim-device``: the worker part of the configs' device colour route
  (``colour_on='device'``: the colour parameters are drawn, not applied);
- ``siameseim-cv2``: ``siameseim`` with ``SiameseIMViews(backend='cv2')``;
- ``mocov3``: mmpretrain's MoCo-v3 ViT pipeline (``LoadImageFromFile`` ->
  ``MultiView`` of two ``RandomResizedCrop`` + colour + blur + solarize +
  flip branches -> ``PackInputs``), from its installed config;

on real JPEG files (see ``make_jpeg_corpus.py``; made on the fly unless
``--corpus`` is given). One process = one dataloader worker: ``torch`` runs
one thread (as in PyTorch's workers) and ``cv2.setNumThreads`` is set from
``--cv2-threads`` (0 = no OpenCV thread pool, what mmengine's default
``env_cfg.opencv_num_threads=0`` sets). ``samples_per_s`` counts two-view
samples (one image, both views, mask and packing) per second.

``--profile`` adds one line per pipeline with the seconds per sample spent in
every transform (nested colour ops included). Commands and results:
``docs/benchmarks.md`` §2.
"""
import argparse
import datetime
import json
import math
import os
import os.path as osp
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

OURS = 'configs/siameseim/_base_/imagenet_siameseim_views.py'
PIPELINES = {
    'siameseim': OURS, 'siameseim-cv2': OURS, 'siameseim-device': OURS,
    'mocov3': 'mmpretrain::mocov3/'
    'mocov3_vit-base-p16_16xb256-amp-coslr-300e_in1k.py'
}
#: ``SiameseIMViews`` options that a pipeline variant overrides.
VIEW_OVERRIDES = {'siameseim': dict(colour_on='worker'),
                  'siameseim-cv2': dict(backend='cv2', colour_on='worker'),
                  'siameseim-device': dict(colour_on='device')}
#: Record key -> (pipeline, pipeline): the first's rate over the second's.
RATIOS = {'pillow_over_cv2': ('siameseim', 'siameseim-cv2'),
          'siameseim_over_mocov3': ('siameseim', 'mocov3'),
          'device_over_worker': ('siameseim-device', 'siameseim'),
          'device_over_mocov3': ('siameseim-device', 'mocov3')}
FEED_TARGET = 2000  # img/s per GPU to feed (the compiled target)


def build_pipeline(name: str):
    """The ``train_pipeline`` of ``name``'s config as an mmcv ``Compose``."""
    from mmcv.transforms import Compose
    from mmpretrain.registry import TRANSFORMS

    from projects.study_bench.config_files import load_config
    cfg = load_config(PIPELINES[name])
    steps = []
    for t in cfg.train_pipeline:
        if t['type'] == 'SiameseIMViews':
            t = dict(t, **VIEW_OVERRIDES.get(name, {}))
        steps.append(TRANSFORMS.build(t))
    return Compose(steps)


class _Timed:
    """Wrap a transform and add its wall time to ``stats[key]``."""

    def __init__(self, transform, key: str, stats: Dict[str, float]):
        self.transform = transform
        self.key = key
        self.stats = stats

    def __call__(self, results):
        start = time.perf_counter()
        out = self.transform(results)
        self.stats[self.key] += time.perf_counter() - start
        return out


def instrument(compose, stats: Dict[str, float], prefix: str = '') -> None:
    """Time every transform of ``compose`` and of its nested pipelines
    (``SiameseIMViews`` colour pipelines, ``MultiView`` branches,
    ``RandomApply``) in place."""
    for i, t in enumerate(compose.transforms):
        key = f'{prefix}{i}.{type(t).__name__}'
        drawn = getattr(t, 'colour_on', '') == 'device'  # ops only draw
        for attr in ('transforms', ) if drawn else (
                'online_pipeline', 'target_pipeline', 'transforms'):
            inner = getattr(t, attr, None)
            if hasattr(inner, 'transforms'):
                instrument(inner, stats, f'{key}.{attr}.')
        for j, branch in enumerate(getattr(t, 'pipelines', None) or []):
            if hasattr(branch, 'transforms'):
                instrument(branch, stats, f'{key}.view{j}.')
        compose.transforms[i] = _Timed(t, key, stats)


def run_pipeline(pipeline, paths: Sequence[str], start: int,
                 count: int) -> Tuple[float, float]:
    """Wall and process-CPU seconds to push ``count`` images (cycling from
    ``start``) through ``pipeline``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for k in range(count):
        path = paths[(start + k) % len(paths)]
        out = pipeline(dict(img_path=path))
        if out is None:
            raise RuntimeError(f'pipeline returned None for {path}')
    return time.perf_counter() - wall, time.process_time() - cpu


def check_output(name: str, pipeline, path: str) -> dict:
    """Run one sample and describe what it packs (a sanity check)."""
    out = pipeline(dict(img_path=path))
    inputs = out['inputs']
    shapes = [tuple(v.shape) for v in inputs] if isinstance(
        inputs, (list, tuple)) else [tuple(inputs.shape)]
    desc = dict(views=shapes)
    sample = out['data_samples']
    if 'mask' in sample:
        desc['masked'] = int(np.asarray(sample.mask).sum())
    if 'rel_pos' in sample:
        desc['rel_pos'] = len(np.asarray(sample.rel_pos))
    if 'colour_params' in sample:
        desc['colour_params'] = list(np.asarray(sample.colour_params).shape)
    if len(shapes) != 2 or (name != 'mocov3' and desc.get('masked') != 118):
        raise RuntimeError(f'unexpected {name} sample: {desc}')
    return desc


def cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return name


def environment() -> dict:
    import cv2
    import mmcv
    import mmengine
    import mmpretrain
    import PIL
    import torch
    return dict(
        machine=f'{cpu_name()}, {os.cpu_count()} logical CPUs',
        python=platform.python_version(),
        numpy=np.__version__,
        opencv=cv2.__version__,
        pillow=PIL.__version__,
        torch=torch.__version__,
        mmcv=mmcv.__version__,
        mmengine=mmengine.__version__,
        mmpretrain=mmpretrain.__version__,
        date=datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec='seconds'))


def warm_malloc(mib: int) -> None:
    """Allocate and free ``mib`` MiB once, as a worker that decoded a large
    image did (glibc's dynamic mmap threshold, docs/benchmarks.md §2)."""
    if mib > 0:
        np.ones(mib << 20, dtype=np.uint8)  # touched, then freed at once


def benchmark(names: Sequence[str], paths: Sequence[str], rounds: int,
              per_round: int, warmup: int, cv2_threads: int,
              seed: int) -> List[dict]:
    """Interleaved timing of the pipelines; one record per pipeline."""
    pipelines = {n: build_pipeline(n) for n in names}
    checks = {}
    for name, pipeline in pipelines.items():
        np.random.seed(seed)
        checks[name] = check_output(name, pipeline, paths[0])
        run_pipeline(pipeline, paths, 0, warmup)
    wall, cpu = defaultdict(list), defaultdict(list)
    for r in range(rounds):
        order = names if r % 2 == 0 else list(reversed(names))
        for name in order:
            np.random.seed(seed + r)
            w, c = run_pipeline(pipelines[name], paths, r * per_round,
                                per_round)
            wall[name].append(w)
            cpu[name].append(c)
    records = []
    total = per_round * rounds
    for name in names:
        rate = total / sum(cpu[name])
        records.append(
            dict(
                pipeline=name,
                samples_per_s=round(rate, 2),
                ms_per_sample=round(1e3 / rate, 3),
                wall_samples_per_s=round(total / sum(wall[name]), 2),
                round_samples_per_s=[
                    round(per_round / c, 2) for c in cpu[name]
                ],
                per='worker process (1 torch thread); rate from process '
                'CPU time',
                cv2_threads=cv2_threads,
                n_images=len(paths),
                samples=total,
                workers_for_2000_img_s=math.ceil(FEED_TARGET / rate),
                output=checks[name],
                config=PIPELINES[name]))
    add_ratios(records, cpu, wall)
    return records


def add_ratios(records: List[dict], cpu: Dict[str, list],
               wall: Dict[str, list]) -> None:
    """Add each :data:`RATIOS` pair that ran to every record: over the run
    (CPU, wall), per round (back to back, same images), rounds' median."""
    ran, fields = {r['pipeline'] for r in records}, {}
    for key, (a, b) in RATIOS.items():
        if a in ran and b in ran:
            rounds = [tb / ta for ta, tb in zip(cpu[a], cpu[b])]
            fields.update({
                key: round(sum(cpu[b]) / sum(cpu[a]), 3),
                f'{key}_wall': round(sum(wall[b]) / sum(wall[a]), 3),
                f'{key}_rounds': [round(x, 3) for x in rounds],
                f'{key}_median': round(float(np.median(rounds)), 3)})
    for r in records:
        r.update(fields)


def profile(names: Sequence[str], paths: Sequence[str], count: int,
            cv2_threads: int, seed: int) -> List[dict]:
    """Seconds per sample spent in every (nested) transform."""
    records = []
    for name in names:
        pipeline = build_pipeline(name)
        stats: Dict[str, float] = defaultdict(float)
        instrument(pipeline, stats)
        np.random.seed(seed)
        _, cpu = run_pipeline(pipeline, paths, 0, count)
        records.append(
            dict(
                pipeline=name,
                profile_ms_per_sample={
                    k: round(1e3 * v / count, 3)
                    for k, v in stats.items()
                },
                cpu_ms_per_sample=round(1e3 * cpu / count, 3),
                samples=count,
                cv2_threads=cv2_threads))
    return records


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Two-view pipeline samples/s per worker (JSON lines).')
    parser.add_argument(
        '--pipelines',
        default='siameseim,siameseim-cv2,mocov3',
        help='comma-separated subset of siameseim (Pillow resize, colour '
        'in the worker), siameseim-device (the configs\' device colour '
        'route), siameseim-cv2 (cv2 resize), mocov3')
    parser.add_argument(
        '--corpus',
        help='folder of JPEGs (img_*.jpg); default: make one in a temp dir')
    parser.add_argument('--num-images', type=int, default=300)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument(
        '--per-round',
        type=int,
        default=None,
        help='samples per pipeline per round (default: all images)')
    parser.add_argument('--warmup', type=int, default=10)
    parser.add_argument(
        '--cv2-threads',
        default='0',
        help='comma-separated cv2.setNumThreads values to run, e.g. 0,2')
    parser.add_argument(
        '--profile',
        type=int,
        nargs='?',
        const=100,
        default=0,
        help='also profile the transforms over this many samples')
    parser.add_argument(
        '--malloc-warmup-mib',
        type=int,
        default=16,
        help='allocate and free this many MiB before timing (see '
        'warm_malloc); 0 = measure a fresh process')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--label', help='free text stored in every record (e.g. a variant)')
    parser.add_argument('--out', help='append the JSON lines to this file')
    args = parser.parse_args(argv)
    args.pipelines = [p for p in args.pipelines.split(',') if p]
    bad = [p for p in args.pipelines if p not in PIPELINES]
    if bad or not args.pipelines:
        parser.error(f'--pipelines: choose from {list(PIPELINES)}')
    args.cv2_threads = [int(t) for t in args.cv2_threads.split(',') if t]
    if args.rounds < 1 or args.num_images < 1:
        parser.error('--rounds and --num-images must be >= 1')
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    import cv2
    import torch
    torch.set_num_threads(1)  # as in a DataLoader worker
    from projects.study_bench.throughput.jpeg_corpus import list_corpus
    from mmpretrain.utils import register_all_modules

    import mmsiameseim  # noqa: F401  registers our transforms
    register_all_modules(init_default_scope=True)
    if 'mocov3' in args.pipelines:
        # mmpretrain's ColorJitter calls mmcv 2.1's adjust_hue, which
        # raises under NumPy 2 for negative hue shifts
        from projects.study_bench.throughput.mmcv_hue import \
            patch_mmcv_adjust_hue
        patch_mmcv_adjust_hue()

    tmp = None
    if args.corpus:
        paths = list_corpus(args.corpus)[:args.num_images]
        if not paths:
            print(f'error: no img_*.jpg in {args.corpus}', file=sys.stderr)
            return 2
    else:
        # in a child process: decoding scikit-image's large photos here
        # would change this process's malloc state (see warm_malloc)
        tmp = tempfile.TemporaryDirectory(prefix='jpeg_corpus_')
        cmd = [
            sys.executable,
            osp.join(osp.dirname(osp.abspath(__file__)),
                     'make_jpeg_corpus.py'), tmp.name, '-n',
            str(args.num_images), '--seed',
            str(args.seed)
        ]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        paths = list_corpus(tmp.name)
    per_round = args.per_round or len(paths)
    warm_malloc(args.malloc_warmup_mib)
    env = environment()
    env['malloc_warmup_mib'] = args.malloc_warmup_mib
    lines = []
    try:
        for threads in args.cv2_threads:
            cv2.setNumThreads(threads)
            records = benchmark(args.pipelines, paths, args.rounds,
                                per_round, args.warmup, threads, args.seed)
            if args.profile:
                records += profile(args.pipelines, paths, args.profile,
                                   threads, args.seed)
            for record in records:
                if args.label:
                    record['label'] = args.label
                record.update(env)
                lines.append(json.dumps(record))
                print(lines[-1], flush=True)
    finally:
        if tmp is not None:
            tmp.cleanup()
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'a') as f:
            f.write('\n'.join(lines) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
