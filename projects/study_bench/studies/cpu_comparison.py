"""SiameseIM vs mmpretrain's MAE and MoCo v3 at demo size, on the CPU.

A CPU-sized preview of the GPU mini-reproduction (docs/reproduction.md):
every method's reproduction config at the CPU demo's size and run
(:func:`projects.study_bench.sizes.demo_sized`: the demo's encoder, data,
schedule and kNN monitor; each method keeps its own algorithm, pipeline
and optimiser settings), trained at a swept lr (:func:`train_one`), and
the raw-pixel kNN every pretrained encoder should beat
(:func:`pixel_baseline`). ``tools/benchmarks/cpu_comparison.py`` runs the
sweep, one process per run.
"""
import os
import time
from typing import Optional, Sequence

from ..cli import machine
from ..config_files import REPO_ROOT, load_config, repo_path
from ..sizes import DEMO, demo_sized

CONFIGS = {
    'siameseim': DEMO,
    'mae': 'projects/study_bench/configs/reproduction/'
    'mae_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py',
    'mocov3': 'projects/study_bench/configs/reproduction/'
    'mocov3_vit-tiny-p4_1xb256-amp-coslr-100e_fashion-mnist.py',
}


def comparison_config(method: str):
    """The config of ``method`` at the CPU demo's size.

    The demo config itself for SiameseIM; for MAE and MoCo v3 their
    reproduction row through :func:`projects.study_bench.sizes.demo_sized`.

    Args:
        method (str): A key of :data:`CONFIGS`.

    Returns:
        Config: Ready for ``Runner.from_cfg`` (``work_dir`` unset).
    """
    if method not in CONFIGS:
        raise ValueError(f'unknown method {method!r}; choose from '
                         f'{sorted(CONFIGS)}')
    if CONFIGS[method] == DEMO:
        return load_config(DEMO)
    return demo_sized(CONFIGS[method], f'{method}_model')


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
    cfg = comparison_config('siameseim')
    hook = cfg.custom_hooks[0]
    feats = []
    loaders = (hook.train_dataloader, hook.val_dataloader)
    for i, loader in enumerate(loaders):
        dataset = loader.dataset
        # the hook reads the training root unless its loaders name one
        if 'data_root' not in dataset:
            dataset.data_root = cfg.train_dataloader.dataset.data_root
        dataset.data_root = repo_path(dataset.data_root)
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


def train_one(method: str, lr: float, seed: int, work_dir: str) -> dict:
    """Train one (method, lr, seed) in this process; return its record.

    The Runner's kNN monitor gives the top-1 history (at init and after
    every epoch).
    """
    import torch
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    os.chdir(REPO_ROOT)  # the configs' data roots are repo-relative
    import mmsiameseim  # noqa: F401
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cfg = comparison_config(method)
    cfg.optim_wrapper.optimizer.lr = lr
    cfg.randomness = dict(seed=seed, diff_rank_seed=True)
    cfg.work_dir = work_dir
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    start = time.time()
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg
              else Runner.from_cfg(cfg))
    runner.train()
    seconds = time.time() - start
    hook = next(h for h in runner.hooks
                if type(h).__name__ == 'KNNMonitorHook')
    record = dict(
        method=method,
        config=CONFIGS[method],
        lr=lr,
        seed=seed,
        iterations=runner.iter,
        knn_top1=[[step, r['knn/top1']] for step, r in hook.history],
        knn_init=hook.history[0][1]['knn/top1'],
        knn_final=hook.history[-1][1]['knn/top1'],
        train_seconds=round(seconds, 1),
        machine=machine(),
        torch=torch.__version__)
    return record


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
