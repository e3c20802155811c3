"""Evaluate a checkpoint (mmpretrain's tools/test.py, our plugin).

Examples:
    python tools/test.py CONFIG CHECKPOINT [--out results.pkl]
    bash tools/dist_test.sh CONFIG CHECKPOINT 8
"""
import argparse
import os
import os.path as osp
import sys

import mmengine
from mmengine.config import Config, DictAction
from mmengine.registry import RUNNERS

# mmsiameseim (torch, mmpretrain) is imported in main(), after the command
# line is parsed, so that `test.py -h` answers at once.


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description='Evaluate a checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir', help='the folder for the evaluation logs')
    parser.add_argument(
        '--out',
        help='dump to this file: predictions (.pkl/.pickle) with '
        '--out-item pred, or the metrics (.json/.yaml/.pkl) with '
        '--out-item metrics')
    parser.add_argument(
        '--out-item',
        choices=['pred', 'metrics'],
        default='pred',
        help='what --out holds. Defaults to pred')
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='read the checkpoint with full pickle although this '
        "project's runner did not record it as written by your run (a copy "
        'of your own checkpoint moved elsewhere; see docs/checkpoints.md). '
        'Never use it for files from elsewhere')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, `key=value` pairs')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
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
    if not osp.isfile(args.checkpoint) and '://' not in args.checkpoint:
        raise FileNotFoundError(
            f'checkpoint {args.checkpoint} does not exist')
    cfg.load_from = args.checkpoint
    cfg.load_from_exact = True  # this config's own model: shapes must match
    cfg.resume = False
    if args.out is not None and args.out_item == 'pred' and \
            not args.out.endswith(('.pkl', '.pickle')):
        raise ValueError('--out with --out-item pred must end with .pkl or '
                         f'.pickle, got {args.out!r}.')
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def test(args: argparse.Namespace) -> None:
    """Load the config, build the runner, evaluate the checkpoint."""
    from mmengine.evaluator import DumpResults

    from mmsiameseim.cli import load_config
    from mmsiameseim.engine import SafeResumeRunner
    cfg = merge_args(load_config(args.config), args)
    if 'runner_type' in cfg:
        runner = RUNNERS.build(cfg)
    else:
        runner = SafeResumeRunner.from_cfg(cfg)
    if args.out is not None and args.out_item == 'pred':
        runner.test_evaluator.metrics.append(
            DumpResults(out_file_path=args.out))
    metrics = runner.test()
    if args.out is not None and args.out_item == 'metrics':
        mmengine.dump(metrics, args.out)


def main(argv=None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    # registers our modules and the `mmsiameseim::` config prefix
    from mmsiameseim.cli import run_cli
    return run_cli(lambda: test(args), 'test.py', args.debug)


if __name__ == '__main__':
    sys.exit(main())
