"""Show SiameseIM's two views of one image: crops, mask, colour ops, geometry.

The picture and its marks: docs/visualization.md; the library:
:mod:`mmsiameseim.visualization`.

Examples:
    python tools/visualization/show_views.py photo.jpg --out views.png
    python tools/visualization/show_views.py --dataset-index 7 --config CFG
    python tools/visualization/show_views.py --dataset-index 7 \\
        --checkpoint CFG work_dirs/x/epoch_100.pth --trusted-checkpoint
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence, Tuple

import numpy as np

from mmsiameseim.cli import add_debug_flag, load_config, run_cli

PAPER_MASK_RATIO = 118 / 196


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line (values are checked by :func:`check_args`)."""
    parser = argparse.ArgumentParser(
        description='Visualise the two SiameseIM views of one image')
    parser.add_argument('img', nargs='?', help='image file')
    parser.add_argument(
        '--dataset-index',
        type=int,
        help='use this Fashion-MNIST sample instead of an image file')
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument('--split', default='train', choices=['train', 'test'])
    parser.add_argument('--out', default='show_views.png', help='output PNG')
    parser.add_argument(
        '--config',
        help="take the views (with their colour ops) and the mask generator "
        "from this config's train pipeline")
    parser.add_argument(
        '--checkpoint',
        nargs=2,
        metavar=('CONFIG', 'CKPT'),
        help='also show predicted vs target features of this model (implies '
        '--config CONFIG)')
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='load CKPT with full pickle; only for checkpoints your own runs '
        'wrote (mmengine checkpoints hold non-tensor objects)')
    parser.add_argument(
        '--img-size',
        type=int,
        help='view side; default 32 for --dataset-index, else 224 '
        '(ignored with --config)')
    parser.add_argument(
        '--patch-size',
        type=int,
        help='patch side; default 4 for --dataset-index, else 16 '
        '(ignored with --config)')
    parser.add_argument(
        '--crop-scale', type=float, nargs=2, default=(0.08, 1.0))
    parser.add_argument(
        '--seed', type=int, default=0, help='seed of crops, colour, mask')
    parser.add_argument(
        '--mask-ratio',
        type=float,
        default=PAPER_MASK_RATIO,
        help='fraction of masked patches, in [0, 1) (default 118/196)')
    parser.add_argument(
        '--num-lines', type=int, default=6, help='view-2 patches to join')
    parser.add_argument(
        '--panel-size', type=int, default=320, help='pixels per panel')
    parser.add_argument('--device', default='cpu')
    add_debug_flag(parser)
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Option values that cannot work: a ``ValueError`` naming the option."""
    if (args.img is None) == (args.dataset_index is None):
        raise ValueError('give either an image file or --dataset-index')
    if args.checkpoint is not None:
        if args.config not in (None, args.checkpoint[0]):
            raise ValueError('--config and --checkpoint name different '
                             'configs: give one')
        args.config = args.checkpoint[0]
    if not 0 <= args.mask_ratio < 1:
        raise ValueError(f'--mask-ratio must be in [0, 1), got '
                         f'{args.mask_ratio}')
    if args.panel_size < 64:
        raise ValueError(f'--panel-size must be >= 64, got {args.panel_size}')
    if args.num_lines < 0:
        raise ValueError(f'--num-lines must be >= 0, got {args.num_lines}')
    lo, hi = args.crop_scale
    if not 0 < lo <= hi <= 1:
        raise ValueError('--crop-scale LO HI needs 0 < LO <= HI <= 1, got '
                         f'{lo} {hi}')
    small = args.dataset_index is not None
    args.img_size = args.img_size or (32 if small else 224)
    args.patch_size = args.patch_size or (4 if small else 16)
    if args.config is None and (args.patch_size < 1
                                or args.img_size % args.patch_size):
        raise ValueError(f'--img-size {args.img_size} must be a multiple of '
                         f'--patch-size {args.patch_size}')


def default_transforms(args: argparse.Namespace) -> Tuple[dict, dict]:
    """Views without colour ops and a paper-like block mask (no config)."""
    grid = args.img_size // args.patch_size
    views = dict(
        type='SiameseIMViews',
        img_size=args.img_size,
        crop_scale=tuple(args.crop_scale),
        interpolation='bicubic')
    mask = dict(
        type='BlockwiseMaskGenerator',
        input_size=grid,
        num_masking_patches=int(round(args.mask_ratio * grid * grid)),
        min_num_patches=max(1, int(round(16 * grid * grid / 196))))
    return views, mask


def load_image(args: argparse.Namespace) -> Tuple[np.ndarray, str]:
    """The RGB input image and a short description of it."""
    if args.dataset_index is not None:
        from mmpretrain.datasets import FashionMNIST
        try:
            data = FashionMNIST(
                data_root=args.data_root,
                split=args.split,
                test_mode=args.split == 'test',
                download=False)
        except RuntimeError as e:  # mmpretrain: "Cannot find ..."
            raise FileNotFoundError(
                f'--data-root {args.data_root} holds no Fashion-MNIST: fetch'
                ' it with `python tools/data/fetch_fashion_mnist.py DIR` (a '
                'clone) or `mim run mmsiameseim fetch_fashion_mnist DIR` '
                '(pip install) and pass --data-root DIR') from e
        if not 0 <= args.dataset_index < len(data):
            raise ValueError(f'--dataset-index {args.dataset_index} is not '
                             f'in the {args.split} split: give 0 to '
                             f'{len(data) - 1}')
        info = data.get_data_info(args.dataset_index)
        img = np.repeat(info['img'][..., None], 3, axis=2)  # gray -> RGB
        return img, (f'Fashion-MNIST {args.split}[{args.dataset_index}'
                     f'] label {int(info["gt_label"])}')
    import mmcv
    if not osp.isfile(args.img):
        raise FileNotFoundError(f'image file {args.img} does not exist')
    img = mmcv.imread(args.img)  # BGR, None if it cannot decode it
    if img is None:
        raise ValueError(f'{args.img} is not an image file mmcv can read')
    return np.ascontiguousarray(img[..., ::-1]), args.img


def show(args: argparse.Namespace) -> int:
    """Check the options, make the views and write the picture."""
    from mmsiameseim.visualization.views_figure import render
    from mmsiameseim.visualization.views_pair import (dense_features,
                                                      load_model, make_views,
                                                      transforms_from_config)
    check_args(args)
    img, name = load_image(args)
    if args.config is not None:
        cfg = load_config(args.config)
        views_cfg, mask_cfg = transforms_from_config(cfg, args.config)
        grid = mask_cfg.get('input_size', 14)
        grid = grid[0] if isinstance(grid, (tuple, list)) else grid
        patch_size = views_cfg.get('img_size', 224) // grid
    else:
        patch_size = args.patch_size
        views_cfg, mask_cfg = default_transforms(args)
    pair = make_views(views_cfg, mask_cfg, img, args.seed)
    features = None
    if args.checkpoint is not None:
        model = load_model(cfg, args.config, args.checkpoint[1],
                           args.trusted_checkpoint, args.device)
        features = dense_features(model, pair)
    summary = render(img, pair, patch_size, args.out, args.num_lines,
                     args.panel_size, features)
    print(f'{name}: wrote {args.out} ({summary["size"][0]}x'
          f'{summary["size"][1]}); view 1: {summary["texts"]["view1"][1]}; '
          f'view 2: {summary["texts"]["view2"][1]}')
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point; returns the exit status."""
    args = parse_args(argv)
    return run_cli(lambda: show(args), osp.basename(__file__), args.debug)


if __name__ == '__main__':
    sys.exit(main())
