"""Markdown tables of the two short GPU commands' JSON lines.

``throughput FILE``: the table of ``pretrain_throughput.py --summarize``
and whether the targets hold: SiameseIM compiled against MAE eager
(mmpretrain's MAE as shipped) at the same batch and dtype, img/s >= 1.1x,
peak memory <= 1.3x, TFLOP/s >= 1x
(:mod:`projects.study_bench.throughput.summary`).

``study FILE``: one row per method of ``study.py``'s records, then the
order of the methods on each probe
(:mod:`projects.study_bench.studies.gpu_summary`).

Examples:
    python tools/benchmarks/gpu/summarize.py throughput OUT/throughput.jsonl
    python tools/benchmarks/gpu/summarize.py study OUT/study.jsonl
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.studies.gpu_summary import study_summary
from projects.study_bench.studies.records import read_records
from projects.study_bench.throughput.summary import throughput_summary


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Entry point; returns what it printed."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('kind', choices=('throughput', 'study'))
    parser.add_argument('jsonl', help='the command\'s JSON lines')
    args = parser.parse_args(argv)
    if args.kind == 'throughput':
        text = throughput_summary(args.jsonl)
    else:
        text = study_summary(read_records(args.jsonl))
    print(text)
    return text


if __name__ == '__main__':
    main()
