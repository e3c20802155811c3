"""Write a seeded corpus of ImageNet-like JPEGs for pipeline benchmarks.

The images: :mod:`projects.study_bench.throughput.jpeg_corpus`. The same
seed gives byte-identical files (with the same Pillow / libjpeg).

Example:
    python tools/benchmarks/make_jpeg_corpus.py data/jpeg_corpus -n 300
"""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from projects.study_bench.throughput.jpeg_corpus import (corpus_digest,
                                                         make_corpus)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out_dir', help='output folder')
    parser.add_argument('-n', '--num-images', type=int, default=300)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--quality', type=int, default=90)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    paths = make_corpus(args.out_dir, args.num_images, args.seed,
                        args.quality)
    size = sum(osp.getsize(p) for p in paths)
    print(f'{len(paths)} JPEGs, {size / len(paths) / 1024:.1f} KiB on '
          f'average, sha256 {corpus_digest(paths)[:16]} -> {args.out_dir}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
