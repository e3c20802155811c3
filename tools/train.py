"""Train a model from a config (mmpretrain's tools/train.py, our plugin).

Examples:
    python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]] [--amp]
    bash tools/dist_train.sh CONFIG 8 [--resume]
"""
import argparse
import os
import os.path as osp


from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS

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
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])

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
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.trusted_checkpoint:
        cfg.load_from_trusted = True

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


def main(argv=None) -> None:
    """Entry point."""
    args = parse_args(argv)
    # registers our modules and the `mmsiameseim::` config prefix
    import mmsiameseim  # noqa: F401
    cfg = Config.fromfile(args.config)
    cfg = merge_args(cfg, args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
