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
import re
import sys
from typing import List, Optional

# Make `import mmsiameseim` work from a source checkout without installing.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

from mmsiameseim.utils import (  # noqa: E402
    mmsiameseim_to_backbone, read_state_dict)
from mmsiameseim.utils.key_mapping import LAYOUTS  # noqa: E402


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
        choices=list(LAYOUTS),
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
    return parser.parse_args(argv)


def _key_list(keys: List[str], limit: int = 12) -> str:
    shown = ', '.join(keys[:limit])
    more = f', ... ({len(keys)} in all)' if len(keys) > limit else ''
    return shown + more


def check_mmseg_target(sd, out) -> None:
    """Print how ``out`` loads into mmseg's ``MAE``; raise if it would not.

    Args:
        sd (Mapping): The source state dict (for the keys left out).
        out (Mapping): The converted encoder (bare keys).

    Raises:
        ValueError: If a file tensor would not load into the backbone or a
            backbone tensor outside the documented fresh set would stay
            random.
    """
    # mmseg is imported only for this layout
    from mmsiameseim.downstream.mmseg_mae import compare_with_mae
    from mmsiameseim.utils.key_mapping import MMSEG_DROPPED
    full = mmsiameseim_to_backbone(sd, source='online', prefix='')
    for pattern, why in MMSEG_DROPPED:
        left_out = [k for k in full if re.match(pattern, k)]
        if left_out:
            print(f'left out {_key_list(left_out)}: {why}')
    result = compare_with_mae(out)
    arch = ', '.join(f'{k}={v}' for k, v in result.arch.items())
    print(f'target: mmseg MAE({arch})')
    print(f'  {len(out) - len(result.unexpected)} of {len(out)} file tensors '
          'load; missing in the file and documented to start fresh: '
          f'{len(result.fresh)} ({_key_list(result.fresh, 4)})')
    problems = []
    if result.unexpected:
        problems.append('unexpected (the backbone has no such key): ' +
                        _key_list(result.unexpected))
    for key, (src, dst) in result.shape_mismatch.items():
        problems.append(f'shape of {key}: file {src}, backbone {dst}')
    if result.undocumented_missing:
        problems.append('missing (would stay random): ' +
                        _key_list(result.undocumented_missing))
    for line in problems:
        print('  ' + line)
    if problems:
        raise ValueError('the converted encoder would not load completely '
                         "into mmseg's MAE backbone: " + '; '.join(problems))


def main(argv: Optional[List[str]] = None) -> int:
    """Run the extraction; returns the exit status."""
    args = parse_args(argv)
    prog = osp.basename(__file__)
    try:
        sd, layout = read_state_dict(args.src, trusted=args.trusted)
    except (FileNotFoundError, ValueError) as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
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
        out = mmsiameseim_to_backbone(
            sd, source=args.source, prefix=args.prefix, layout=args.layout)
    except (ValueError, TypeError) as e:
        print(f'{prog}: error: {args.src}: {e}', file=sys.stderr)
        return 1
    print(f'{len(sd)} source keys ({layout} layout): {len(out)} '
          f'{args.source} encoder keys kept, the rest is dropped')
    if args.layout == 'mmseg':
        try:
            check_mmseg_target(sd, out)
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


if __name__ == '__main__':
    sys.exit(main())
