"""Check that a downstream config's backbone really gets the encoder file.

mmseg's ``MAE`` / ``BEiT`` backbones load ``pretrained=`` with
``strict=False`` and discard the result; mmengine's ``Pretrained`` init logs
mismatched keys at INFO. A wrong file (prefixed keys, timm names, another
architecture) leaves the encoder random and nothing says so. This tool does
what the run would do up to its first iteration, on the CPU, and compares:

1. load CONFIG (its ``custom_imports`` register the load spec of the
   backbone class, e.g. ``mmsiameseim.downstream.mmseg_mae`` for mmseg's
   ``MAE``), optionally pointing it at ``--checkpoint``;
2. build the model in the config's default scope, ``SyncBN`` reverted to
   ``BN`` (SyncBN refuses CPU tensors), and call ``init_weights()``;
3. compare the backbone with the file through
   :func:`mmsiameseim.checkpoints.check_backbone_load`: every file tensor
   must be in the backbone unchanged (position tables after the documented
   resize) and exactly the documented keys may start fresh.

It prints the account and exits with status 1 if the check fails (0 if it
passes). A file it cannot use (missing, truncated, untrusted, of another
size) ends it with one line naming the file and status 1 (``--debug``:
the traceback). The other top-level modules (neck, heads) are listed with their
tensor counts: they never come from the encoder file.

Example:
    python tools/analysis/check_pretrained_load.py \\
        configs/siameseim/benchmarks/mmseg/\\
siameseim_vit-base-p16-upernet_8xb2-amp-160k_ade20k-512x512.py \\
        --checkpoint checkpoints/siameseim_vit-base-p16_mmseg.pth
"""
import argparse
import os.path as osp
import re
import sys
import time
from collections import Counter
from typing import List, Optional

from mmengine.config import Config, DictAction

import mmsiameseim  # noqa: F401  registers the check hook and specs
from mmsiameseim.checkpoints import refuse_other_shapes
from mmsiameseim.cli import add_debug_flag, load_config, run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Check that a config\'s backbone loads its encoder file')
    parser.add_argument('config', help='downstream config file')
    parser.add_argument(
        '--checkpoint',
        help='encoder file to check instead of the one the config names '
        '(sets model.pretrained, or the backbone\'s Pretrained init_cfg)')
    parser.add_argument(
        '--trusted',
        action='store_true',
        help='read the file with full pickle for the comparison (only for '
        'files your own runs wrote)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, `key=value` pairs')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def point_at(cfg: Config, checkpoint: str) -> str:
    """Make the config's backbone initialise from ``checkpoint``.

    Args:
        cfg (Config): The config (changed in place).
        checkpoint (str): The encoder file.

    Returns:
        str: The config key that was set.
    """
    model, backbone = cfg.model, cfg.model.backbone
    init_cfg = backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        init_cfg.checkpoint = checkpoint
        return 'model.backbone.init_cfg.checkpoint'
    if backbone.get('pretrained') is not None:
        backbone.pretrained = checkpoint
        return 'model.backbone.pretrained'
    if 'pretrained' in model:  # mmseg segmentors pass it to the backbone
        model.pretrained = checkpoint
        return 'model.pretrained'
    backbone.init_cfg = dict(type='Pretrained', checkpoint=checkpoint)
    return 'model.backbone.init_cfg'


def _fresh_groups(keys: List[str]) -> str:
    """``layers.{i}.gamma_1`` x 12, ... : the fresh keys with layer indices
    folded, so the documented set reads at a glance."""
    counts = Counter(re.sub(r'\.\d+\.', '.{i}.', k) for k in keys)
    return ', '.join(f'{k} x{n}' if n > 1 else k for k, n in counts.items())


def _init_weights(model, path: str, source: dict) -> None:
    """``model.init_weights()``; a file whose tensors do not fit the
    backbone's shapes becomes one line naming the file (torch raises a
    multi-line ``RuntimeError`` of "size mismatch" lines)."""
    try:
        model.init_weights()
    except RuntimeError as e:
        if 'size mismatch' not in str(e):
            raise
        refuse_other_shapes(path, source, model.backbone.state_dict(),
                            'backbone')
        raise


def check(args: argparse.Namespace) -> int:
    """Build, initialise and check; returns the exit status."""
    from mmengine.logging import MMLogger
    from mmengine.model import revert_sync_batchnorm
    from mmengine.registry import MODELS, init_default_scope

    from mmsiameseim.checkpoints import (check_backbone_load,
                                         pretrained_path_of, read_checkpoint,
                                         unwrap_state_dict)
    cfg = load_config(args.config, args.cfg_options)
    if args.checkpoint:
        key = point_at(cfg, args.checkpoint)
        print(f'{key} = {args.checkpoint}')
    init_default_scope(cfg.get('default_scope', 'mmengine'))
    # init_weights logs every tensor at INFO; this tool prints its own account
    MMLogger.get_instance(f'check_pretrained_load_{time.time_ns()}',
                          log_level='WARNING')
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    path = pretrained_path_of(model.backbone)
    if not path:
        raise ValueError(f'the backbone of {args.config} has no pretrained '
                         'file (neither `pretrained` nor a Pretrained '
                         'init_cfg); pass --checkpoint FILE')
    # read it under the trust policy first: a missing, truncated or
    # untrusted file stops here with a message naming it
    source = unwrap_state_dict(read_checkpoint(path, trusted=args.trusted))
    _init_weights(model, path, source)
    report = check_backbone_load(model.backbone, path, args.trusted)
    backbone = type(model.backbone).__name__
    print(f'{backbone} backbone of {osp.basename(args.config)} against '
          f'{path}:')
    print(report.summary())
    if report.fresh:
        print(f'fresh by design: {_fresh_groups(report.fresh)}')
    for name, module in model.named_children():
        if name not in ('backbone', 'data_preprocessor'):
            n = len(module.state_dict())
            print(f'{name}: {n} tensors from its own init (not in the file)')
    return 0 if report.ok else 1


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    return run_cli(lambda: check(args), osp.basename(__file__), args.debug)


if __name__ == '__main__':
    sys.exit(main())
