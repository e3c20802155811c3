"""Write the Fashion-MNIST scenes as a COCO instance-segmentation dataset.

Train scenes take their items from the Fashion-MNIST train split (seed 0),
test scenes from the test split (seed 1); boxes and masks cover each
item's visible pixels; items with fewer than ``--min-area`` visible pixels
are dropped (``projects/study_bench/scenes/coco.py``).

Example::

    python tools/data/make_fashion_scenes_coco.py data/fashion_scenes_coco \\
        --train-scenes 2000 --test-scenes 300
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from projects.study_bench.cli import add_scene_args
from projects.study_bench.scenes.coco import (MIN_VISIBLE_AREA,
                                              write_coco_scenes)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out_dir', help='output root')
    add_scene_args(parser, ('--train-scenes', '--test-scenes'), (2000, 300))
    parser.add_argument('--min-area', type=int, default=MIN_VISIBLE_AREA,
                        help='fewest visible pixels of an annotated item')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    """Write both splits; returns the exit status."""
    args = parse_args(argv)
    for split, num in (('train', args.train_scenes),
                       ('test', args.test_scenes)):
        try:
            out = write_coco_scenes(args.out_dir, args.data_root, split, num,
                                    min_area=args.min_area)
        except (FileNotFoundError, ValueError) as e:
            print(f'{osp.basename(__file__)}: error: {e}', file=sys.stderr)
            return 1
        print(f'{split}: {num} scenes, {out["instances"]} instances -> '
              f'{out["images"]}, {out["ann_file"]}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
