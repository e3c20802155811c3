"""What the command lines of ``tools/`` share: a user's error (a bad file
or option) ends a tool with one line naming it and status 1; ``--debug``
shows the traceback instead."""
import argparse
import os.path as osp
import re
import sys
from typing import Callable, Optional

#: Errors that come from the user's input (files, options, configs).
USER_ERRORS = (FileNotFoundError, IsADirectoryError, NotADirectoryError,
               PermissionError, ValueError, KeyError)
_ANSI = re.compile(r'\x1b\[[0-9;]*m')


def add_debug_flag(parser: argparse.ArgumentParser) -> None:
    """Add ``--debug``: show the traceback of an error."""
    parser.add_argument(
        '--debug',
        action='store_true',
        help='show the traceback of an error instead of one line')


def one_line(error: BaseException) -> str:
    """The error's message on one line, without terminal colour codes."""
    text = _ANSI.sub('', str(error)).strip()
    if isinstance(error, KeyError) and text.startswith(("'", '"')):
        text = text[1:-1]  # KeyError quotes its message
    return ' '.join(text.split()) or type(error).__name__


def run_cli(body: Callable[[], Optional[int]],
            prog: str,
            debug: bool = False) -> int:
    """The exit status of a tool's ``body`` (None: 0); a user error becomes
    one line starting with ``prog`` and status 1, unless ``debug``."""
    try:
        return body() or 0
    except USER_ERRORS as e:
        if debug:
            raise
        print(f'{prog}: error: {one_line(e)}', file=sys.stderr)
        return 1


def load_config(path: str, options: Optional[dict] = None):
    """``Config.fromfile(path)`` with ``options`` (``--cfg-options``)
    merged, and errors that name the file."""
    from mmengine.config import Config
    if not osp.isfile(path):
        raise FileNotFoundError(f'config file {path} does not exist')
    try:
        cfg = Config.fromfile(path)
    except Exception as e:  # a config is Python: any error can come out
        raise ValueError(f'cannot load the config {path}: '
                         f'{type(e).__name__}: {one_line(e)}') from e
    if options:
        cfg.merge_from_dict(options)
    return cfg


def apply_run_options(cfg, args: argparse.Namespace) -> None:
    """Put the options ``tools/train.py`` and ``tools/test.py`` share into
    ``cfg``: ``--launcher``, ``--work-dir`` (default ``work_dirs/<config
    name>``), ``--trusted-checkpoint``; gloo without CUDA (mmpretrain's
    runtime says nccl)."""
    import torch
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    if args.trusted_checkpoint:
        runner_type = cfg.get('runner_type', 'SafeResumeRunner')
        if runner_type != 'SafeResumeRunner':
            raise ValueError('--trusted-checkpoint needs runner_type='
                             f"'SafeResumeRunner', the config has "
                             f'{runner_type!r}')
        cfg.load_from_trusted = True
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg')
    if isinstance(dist_cfg, dict) and not torch.cuda.is_available():
        dist_cfg['backend'] = 'gloo'
