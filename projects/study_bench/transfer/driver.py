"""The run driver the CPU transfer benchmarks share.

Three fine-tuning runs of one downstream config: from a SiameseIM
checkpoint, from an mmpretrain MAE checkpoint of the same encoder size,
and from the config's random initialisation (:data:`RUNS`). The parent
converts each checkpoint (the benchmark's ``convert``), starts every run
as a child process of the benchmark's own command line
(:func:`projects.study_bench.child_runs.run_children`, ``--jobs`` side by
side with ``--threads`` torch threads each) and appends one JSON record
per run to ``--out``.
"""
import argparse
import os
import os.path as osp
import statistics
import time
from typing import Callable, Dict, List, Optional, Sequence

from mmsiameseim.cli import add_debug_flag
from ..child_runs import run_children
from ..cli import append_jsonl
from ..studies.records import read_records

RUNS = ('siameseim', 'mae', 'random')
#: The checkpoints of ``make demo`` and of the CPU comparison's MAE row.
DEFAULT_SOURCES = {
    'siameseim': 'work_dirs/demo/epoch_4.pth',
    'mae': 'work_dirs/cpu_comparison/mae/lr0.001_seed0/epoch_4.pth',
}


def add_transfer_args(parser: argparse.ArgumentParser, config: str,
                      work_root: str, jobs: int,
                      threads: int) -> argparse.ArgumentParser:
    """The arguments every transfer benchmark takes.

    Args:
        parser (argparse.ArgumentParser): The benchmark's parser.
        config (str): Default ``--config``.
        work_root (str): Default ``--work-root`` (``--out`` is
            ``<work_root>.jsonl``).
        jobs (int): Default ``--jobs``.
        threads (int): Default ``--threads``.

    Returns:
        argparse.ArgumentParser: The parser.
    """
    for run in ('siameseim', 'mae'):
        parser.add_argument(f'--{run}', default=DEFAULT_SOURCES[run],
                            help=f'{run} pretraining checkpoint (default '
                            f'{DEFAULT_SOURCES[run]})')
    parser.add_argument('--runs', nargs='+', default=list(RUNS),
                        choices=RUNS)
    parser.add_argument('--config', default=config)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--jobs', type=int, default=jobs,
                        help=f'runs trained side by side. Defaults to {jobs}')
    parser.add_argument('--threads', type=int, default=threads,
                        help=f'torch threads per run. Defaults to {threads}')
    parser.add_argument('--work-root', default=work_root)
    parser.add_argument('--out', default=work_root + '.jsonl')
    parser.add_argument('--trusted', action='store_true',
                        help='read the checkpoints with full pickle (only '
                        'for files your own runs wrote; files recorded in '
                        "their run's manifest need no flag)")
    parser.add_argument('--summarize', metavar='JSONL',
                        help='print the table of a results file and exit')
    # internal: one fine-tuning run in this process
    parser.add_argument('--run-one', choices=RUNS, help=argparse.SUPPRESS)
    parser.add_argument('--pretrained', help=argparse.SUPPRESS)
    add_debug_flag(parser)
    return parser


def checkpoints(args: argparse.Namespace) -> Dict[str, Optional[str]]:
    """``{run: source checkpoint or None}``.

    Raises:
        FileNotFoundError: A pretrained run's checkpoint does not exist
            (named with its option).
    """
    paths = dict(siameseim=args.siameseim, mae=args.mae, random=None)
    for run in args.runs:
        if run != 'random' and not (paths[run] and osp.isfile(paths[run])):
            raise FileNotFoundError(
                f'--{run} {paths[run]}: no such checkpoint (run {run!r} '
                'needs it; make demo writes the SiameseIM one, '
                'docs/downstream.md the MAE one)')
    return {run: paths[run] for run in args.runs}


def run_transfer(args: argparse.Namespace,
                 sources: Dict[str, Optional[str]],
                 child: Sequence[str],
                 convert: Callable[[str, str], dict],
                 describe: Callable[[dict], str],
                 extra: Optional[dict] = None) -> List[dict]:
    """Convert, fine-tune every run in its own process, append records.

    Args:
        args (argparse.Namespace): Of :func:`add_transfer_args`.
        sources (dict): From :func:`checkpoints`.
        child (Sequence[str]): The command of one run (given
            ``--run-one RUN [--pretrained FILE]``).
        convert (Callable): ``(run, source) -> dict`` with ``path`` (the
            converted encoder) and ``record`` (fields for the run's
            record).
        describe (Callable): One line about a finished run's record.
        extra (dict, optional): Fields for every record.

    Returns:
        list[dict]: The records, in the order of :data:`RUNS`.
    """
    start = time.time()
    work_root = osp.abspath(args.work_root)
    os.makedirs(work_root, exist_ok=True)
    converted = {run: convert(run, src) for run, src in sources.items()
                 if src is not None}
    cmds = {}
    for run in sources:
        cmds[run] = [*child, '--run-one', run]
        if run in converted:
            cmds[run] += ['--pretrained', converted[run]['path']]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads),
               MKL_NUM_THREADS=str(args.threads))
    records = []
    for run, record in run_children(cmds, work_root, args.jobs, env):
        record.update(converted.get(run, {}).get('record', {}),
                      **(extra or {}), source_checkpoint=sources[run],
                      side_by_side=min(args.jobs, len(cmds)))
        records.append(record)
        print(f'{run}: {describe(record)}', flush=True)
    wall = round(time.time() - start, 1)  # conversions and runs
    records.sort(key=lambda r: RUNS.index(r['run']))
    for record in records:
        record['all_runs_wall_seconds'] = wall
        append_jsonl(args.out, relative_paths(record, os.getcwd()))
    print(f'all runs: {wall:.0f} s wall; records appended to {args.out}')
    return records


def relative_paths(value, root: str):
    """``value`` with every path under ``root`` written relative to it (the
    records name the files the way the command was given, not the
    machine's folders).

    Args:
        value: A record, or any JSON value inside one.
        root (str): The folder the command ran in.

    Returns:
        The same structure, strings rewritten.
    """
    prefix = osp.join(osp.abspath(root), '')
    if isinstance(value, str):
        return value.replace(prefix, '')
    if isinstance(value, dict):
        return {k: relative_paths(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [relative_paths(v, root) for v in value]
    return value


def seed_table(records: List[dict],
               columns: Dict[str, Callable[[dict], float]],
               digits: int) -> str:
    """Markdown table of each run's mean ± sample sd over its seeds.

    Args:
        records (list[dict]): Records of one or more seeds per run.
        columns (dict): Column title -> the value of a record.
        digits (int): Decimals shown.

    Returns:
        str: One row per run (in :data:`RUNS` order) with the seeds it
        averages; '' when every run has a single seed.
    """
    by_run = {run: [r for r in records if r['run'] == run] for run in RUNS}
    by_run = {run: rs for run, rs in by_run.items() if rs}
    if all(len(rs) < 2 for rs in by_run.values()):
        return ''
    lines = ['| init | seeds | ' + ' | '.join(columns) + ' |',
             '|---|---|' + '---|' * len(columns)]
    for run, rs in by_run.items():
        cells = []
        for value in columns.values():
            values = [value(r) for r in rs]
            sd = statistics.stdev(values) if len(values) > 1 else 0.
            cells.append(f'{statistics.mean(values):.{digits}f} ± '
                         f'{sd:.{digits}f}')
        seeds = ', '.join(str(r.get('seed', 0)) for r in rs)
        lines.append(f"| {run} | {seeds} | {' | '.join(cells)} |")
    return '\n'.join(lines)


def summarize_file(path: str, summarize: Callable[[List[dict]], str]) -> str:
    """Print and return ``summarize`` of the records of ``path``."""
    text = summarize(read_records(path))
    print(text)
    return text
