"""The CPU measurements of docs/evaluation.md, through the evaluation configs.

Runs the Fashion-MNIST configs of ``configs/siameseim/benchmarks/`` with
mmengine's Runner (what ``tools/train.py`` does) and appends one JSON line
per run to ``--out``:

* ``--stage lr``: the fine-tuning learning rate, chosen on *held-out
  training images* (train indices 50000-51999, never the test split), from
  the pretrained encoder, for each ``--lrs``;
* ``--stage finetune``: fine-tuning from the pretrained encoder and from
  random init at equal steps (``--lr``), top-1 on the 10,000 test images;
* ``--stage linear``: the linear-probing config, and the same settings
  through ``tools/benchmarks/linear_probe.py`` (cached features), top-1 on
  the test images; then, on the tool's cached features, the same probe
  with the original linear probe's LARS rule instead of mmpretrain's
  (:class:`OriginalRuleLARS`, the size of that difference).

Example (the numbers of docs/evaluation.md; each stage takes minutes on 2
CPU cores):
    python tools/model_converters/siameseim_to_backbone.py \\
        work_dirs/demo/epoch_4.pth work_dirs/demo/backbone.pth
    python tools/benchmarks/fashion_mnist_eval_study.py --stage lr \\
        --pretrained work_dirs/demo/backbone.pth \\
        --out docs/evaluation/fashion_mnist_cpu.jsonl
"""
import argparse
import json
import os
import os.path as osp
import platform
import time
from typing import Optional, Sequence


REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(REPO_ROOT, 'projects', 'study_bench', 'configs',
                 'evaluation')
FINETUNE = osp.join(BENCH, 'vit-mini-p4_1xb64-coslr-2e_fashion-mnist.py')
LINEAR = osp.join(BENCH,
                  'vit-mini-p4_1xb256-linear-coslr-10e_fashion-mnist.py')
DEMO = osp.join(REPO_ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')
HELDOUT = list(range(50000, 52000))


def original_rule_lars(params, lr, momentum=0.9, trust=0.001):
    """The original linear probe's LARS step, for this comparison only.

    For tensors with more than one dimension ``u = trust * ||p|| / ||g|| *
    g``, otherwise ``u = g``; ``mu = momentum * mu + u``; ``p -= lr * mu``
    (the learning rate applied outside the momentum buffer, where
    mmpretrain's LARS folds it in).
    """
    import torch

    class OriginalRuleLARS(torch.optim.Optimizer):

        @torch.no_grad()
        def step(self, closure=None):
            for group in self.param_groups:
                for p in group['params']:
                    if p.grad is None:
                        continue
                    u = p.grad
                    if p.ndim > 1:
                        p_norm, g_norm = p.norm(), u.norm()
                        if p_norm > 0 and g_norm > 0:
                            u = u * (group['trust'] * p_norm / g_norm)
                    mu = self.state[p].setdefault('mu', torch.zeros_like(p))
                    mu.mul_(group['momentum']).add_(u)
                    p.add_(mu, alpha=-group['lr'])

    return OriginalRuleLARS(
        params, dict(lr=lr, momentum=momentum, trust=trust))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--stage', choices=['lr', 'finetune', 'linear'], required=True)
    parser.add_argument(
        '--pretrained',
        default='work_dirs/demo/backbone.pth',
        help='backbone file made by siameseim_to_backbone.py')
    parser.add_argument(
        '--checkpoint',
        default='work_dirs/demo/epoch_4.pth',
        help='the pretraining checkpoint (for linear_probe.py)')
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument('--lrs', type=float, nargs='+',
                        default=[2.5e-4, 5e-4, 1e-3])
    parser.add_argument(
        '--lr',
        default=None,
        help="fine-tuning lr (default: the config's); 'best': the lr of the "
        'best held-out top-1 among the lr-stage records in --out')
    parser.add_argument('--work-dir', default='work_dirs/eval_study')
    parser.add_argument('--out', default='work_dirs/eval_study/runs.jsonl')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def _record(args, **fields) -> dict:
    import torch
    record = dict(
        fields,
        seed=args.seed,
        machine=f'{platform.machine()} {os.cpu_count()} cores',
        torch_threads=torch.get_num_threads(),
        date=time.strftime('%Y-%m-%d %H:%M'))
    line = json.dumps(record)
    if args.out:
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'a') as f:
            f.write(line + '\n')
    print(line, flush=True)
    return record


def run_config(config: str, work_dir: str, args, pretrained: bool = True,
               lr: Optional[float] = None, heldout: bool = False) -> dict:
    """Train ``config`` with the Runner; return the final val metrics."""
    from mmengine.config import Config
    from mmengine.registry import RUNNERS

    import mmsiameseim  # noqa: F401
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=args.seed)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for key in ('train_dataloader', 'val_dataloader'):
        cfg[key].dataset.data_root = args.data_root
    if pretrained:
        cfg.model.backbone.init_cfg.checkpoint = args.pretrained
    else:
        cfg.model.backbone.init_cfg = None
        cfg.custom_hooks = []
    if lr is not None:
        cfg.optim_wrapper.optimizer.lr = lr
    if heldout:  # training images the training run never sees
        cfg.val_dataloader.dataset.update(split='train', indices=HELDOUT)
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
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    scored = [r for r in records if r.get('stage') == 'lr']
    if not scored:
        raise SystemExit(f'{path} holds no lr-stage record: run --stage lr')
    return max(scored, key=lambda r: r['top1'])['lr']


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run one stage."""
    args = parse_args(argv)
    if args.lr == 'best':
        args.lr = best_lr(args.out)
    elif args.lr is not None:
        args.lr = float(args.lr)
    if args.stage == 'lr':
        for lr in args.lrs:
            m = run_config(FINETUNE, osp.join(args.work_dir, f'lr_{lr:g}'),
                           args, lr=lr, heldout=True)
            _record(args, stage='lr', config=osp.relpath(FINETUNE,
                                                         REPO_ROOT),
                    init='pretrained', lr=lr, split='train[50000:52000]',
                    top1=m['val/accuracy/top1'], seconds=m['seconds'],
                    iterations=m['iterations'])
    elif args.stage == 'finetune':
        for init in ('pretrained', 'random'):
            m = run_config(FINETUNE, osp.join(args.work_dir, f'ft_{init}'),
                           args, pretrained=init == 'pretrained', lr=args.lr)
            _record(args, stage='finetune', config=osp.relpath(
                FINETUNE, REPO_ROOT), init=init, lr=args.lr, split='test',
                    top1=m['val/accuracy/top1'], seconds=m['seconds'],
                    iterations=m['iterations'])
    else:
        m = run_config(LINEAR, osp.join(args.work_dir, 'linear_config'),
                       args)
        _record(args, stage='linear', path='config', config=osp.relpath(
            LINEAR, REPO_ROOT), split='test', top1=m['val/accuracy/top1'],
                seconds=m['seconds'], iterations=m['iterations'])
        import linear_probe

        import projects.study_bench.probes.linear_probe as probe
        cached = {}
        real_train = linear_probe.train_linear_probe

        def keep_features(*features, **kwargs):
            cached.update(features=features, kwargs=kwargs)
            return real_train(*features, **kwargs)

        linear_probe.train_linear_probe = keep_features
        start = time.time()
        tool = linear_probe.main([
            DEMO, args.checkpoint, '--data-root', args.data_root,
            '--device', 'cpu', '--train-size', '10240', '--epochs', '10',
            '--warmup-epochs', '1', '--probe-batch-size', '256', '--seed',
            str(args.seed)
        ])
        _record(args, stage='linear', path='linear_probe.py',
                config=osp.relpath(DEMO, REPO_ROOT), split='test',
                top1=tool['value'], seconds=round(time.time() - start, 1),
                iterations=tool['steps'])
        real_build = probe.build_lars
        probe.build_lars = lambda module, lr, weight_decay=0.: \
            original_rule_lars(list(module.parameters()), lr)
        try:
            start = time.time()
            res = real_train(*cached['features'], **cached['kwargs'])
        finally:
            probe.build_lars = real_build
        _record(args, stage='linear', path='linear_probe.py, original LARS '
                'rule', config=osp.relpath(DEMO, REPO_ROOT), split='test',
                top1=res['top1'], seconds=round(time.time() - start, 1),
                iterations=res['steps'])


if __name__ == '__main__':
    main()
