"""Time the device half of the colour route: ms per batch of views.

The ImageNet configs draw the colour parameters in the dataloader workers
(``SiameseIMViews(colour_on='device')``) and apply them in
``SiameseIMDataPreprocessor``. This times that application,
``apply_colour_params_`` on both views of a batch in one call, as the
preprocessor makes it, with records drawn by
the configs' own colour pipelines (so the mix of jitter, grayscale, blur
and solarize is the real one): a batch of N views is N/2 samples, i.e.
N/2 view-1 (online: blur always) and N/2 view-2 (target) images; 256
views is one training step at batch 128. One JSON line per batch size.

Run with the repository on ``PYTHONPATH`` (or the package installed)::

    python tools/benchmarks/colour_device_cost.py --device cpu
    python tools/benchmarks/colour_device_cost.py --device cuda
"""
import argparse
import json
import os.path as osp
import platform
import statistics
import time
from typing import List, Optional, Sequence

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VIEWS_CONFIG = osp.join(ROOT, 'configs', 'siameseim', '_base_',
                        'imagenet_siameseim_views.py')


def draw_records(num_samples: int, seed: int,
                 config: str = VIEWS_CONFIG) -> np.ndarray:
    """``(num_samples, 2, NUM_FIELDS)`` records drawn by the colour ops of
    the ``SiameseIMViews`` of ``config``'s training pipeline."""
    from mmengine.config import Config
    from mmpretrain.registry import TRANSFORMS

    import mmsiameseim  # noqa: F401  registers the transforms
    pipeline = Config.fromfile(config).train_dataloader.dataset.pipeline
    cfg = next(t for t in pipeline if t['type'] == 'SiameseIMViews')
    views = TRANSFORMS.build(dict(cfg.to_dict(), colour_on='device'))
    np.random.seed(seed)
    return np.stack([
        np.stack([views.draw_colour(views.online_pipeline),
                  views.draw_colour(views.target_pipeline)])
        for _ in range(num_samples)
    ])


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``) or the platform's name for it."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sync(device: torch.device) -> None:
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def time_batch(num_views: int, size: int, device: torch.device,
               repeats: int, warmup: int, seed: int,
               config: str = VIEWS_CONFIG) -> dict:
    """Median ms to apply the records to ``num_views`` views (both views
    of ``num_views // 2`` samples in one call, as the data preprocessor
    does), inputs already on ``device``."""
    from mmsiameseim.models.utils.batch_colour import apply_colour_params_
    from mmsiameseim.models.utils.colour_params import INDEX
    n = num_views // 2
    records = draw_records(n, seed, config)
    g = torch.Generator().manual_seed(seed)
    views = torch.randint(0, 256, (2 * n, 3, size, size), generator=g,
                          dtype=torch.uint8).to(device).float()
    flat = records.transpose(1, 0, 2).reshape(2 * n, -1)  # view-major
    times = []
    for k in range(warmup + repeats):
        inputs = views.clone()
        _sync(device)
        start = time.perf_counter()
        apply_colour_params_(inputs, flat)
        _sync(device)
        if k >= warmup:
            times.append(time.perf_counter() - start)
    return dict(
        views=2 * n,
        samples=n,
        img_size=size,
        ms_per_batch=round(1e3 * statistics.median(times), 2),
        ms_min=round(1e3 * min(times), 2),
        repeats=repeats,
        blurred_views=int(records[..., INDEX['blur']].sum()))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--batch-views', default='128,256',
                        help='comma-separated numbers of views per batch')
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--config', default=VIEWS_CONFIG,
                        help='config whose SiameseIMViews draws the records '
                        '(default: the ImageNet views)')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=0,
                        help='torch CPU threads (0: torch default)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', help='append the JSON lines to this file')
    args = parser.parse_args(argv)
    args.batch_views = [int(b) for b in args.batch_views.split(',') if b]
    if any(b < 2 or b % 2 for b in args.batch_views):
        parser.error('--batch-views: even numbers >= 2 (two views a sample)')
    return args


def main(argv: Optional[Sequence[str]] = None) -> List[dict]:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = (torch.cuda.get_device_name(device) if device.type == 'cuda'
            else f'{cpu_name()}, {torch.get_num_threads()} torch threads')
    records = []
    for views in args.batch_views:
        record = time_batch(views, args.img_size, device, args.repeats,
                            args.warmup, args.seed, args.config)
        record.update(device=name, torch=torch.__version__,
                      config=osp.relpath(osp.abspath(args.config), ROOT))
        records.append(record)
        print(json.dumps(record), flush=True)
    if args.out:
        with open(args.out, 'a') as f:
            f.write(''.join(json.dumps(r) + '\n' for r in records))
    return records


if __name__ == '__main__':
    main()
