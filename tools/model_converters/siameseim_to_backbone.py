"""Extract the ViT encoder of a SiameseIM checkpoint for downstream use.

Input: an mmsiameseim training checkpoint (``backbone.*`` /
``target_encoder.*``; pass ``--trusted`` for files your own runs wrote,
since mmengine checkpoints hold Python objects), a checkpoint converted by
``siameseim_official_to_mmpretrain.py``, or an official release checkpoint
(converted on the fly). Output: ``dict(state_dict=..., meta=...)`` holding
only the encoder (docs/method.md §6: no projector, predictor, ``mm_*``
copies or BN buffers) in mmpretrain ``VisionTransformer`` names, or timm
names with ``--layout timm``, or what mmseg's ``MAE`` backbone loads with
``--layout mmseg`` (bare mmpretrain names, online encoder only, no final
norm), or the keys of the mmdet ViTDet backbone with ``--layout vitdet``.
For ``--layout mmseg`` the file is compared with an mmseg ``MAE``
of its size before it is written: missing and unexpected keys are printed,
and nothing is written when a tensor would not load or a backbone tensor
outside the documented fresh set (layer scale, relative position tables)
would stay random.

Examples:
    # for mmpretrain / mmseg / mmdet configs using mmpretrain's
    # VisionTransformer with init_cfg=dict(type='Pretrained',
    # checkpoint=..., prefix='backbone.')
    python tools/model_converters/siameseim_to_backbone.py \\
        work_dirs/sim/epoch_400.pth sim_backbone.pth --trusted

    # bare keys (mmseg ``pretrained=...``), EMA encoder
    python tools/model_converters/siameseim_to_backbone.py \\
        sim.pth sim_backbone_ema.pth --source target --prefix ''

    # timm names for detectron2 ViTDet / MAE-style loaders
    python tools/model_converters/siameseim_to_backbone.py \\
        sim.pth sim_backbone_timm.pth --layout timm

    # mmseg's MAE backbone (model.pretrained=... of the UPerNet configs)
    python tools/model_converters/siameseim_to_backbone.py \\
        work_dirs/sim/epoch_400.pth sim_vit-base_mmseg.pth --layout mmseg

    # mmdet ViTDet configs (WindowedViT of mmsiameseim.downstream.vitdet):
    # bare mmpretrain names, no cls token, no final norm
    python tools/model_converters/siameseim_to_backbone.py \\
        sim.pth sim_backbone_vitdet.pth --layout vitdet
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

import torch

from mmsiameseim.checkpoints import (LAYOUTS, convert_checkpoint,
                                     detect_layout, read_checkpoint,
                                     unwrap_state_dict)
from mmsiameseim.cli import add_debug_flag, run_cli

#: The layouts this tool writes: the encoder alone.
ENCODER_LAYOUTS = [name for name in LAYOUTS if name != 'mmsiameseim']


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Extract the ViT encoder of a SiameseIM checkpoint')
    parser.add_argument('src', help='mmsiameseim or official checkpoint')
    parser.add_argument('dst', help='output backbone checkpoint (.pth)')
    parser.add_argument(
        '--source',
        choices=['online', 'target'],
        default='online',
        help='online encoder (default, as the paper transfers) or its '
        'EMA copy')
    parser.add_argument(
        '--prefix',
        default=None,
        help="prefix of the output keys: 'backbone.' (default for the "
        "mmpretrain layout) or '' (default for --layout timm)")
    parser.add_argument(
        '--layout',
        choices=ENCODER_LAYOUTS,
        default='mmpretrain',
        help='key names: mmpretrain VisionTransformer (default), timm, '
        "mmseg (bare keys for mmseg's MAE backbone, checked against it) or "
        'vitdet (mmpretrain names without cls token and final norm, for '
        'the mmdet ViTDet configs)')
    parser.add_argument(
        '--trusted',
        action='store_true',
        help='read SRC with full pickle (needed for mmengine training '
        'checkpoints); only for files your own runs wrote')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def _key_list(keys: List[str], limit: int = 12) -> str:
    shown = ', '.join(keys[:limit])
    more = f', ... ({len(keys)} in all)' if len(keys) > limit else ''
    return shown + more


def check_mmseg_target(out) -> None:
    """Print how ``out`` loads into mmseg's ``MAE``; raise if it would not.

    Args:
        out (Mapping): The converted encoder (bare keys).

    Raises:
        ValueError: If a file tensor would not load into the backbone or a
            backbone tensor outside the documented fresh set would stay
            random.
    """
    # mmseg is imported only for this layout
    from mmsiameseim.downstream.mmseg_mae import compare_with_mae
    report = compare_with_mae(out)
    arch = ', '.join(f'{k}={v}' for k, v in report.arch.items())
    print(f'target: mmseg MAE({arch})')
    print(f'  {len(report.equal)} of {len(out)} file tensors '
          'load; missing in the file and documented to start fresh: '
          f'{len(report.fresh)} ({_key_list(report.fresh, 4)})')
    problems = []
    if report.not_in_model:
        problems.append('unexpected (the backbone has no such key): ' +
                        _key_list(report.not_in_model))
    for key, (src, dst) in report.shape_mismatch.items():
        problems.append(f'shape of {key}: file {src}, backbone {dst}')
    if report.unexpected_fresh:
        problems.append('missing (would stay random): ' +
                        _key_list(report.unexpected_fresh))
    for line in problems:
        print('  ' + line)
    if problems:
        raise ValueError('the converted encoder would not load completely '
                         "into mmseg's MAE backbone: " + '; '.join(problems))


def convert(args: argparse.Namespace) -> int:
    """Run the extraction; returns the exit status."""
    prog = osp.basename(__file__)
    try:
        sd = unwrap_state_dict(read_checkpoint(args.src,
                                               trusted=args.trusted))
        layout = detect_layout(sd)
    except (FileNotFoundError, ValueError, TypeError) as e:
        message = str(e) if args.src in str(e) else f'{args.src}: {e}'
        print(f'{prog}: error: {message}', file=sys.stderr)
        return 1
    if args.layout == 'mmseg' and args.source != 'online':
        print(f'{prog}: error: --layout mmseg transfers the online encoder '
              '(the one trained by gradient), not its EMA copy',
              file=sys.stderr)
        return 1
    if args.layout == 'mmseg' and args.prefix:
        print(f"{prog}: error: --layout mmseg writes bare keys (mmseg's MAE "
              f'ignores prefixes), got --prefix {args.prefix!r}',
              file=sys.stderr)
        return 1
    try:
        report = convert_checkpoint(
            sd, layout=args.layout, source=args.source, prefix=args.prefix)
    except (ValueError, TypeError) as e:
        print(f'{prog}: error: {args.src}: {e}', file=sys.stderr)
        return 1
    out = report.state_dict
    print(f'{len(sd)} source keys ({layout} layout): {len(out)} '
          f'{args.source} encoder keys kept, the rest is dropped')
    for why in sorted(set(report.dropped.values())):
        keys = [k for k, w in report.dropped.items() if w == why]
        print(f'left out {_key_list(keys)}: {why}')
    if args.layout == 'mmseg':
        try:
            check_mmseg_target(out)
        except ValueError as e:
            print(f'{prog}: error: {args.src}: {e}; nothing written',
                  file=sys.stderr)
            return 1
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    meta = dict(
        converted_from=osp.abspath(args.src),
        converter='siameseim_to_backbone',
        source_layout=layout,
        source=args.source,
        layout=args.layout)
    torch.save(dict(state_dict=out, meta=meta), args.dst)
    print(f'saved {args.dst}')
    return 0


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    return run_cli(lambda: convert(args), osp.basename(__file__),
                   args.debug)


if __name__ == '__main__':
    sys.exit(main())
