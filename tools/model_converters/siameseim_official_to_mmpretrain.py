"""Convert an official SiameseIM checkpoint to the mmsiameseim layout.

The official release (OpenGVLab/Siamese-Image-Modeling) stores timm / MAE
style keys (``blocks.*``, ``mm_blocks.*``, ``decoder_embed.*``,
``projector_decoder_blocks.*``, ...). This tool renames them to the keys of
:class:`mmsiameseim.models.SiameseIM` (``backbone.*``, ``neck.*``,
``head.*``, ``target_encoder.*``), prints every key it could not map and a
summary, and saves ``dict(state_dict=..., meta=...)``. The mapping table is
in ``mmsiameseim/checkpoints/layouts.py``.

Examples:
    python tools/model_converters/siameseim_official_to_mmpretrain.py \\
        sim_pretrain.pth sim_mmsiameseim.pth --strict
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch

from mmsiameseim.checkpoints import (convert_checkpoint, detect_layout,
                                     read_checkpoint, unwrap_state_dict)
from mmsiameseim.cli import add_debug_flag, run_cli


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Convert an official SiameseIM checkpoint to the '
        'mmsiameseim (mmpretrain) layout')
    parser.add_argument('src', help='official checkpoint (.pth)')
    parser.add_argument('dst', help='output checkpoint (.pth)')
    parser.add_argument(
        '--strict',
        action='store_true',
        help='exit with status 1 (and write nothing) if any key is unmapped')
    parser.add_argument(
        '--trusted',
        action='store_true',
        help='read SRC with full pickle instead of weights_only=True; only '
        'for files you wrote yourself')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def convert(args: argparse.Namespace) -> int:
    """Run the conversion; returns the exit status."""
    prog = osp.basename(__file__)
    try:
        checkpoint = read_checkpoint(args.src, trusted=args.trusted)
        sd = unwrap_state_dict(checkpoint)
        layout = detect_layout(sd)
    except (FileNotFoundError, ValueError, TypeError) as e:
        message = str(e) if args.src in str(e) else f'{args.src}: {e}'
        print(f'{prog}: error: {message}', file=sys.stderr)
        return 1
    if layout != 'official':
        print(
            f'{prog}: error: {args.src} does not look like an official '
            f'SiameseIM checkpoint (detected layout: {layout}); for '
            'mmsiameseim checkpoints use siameseim_to_backbone.py',
            file=sys.stderr)
        return 1

    report = convert_checkpoint(sd)
    for key in report.unmapped:
        shape = getattr(sd[key], 'shape', None)
        print(f'unmapped: {key}' +
              ('' if shape is None else f' {tuple(shape)}'))
    for key, why in report.dropped.items():
        print(f'ignored: {key} ({why})')
    for key, why in report.filled.items():
        print(f'filled: {key} ({why})')
    print(f'{len(sd)} source keys: {len(report.renamed)} mapped, '
          f'{len(report.dropped)} ignored, {len(report.unmapped)} unmapped; '
          f'{len(report.filled)} filled in; '
          f'{len(report.state_dict)} keys written')

    if args.strict and report.unmapped:
        print(
            f'{prog}: error: {len(report.unmapped)} unmapped key(s) in '
            f'{args.src} (--strict); nothing written',
            file=sys.stderr)
        return 1
    dst_dir = osp.dirname(osp.abspath(args.dst))
    os.makedirs(dst_dir, exist_ok=True)
    meta = dict(
        converted_from=osp.abspath(args.src),
        converter='siameseim_official_to_mmpretrain',
        source_layout='official',
        unmapped_keys=list(report.unmapped),
        ignored_keys=list(report.dropped),
        filled_keys=list(report.filled))
    torch.save(dict(state_dict=report.state_dict, meta=meta), args.dst)
    print(f'saved {args.dst}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    return run_cli(lambda: convert(args), osp.basename(__file__),
                   args.debug)


if __name__ == '__main__':
    sys.exit(main())
