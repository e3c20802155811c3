"""Summarise the Fashion-MNIST mini-reproduction as a markdown table.

Reads the JSON lines written by ``tools/benchmarks/run_reproduction.sh``:
the records of ``knn_eval.py``, ``linear_probe.py`` and ``dense_probe.py``
(``tool``, ``metric``, ``value``, ...) and one ``train`` record per run
(``metric='gpu_seconds'``), each tagged by the script with ``method``,
``lr``, ``seed`` and ``split`` (``heldout`` for the kNN whose queries are
held-out *train* images, ``test`` otherwise).

For every method the best lr is the one with the highest held-out kNN
top-1 (mean over seeds; ties go to the smaller lr). The test-set numbers are
reported for that lr only and are never used to choose it. The tables are
:mod:`projects.study_bench.studies.reproduction_summary`.

Examples:
    python tools/benchmarks/summarize_reproduction.py RESULTS.jsonl
    python tools/benchmarks/summarize_reproduction.py RESULTS.jsonl \\
        --all-runs
    # used by run_reproduction.sh: tag the records of one run and append
    python tools/benchmarks/summarize_reproduction.py RESULTS.jsonl \\
        --append-from RUN.jsonl --meta method=mae lr=1.5e-3 seed=0 \\
        split=test
    # write the held-out split (train[:50000] as bank, train[50000:] as
    # queries) in the IDX layout knn_eval.py reads
    python tools/benchmarks/summarize_reproduction.py RESULTS.jsonl \\
        --make-heldout data/fashion-mnist data/fashion-mnist-heldout
"""
import argparse
from typing import Optional, Sequence

from projects.study_bench.fashion_mnist import make_heldout_split
from projects.study_bench.studies.records import (append_tagged, parse_meta,
                                                  read_records)
from projects.study_bench.studies.reproduction_summary import (metric_names,
                                                               summary_table,
                                                               sweep_table)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Markdown summary of the mini-reproduction')
    parser.add_argument('results', help='results .jsonl')
    parser.add_argument(
        '--all-runs', action='store_true', help='also print every lr')
    parser.add_argument(
        '--append-from',
        metavar='RUN_JSONL',
        help='append the records of RUN_JSONL to RESULTS, tagged with '
        '--meta, then exit')
    parser.add_argument('--meta', nargs='*', default=[], help='key=value tags')
    parser.add_argument(
        '--make-heldout',
        nargs=2,
        metavar=('SRC_ROOT', 'DST_ROOT'),
        help='write the held-out Fashion-MNIST split, then exit')
    parser.add_argument('--num-heldout', type=int, default=10000)
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> str:
    """Entry point; returns what it printed."""
    args = parse_args(argv)
    if args.make_heldout:
        sizes = make_heldout_split(*args.make_heldout, args.num_heldout)
        text = (f'wrote {args.make_heldout[1]}: {sizes[0]} bank images, '
                f'{sizes[1]} held-out query images')
    elif args.append_from:
        count = append_tagged(args.append_from, args.results,
                              parse_meta(args.meta))
        text = f'appended {count} record(s) to {args.results}'
    else:
        records = read_records(args.results)
        text = summary_table(records)
        if args.all_runs:
            text += '\n\n' + sweep_table(records)
        names = metric_names(records)
        if names:
            text += f'\n\nMetrics: {names}.'
    print(text)
    return text


if __name__ == '__main__':
    main()
