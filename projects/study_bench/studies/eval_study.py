"""The CPU measurements of docs/evaluation.md: the Fashion-MNIST evaluation
configs (``projects/study_bench/configs/evaluation/``) run by mmengine's
Runner (what ``tools/train.py`` does), one JSON record per run.

* :func:`lr_stage`: the fine-tuning learning rate, chosen on *held-out
  training images* (:data:`HELDOUT`, never the test split);
* :func:`finetune_stage`: fine-tuning from the pretrained encoder and from
  random init at equal steps, top-1 on the 10,000 test images;
* :func:`linear_stage`: the linear-probing config (the one linear probe
  route, :mod:`projects.study_bench.probes.linear`), top-1 on the test
  images.
"""
import os
import os.path as osp
import platform
import time
from typing import Optional

from ..cli import append_jsonl
from ..config_files import REPO_ROOT, load_config
from .records import read_records

BENCH = osp.join(REPO_ROOT, 'projects', 'study_bench', 'configs',
                 'evaluation')
FINETUNE = osp.join(BENCH, 'vit-mini-p4_1xb64-coslr-2e_fashion-mnist.py')
LINEAR = osp.join(BENCH,
                  'vit-mini-p4_1xb256-linear-coslr-10e_fashion-mnist.py')
HELDOUT = list(range(50000, 52000))


def _record(out: Optional[str], seed: int, config: str, metrics: dict,
            **fields) -> dict:
    """Print and append one run's record; return it."""
    import torch
    record = dict(
        fields,
        config=osp.relpath(config, REPO_ROOT),
        top1=metrics['val/accuracy/top1'],
        seconds=metrics['seconds'],
        iterations=metrics['iterations'],
        seed=seed,
        machine=f'{platform.machine()} {os.cpu_count()} cores',
        torch_threads=torch.get_num_threads(),
        date=time.strftime('%Y-%m-%d %H:%M'))
    append_jsonl(out, record)
    return record


def study_config(config: str,
                 work_dir: str,
                 data_root: str,
                 pretrained: Optional[str],
                 seed: int = 0,
                 lr: Optional[float] = None,
                 heldout: bool = False):
    """``config`` for one run of the study.

    Args:
        config (str): :data:`FINETUNE` or :data:`LINEAR`.
        work_dir (str): The run's folder.
        data_root (str): Fashion-MNIST folder.
        pretrained (str, optional): The converted encoder; None: random
            init (the load check dropped).
        seed (int): Defaults to 0.
        lr (float, optional): Learning rate (default: the config's).
        heldout (bool): Validate on :data:`HELDOUT` training images
            instead of the test split.

    Returns:
        Config: For :func:`run_config`.
    """
    cfg = load_config(config)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].dataset.data_root = data_root
    if pretrained:
        cfg.model.backbone.init_cfg.checkpoint = pretrained
    else:
        cfg.model.backbone.init_cfg = None
        cfg.custom_hooks = []
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    if heldout:  # training images the training run never sees (the
        # val loader's test_mode=True would read the test images)
        cfg.val_dataloader.dataset.update(split='train', test_mode=False,
                                          indices=HELDOUT)
    return cfg


def run_config(cfg) -> dict:
    """Train a config of :func:`study_config` with the Runner.

    Returns:
        dict: The final ``val/...`` metrics, ``seconds`` and
        ``iterations``.
    """
    from mmengine.registry import RUNNERS

    import mmsiameseim  # noqa: F401
    runner = RUNNERS.build(cfg)
    start = time.time()
    runner.train()
    metrics = {
        k: v.current()
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('val/')
    }
    metrics['seconds'] = round(time.time() - start, 1)
    metrics['iterations'] = runner.iter
    return metrics


def best_lr(path: str) -> float:
    """The lr of the best held-out top-1 among the lr records of ``path``."""
    scored = [r for r in read_records(path) if r.get('stage') == 'lr']
    if not scored:
        raise SystemExit(f'{path} holds no lr-stage record: run --stage lr')
    return max(scored, key=lambda r: r['top1'])['lr']


def lr_stage(lrs, pretrained: str, data_root: str, work_dir: str,
             seed: int = 0, out: Optional[str] = None) -> list:
    """Fine-tune from ``pretrained`` at each lr, top-1 on held-out
    training images (never the test split)."""
    return [
        _record(out, seed, FINETUNE,
                run_config(study_config(
                    FINETUNE, osp.join(work_dir, f'lr_{lr:g}'), data_root,
                    pretrained, seed, lr, heldout=True)),
                stage='lr', init='pretrained', lr=lr,
                split='train[50000:52000]') for lr in lrs
    ]


def finetune_stage(pretrained: str, data_root: str, work_dir: str,
                   seed: int = 0, lr: Optional[float] = None,
                   out: Optional[str] = None) -> list:
    """Fine-tune from ``pretrained`` and from random init at equal steps,
    top-1 on the test images."""
    return [
        _record(out, seed, FINETUNE,
                run_config(study_config(
                    FINETUNE, osp.join(work_dir, f'ft_{init}'), data_root,
                    path, seed, lr)),
                stage='finetune', init=init, lr=lr, split='test')
        for init, path in (('pretrained', pretrained), ('random', None))
    ]


def linear_stage(pretrained: str, data_root: str, work_dir: str,
                 seed: int = 0, out: Optional[str] = None) -> dict:
    """The linear-probing config on ``pretrained``, top-1 on the test
    images."""
    metrics = run_config(study_config(
        LINEAR, osp.join(work_dir, 'linear_config'), data_root, pretrained,
        seed))
    return _record(out, seed, LINEAR, metrics, stage='linear', path='config',
                   split='test')
