"""Extract the ViT encoder of a SiameseIM checkpoint for downstream use.

Input: an mmsiameseim training checkpoint (``backbone.*`` /
``target_encoder.*``; pass ``--trusted`` for files your own runs wrote,
since mmengine checkpoints hold Python objects), a checkpoint converted by
``siameseim_official_to_mmpretrain.py``, or an official release checkpoint
(converted on the fly). Output: ``dict(state_dict=..., meta=...)`` holding
only the encoder (spec §8.1: no projector, predictor, ``mm_*`` copies or BN
buffers) in mmpretrain ``VisionTransformer`` names, timm names with
``--layout timm``, or the keys of the mmdet ViTDet backbone with
``--layout vitdet``.

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

# Make `import mmsiameseim` work from a source checkout without installing.
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

import torch  # noqa: E402

from mmsiameseim.utils import (  # noqa: E402
    mmsiameseim_to_backbone, read_state_dict)


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
        help='online encoder (default, spec §8.1) or its EMA copy')
    parser.add_argument(
        '--prefix',
        default=None,
        help="prefix of the output keys: 'backbone.' (default for the "
        "mmpretrain layout) or '' (default for --layout timm)")
    parser.add_argument(
        '--layout',
        choices=['mmpretrain', 'timm', 'vitdet'],
        default='mmpretrain',
        help='key names: mmpretrain VisionTransformer (default), timm, or '
        'vitdet (mmpretrain names without cls token and final norm, for '
        'the mmdet ViTDet configs)')
    parser.add_argument(
        '--trusted',
        action='store_true',
        help='read SRC with full pickle (needed for mmengine training '
        'checkpoints); only for files your own runs wrote')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the extraction; returns the exit status."""
    args = parse_args(argv)
    prog = osp.basename(__file__)
    try:
        sd, layout = read_state_dict(args.src, trusted=args.trusted)
    except (FileNotFoundError, ValueError) as e:
        print(f'{prog}: error: {e}', file=sys.stderr)
        return 1
    try:
        out = mmsiameseim_to_backbone(
            sd, source=args.source, prefix=args.prefix, layout=args.layout)
    except (ValueError, TypeError) as e:
        print(f'{prog}: error: {args.src}: {e}', file=sys.stderr)
        return 1
    print(f'{len(sd)} source keys ({layout} layout): wrote {len(out)} '
          f'{args.source} encoder keys, the rest is dropped')
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
