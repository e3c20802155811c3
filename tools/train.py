"""Train a model from a config (mmpretrain's tools/train.py, our plugin).

Examples:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
    bash tools/dist_train.sh CONFIG 8 [--resume]
"""
import argparse
import logging
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.logging import print_log
from mmengine.registry import RUNNERS
from mmengine.runner import find_latest_checkpoint

# mmsiameseim (torch, mmpretrain) is imported in main(), after the command
# line is parsed: `mim train` runs `train.py -h` before every training run.


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--work-dir', help='the folder for logs and checkpoints')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint; without a path, resume from the '
        'latest checkpoint in the work dir')
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='read the --resume / load_from checkpoint with full pickle even '
        'if this project\'s runner did not record it as written by your run '
        '(see docs/checkpoints.md); only for files you trust')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic mixed precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--no-validate',
        action='store_true',
        help='do not validate during training')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, `key=value` pairs; e.g. '
        'train_dataloader.batch_size=32 or key="[a,b]"')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed.launch passes --local_rank, torchrun --local-rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error instead of one line')
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Apply the command-line options to ``cfg``.

    Args:
        cfg (Config): The loaded config.
        args (argparse.Namespace): Parsed arguments.

    Returns:
        Config: The updated config.
    """
    from mmsiameseim.cli import apply_run_options
    apply_run_options(cfg, args)
    if args.amp:
        wrapper = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if wrapper == 'AmpOptimWrapper':
            raise ValueError('--amp: optim_wrapper.type is already '
                             'AmpOptimWrapper in the config.')
        if wrapper != 'OptimWrapper':
            raise ValueError('--amp only converts optim_wrapper.type='
                             f'OptimWrapper, the config has {wrapper!r}.')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
        if find_latest_checkpoint(cfg.work_dir) is None:
            print_log(
                f'--resume: no checkpoint in {cfg.work_dir} (no '
                'last_checkpoint file, no *.pth): training starts from '
                'scratch; pass --resume CKPT or the run\'s --work-dir to '
                'continue another run',
                logger='current',
                level=logging.WARNING)
    elif args.resume is not None:
        if not osp.isfile(args.resume) and '://' not in args.resume:
            raise FileNotFoundError(
                f'--resume {args.resume}: no such checkpoint file')
        cfg.resume = True
        cfg.load_from = args.resume

    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg:
            raise ValueError('--auto-scale-lr needs `auto_scale_lr = dict('
                             'base_batch_size=...)` in the config.')
        cfg.auto_scale_lr.enable = True

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Let ``--launcher pytorch`` run on a machine without CUDA (gloo).

    mmengine 0.10.7's ``init_dist('pytorch')`` calls
    ``torch.cuda.set_device`` and its default DDP wrapper passes
    ``device_ids=[LOCAL_RANK]``; both fail without a GPU. Here the process
    group is started with gloo from torchrun's environment (mmengine then
    skips its own start) and DDP is built without ``device_ids``. Nothing
    changes on machines with CUDA.

    Args:
        cfg (Config): The config, updated in place.
        launcher (str): The ``--launcher`` value.
    """
    import torch
    import torch.distributed as dist
    if launcher != 'pytorch' or torch.cuda.is_available():
        return
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel')
    wrapper.setdefault('device_ids', None)
    wrapper.setdefault('broadcast_buffers', False)
    wrapper.setdefault('find_unused_parameters',
                       cfg.get('find_unused_parameters', False))
    cfg.model_wrapper_cfg = wrapper


def build_runner(cfg: Config):
    """Build the config's runner; :class:`SafeResumeRunner` by default.

    ``SafeResumeRunner`` behaves like mmengine's ``Runner`` but can resume
    its own checkpoints under torch >= 2.6.
    """
    from mmsiameseim.engine import SafeResumeRunner
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return SafeResumeRunner.from_cfg(cfg)


def train(args: argparse.Namespace) -> None:
    """Load the config, apply the options, build the runner, train."""
    from mmsiameseim.cli import load_config
    cfg = merge_args(load_config(args.config), args)
    setup_cpu_distributed(cfg, args.launcher)
    build_runner(cfg).train()


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    # registers our modules and the `mmsiameseim::` config prefix
    from mmsiameseim.cli import run_cli
    return run_cli(lambda: train(args), 'train.py', args.debug)


if __name__ == '__main__':
    sys.exit(main())
