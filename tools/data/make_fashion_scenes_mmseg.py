"""Write Fashion-MNIST scenes as an mmseg folder dataset.

Layout (read by ``FashionScenesSegDataset`` in the configs under
``configs/siameseim/benchmarks/mmseg/``)::

    OUT/{train,test}/images/00000.png   8-bit gray scenes
    OUT/{train,test}/masks/00000.png    label PNGs, 0-10 (0 = background)
    OUT/{train,test}/scenes.json        parameters, classes, per-scene items

Example:
    python tools/data/make_fashion_scenes_mmseg.py data/fashion_scenes_mmseg \\
        --num-train 2000 --num-test 1000 --canvas 64
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from projects.study_bench.cli import add_scene_args
from projects.study_bench.scenes.mmseg import write_mmseg_scenes


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Write Fashion-MNIST scenes as an mmseg folder dataset')
    parser.add_argument('out_dir', help='output folder')
    add_scene_args(parser)
    parser.add_argument('--canvas', type=int, default=64,
                        help='scene side in pixels. Defaults to 64')
    parser.add_argument('--item-size', type=int, nargs=2, default=(20, 40),
                        metavar=('MIN', 'MAX'),
                        help='item side range. Defaults to 20 40')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Write the folders; returns the exit status."""
    args = parse_args(argv)
    try:
        splits = write_mmseg_scenes(
            args.out_dir,
            data_root=args.data_root,
            num_train=args.num_train,
            num_test=args.num_test,
            canvas=args.canvas,
            min_size=args.item_size[0],
            max_size=args.item_size[1])
    except (OSError, ValueError) as e:
        print(f'{osp.basename(__file__)}: error: {e}', file=sys.stderr)
        return 1
    for split, info in splits.items():
        state = 'written' if info['written'] else 'up to date, kept'
        print(f"{split}: {info['num_scenes']} scenes in "
              f"{osp.join(args.out_dir, split)} ({state})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
