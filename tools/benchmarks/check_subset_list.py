"""Check a labelled-subset list (SimCLR ``1percent.txt`` format).

One training image file name per line, ``<wnid>_<number>.JPEG``; every
wnid an ImageNet-1k class; no repeats. Optionally: the number of lines,
the number of classes (default 1000) and that every listed image exists
under ``--train-root/<wnid>/``. Prints a JSON summary; exit status 1 with
the reason on a failed check.

Example:
    python tools/benchmarks/check_subset_list.py data/imagenet/1percent.txt \\
        --train-root data/imagenet/train
"""
import argparse
import json
import sys
from typing import Optional, Sequence

from projects.study_bench.probes.few_shot import check_subset_list


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the check; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('subset_list')
    parser.add_argument('--train-root', default=None)
    parser.add_argument('--expect-count', type=int, default=None)
    parser.add_argument(
        '--expect-classes',
        type=int,
        default=1000,
        help='0 skips the class-count check')
    args = parser.parse_args(argv)
    try:
        report = check_subset_list(
            args.subset_list,
            train_root=args.train_root,
            expect_count=args.expect_count,
            expect_classes=args.expect_classes or None)
    except (OSError, ValueError) as e:
        print(f'check_subset_list: {e}', file=sys.stderr)
        return 1
    print(json.dumps(dict(subset_list=args.subset_list, **report)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
