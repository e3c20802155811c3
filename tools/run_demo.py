"""Run the Fashion-MNIST demo and say what it produced.

Trains the demo config through mmengine's Runner on CPU, then prints the
kNN top-1 before and after pretraining and where the checkpoint and logs
went. Used by ``make demo``.
"""
import argparse
import os
import os.path as osp
import time

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def main() -> None:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction, default={},
        help='override config settings, e.g. train_cfg.max_epochs=1')
    args = parser.parse_args()

    import torch
    from mmengine.config import Config
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    import mmsiameseim  # noqa: F401

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cfg = Config.fromfile(args.config)
    cfg.work_dir = args.work_dir
    cfg.merge_from_dict(args.cfg_options)
    start = time.time()
    runner = (RUNNERS.build(cfg) if 'runner_type' in cfg
              else Runner.from_cfg(cfg))
    runner.train()
    minutes = (time.time() - start) / 60
    knn = [h for h in runner.hooks if type(h).__name__ == 'KNNMonitorHook']
    print('=' * 70)
    print(f'SiameseIM demo finished in {minutes:.1f} min')
    if knn and knn[0].history:
        first, last = knn[0].history[0], knn[0].history[-1]
        before, after = first[1]['knn/top1'], last[1]['knn/top1']
        print(f'kNN top-1 on Fashion-MNIST test: {before:.2f}% at init -> '
              f'{after:.2f}% after training')
    last_ckpt = osp.join(cfg.work_dir, 'last_checkpoint')
    if osp.exists(last_ckpt):
        with open(last_ckpt) as f:
            print(f'checkpoint: {f.read().strip()}')
    print(f'logs:       {runner.log_dir}')
    print(f'TensorBoard: tensorboard --logdir {runner.log_dir}/vis_data')


if __name__ == '__main__':
    main()
