"""SiameseIM vs mmpretrain's MAE and MoCo v3 at demo size, on the CPU.

A CPU-sized preview of the GPU mini-reproduction (docs/reproduction.md):
each method's reproduction config (``projects/study_bench/configs/reproduction/``, mmpretrain's
own MAE / MoCo v3 algorithms and heads) is resized to the CPU demo's
encoder (``projects/study_bench/configs/_base_/sizes/mini.py``, which reads
the demo's
model, so the sizes live in one place) and given the demo's data, schedule
and kNN monitor:

* encoder: the demo's ViT (128 wide, 4 blocks, 2 heads, 32 px, patch 4);
  MAE's decoder is 128 wide with 2 blocks (= the demo's projector +
  predictor depth); MoCo v3 keeps its projector / predictor MLPs;
* data: 10240 Fashion-MNIST train images x 4 epochs at batch 64 (640
  iterations), fp32;
* schedule: the demo's 1-epoch linear warm-up and cosine; every method keeps
  its own optimiser (AdamW settings, decay rules, clipping) at the swept lr;
* evaluation: the demo's ``KNNMonitorHook`` (k = 20, T = 0.07, avg-pooled
  patch tokens; bank 2000 train images, queries 1000 test images) at init
  and after every epoch; ``--methods pixels`` adds the same kNN on raw
  pixels, the reference a pretrained encoder should beat.

Every run is a separate process (mmengine keeps global state per process).
One JSON line per run goes to ``--out``: method, lr, seed, kNN history,
train seconds, machine.

Example::

    python tools/benchmarks/cpu_comparison.py --out work_dirs/cpu_cmp.jsonl \\
        --methods siameseim mae mocov3 --lrs 3e-4 1e-3 3e-3
"""
import argparse
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import Optional, Sequence

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = 'configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py'
CONFIGS = {
    'siameseim': DEMO,
    'mae': 'projects/study_bench/configs/reproduction/'
    'mae_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py',
    'mocov3': 'projects/study_bench/configs/reproduction/'
    'mocov3_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py',
}


def demo_sized(method: str, demo_path: str = DEMO):
    """The config of ``method`` at the CPU demo's size.

    The demo config itself for SiameseIM; for MAE and MoCo v3 their
    reproduction row through :func:`projects.study_bench.sizes.demo_sized`.

    Args:
        method (str): A key of :data:`CONFIGS`.
        demo_path (str): The demo config the data and runtime are read
            from.

    Returns:
        Config: Ready for ``Runner.from_cfg`` (``work_dir`` unset).
    """
    from projects.study_bench.config_files import load_config
    from projects.study_bench.sizes import demo_sized as sized
    if method not in CONFIGS:
        raise ValueError(f'unknown method {method!r}; choose from '
                         f'{sorted(CONFIGS)}')
    if CONFIGS[method] == demo_path:
        return load_config(demo_path)
    return sized(CONFIGS[method], f'{method}_model', demo=demo_path)


def pixel_baseline(seed: int = 0,
                   sizes: Optional[Sequence[int]] = None) -> dict:
    """kNN on raw pixels (32 px, 3 x 1024 values) with the demo's protocol.

    The reference every pretrained encoder should beat: the demo hook's
    bank, queries, k and temperature, no network.

    Args:
        seed (int): Dataloader seed. Defaults to 0.
        sizes (Sequence[int], optional): ``(bank, queries)`` image counts
            instead of the hook's 2000 and 1000 (as ``knn_eval.py
            --train-size / --test-size``). Defaults to None.

    Returns:
        dict: A record like :func:`run_one`'s, ``method='pixels'``.
    """
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    import mmsiameseim  # noqa: F401  registers the kNN hook
    from mmsiameseim.evaluation import extract_features, knn_accuracy
    init_default_scope('mmpretrain')
    hook = demo_sized('siameseim').custom_hooks[0]
    feats = []
    loaders = (hook.train_dataloader, hook.val_dataloader)
    for i, loader in enumerate(loaders):
        dataset = loader.dataset
        dataset.data_root = osp.join(ROOT, dataset.data_root)
        if sizes is not None:
            dataset.indices = int(sizes[i])
        feats.append(
            extract_features(lambda x: x.flatten(1),
                             Runner.build_dataloader(loader, seed=seed)))
    top1 = knn_accuracy(*feats[0], *feats[1], k=hook.k,
                        temperature=hook.temperature)['top1']
    return dict(method='pixels', config=DEMO, lr=0., seed=seed,
                iterations=0, knn_top1=[[0, top1]], knn_init=top1,
                knn_final=top1, train_seconds=0.,
                bank=len(feats[0][0]), queries=len(feats[1][0]))


def run_one(args) -> None:
    """Train one (method, lr, seed) and print its JSON record."""
    import torch
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    os.chdir(ROOT)  # the configs' data roots are relative to the repo
    import mmsiameseim  # noqa: F401
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cfg = demo_sized(args.method)
    cfg.optim_wrapper.optimizer.lr = args.lr
    cfg.randomness = dict(seed=args.seed, diff_rank_seed=True)
    cfg.work_dir = args.work_dir
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    start = time.time()
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg
              else Runner.from_cfg(cfg))
    runner.train()
    seconds = time.time() - start
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'KNNMonitorHook')
    record = dict(
        method=args.method,
        config=CONFIGS[args.method],
        lr=args.lr,
        seed=args.seed,
        iterations=runner.iter,
        knn_top1=[[step, r['knn/top1']] for step, r in hook.history],
        knn_init=hook.history[0][1]['knn/top1'],
        knn_final=hook.history[-1][1]['knn/top1'],
        train_seconds=round(seconds, 1),
        machine=f'{platform.machine()} CPU x{os.cpu_count()}',
        torch=torch.__version__)
    print('RECORD ' + json.dumps(record), flush=True)


def summarize(records) -> str:
    """Markdown: every run, then each method at its best final kNN.

    Args:
        records (list[dict]): The JSON records of :func:`run_one`.

    Returns:
        str: Two markdown tables.
    """
    if not records:
        raise ValueError('no records to summarize')
    lines = ['| method | lr | kNN top-1 per epoch (init first) | final | '
             's / iter |', '|---|---|---|---|---|']
    best = {}
    for r in sorted(records, key=lambda r: (r['method'], r['lr'])):
        curve = ' → '.join(f'{v:.1f}' for _, v in r['knn_top1'])
        per_iter = r['train_seconds'] / max(r['iterations'], 1)
        lines.append(f"| {r['method']} | {r['lr']:g} | {curve} | "
                     f"{r['knn_final']:.1f} | {per_iter:.2f} |")
        if r['method'] not in best or \
                r['knn_final'] > best[r['method']]['knn_final']:
            best[r['method']] = r
    lines += ['', '| method | best lr | kNN init | kNN final | gain |',
              '|---|---|---|---|---|']
    for method, r in sorted(best.items(), key=lambda kv: -kv[1]['knn_final']):
        lines.append(f"| {method} | {r['lr']:g} | {r['knn_init']:.1f} | "
                     f"{r['knn_final']:.1f} | "
                     f"{r['knn_final'] - r['knn_init']:+.1f} |")
    return '\n'.join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='work_dirs/cpu_comparison.jsonl')
    parser.add_argument('--methods', nargs='+', default=list(CONFIGS))
    parser.add_argument('--lrs', nargs='+', type=float,
                        default=[3e-4, 1e-3, 3e-3])
    parser.add_argument('--seeds', nargs='+', type=int, default=[0])
    parser.add_argument('--work-root', default='work_dirs/cpu_comparison')
    parser.add_argument('--pixel-sizes', nargs=2, type=int,
                        metavar=('BANK', 'QUERIES'),
                        help='image counts of the raw-pixel kNN (default: '
                        "the demo hook's 2000 and 1000)")
    parser.add_argument('--summarize', metavar='JSONL',
                        help='print the markdown tables of a results file '
                        'and exit')
    # internal: one run in this process
    parser.add_argument('--method', help=argparse.SUPPRESS)
    parser.add_argument('--lr', type=float, help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, default=0,
                        help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.summarize:
        with open(args.summarize) as f:
            records = [json.loads(line) for line in f if line.strip()]
        print(summarize(records))
        return
    if args.method is not None:
        run_one(args)
        return
    for method in args.methods:
        if method != 'pixels' and method not in CONFIGS:
            parser.error(f'--methods: unknown method {method!r}; choose '
                         f"from {sorted(CONFIGS) + ['pixels']}")
    args.out = osp.abspath(args.out)
    os.makedirs(osp.dirname(args.out), exist_ok=True)
    if 'pixels' in args.methods:
        record = pixel_baseline(sizes=args.pixel_sizes)
        with open(args.out, 'a') as f:
            f.write(json.dumps(record) + '\n')
        print(f"pixels: kNN {record['knn_final']:.1f}", flush=True)
    for method in args.methods:
        if method == 'pixels':
            continue
        for lr in args.lrs:
            for seed in args.seeds:
                work_dir = osp.abspath(
                    osp.join(args.work_root, method, f'lr{lr:g}_seed{seed}'))
                cmd = [sys.executable, osp.abspath(__file__), '--method',
                       method, '--lr', str(lr), '--seed', str(seed),
                       '--work-dir', work_dir]
                print('+ ' + ' '.join(cmd), flush=True)
                proc = subprocess.run(cmd, capture_output=True, text=True)
                lines = [line for line in proc.stdout.splitlines()
                         if line.startswith('RECORD ')]
                if proc.returncode != 0 or not lines:
                    sys.stderr.write(proc.stdout[-3000:] +
                                     proc.stderr[-3000:])
                    raise SystemExit(f'run failed ({proc.returncode}): '
                                     f'{method} lr={lr} seed={seed}, log in '
                                     f'{work_dir}')
                record = json.loads(lines[-1][len('RECORD '):])
                with open(args.out, 'a') as f:
                    f.write(json.dumps(record) + '\n')
                print(f"{method} lr={lr:g}: kNN {record['knn_init']:.1f} "
                      f"-> {record['knn_final']:.1f} "
                      f"({record['train_seconds']:.0f} s)", flush=True)


if __name__ == '__main__':
    main()
