"""Markdown tables of the two short GPU commands' JSON lines.

``throughput FILE``: the table of ``pretrain_throughput.py --summarize``
and whether the targets hold: SiameseIM compiled against MAE eager
(mmpretrain's MAE as shipped) at the same batch and dtype, img/s >= 1.1x,
peak memory <= 1.3x, TFLOP/s >= 1x (:data:`TARGETS`).

``study FILE``: one row per method of ``study.py``'s records (training:
steps, seconds, img/s, loader wait, memory, loss, the online kNN monitor;
probes: kNN, linear and dense on the test split, probe seconds), then the
order of the methods on each probe.

Examples:
    python tools/benchmarks/gpu/summarize.py throughput OUT/throughput.jsonl
    python tools/benchmarks/gpu/summarize.py study OUT/study.jsonl
"""
import argparse
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

from projects.study_bench.studies.records import read_records

NOT_MEASURED = 'not measured'
# (what, record key, comparison, ratio): SiameseIM compiled / MAE eager.
TARGETS = (
    ('img/s', 'img_per_s', '>=', 1.1),
    ('peak memory', 'peak_mem_gib', '<=', 1.3),
    ('TFLOP/s', 'tflops', '>=', 1.0),
)
# Per-GPU training throughput at batch 128 on an H100, from the issue that
# asked for these numbers (not measured by this project).
H100_ANCHORS = (
    ('official SiameseIM code', '591 img/s, 17.4 GiB'),
    ('MAE (mmpretrain)', '1888 img/s'),
    ('MoCo v3 (mmpretrain)', '757 img/s'),
    ('a lean SiameseIM, eager / compiled', '1673 / 2099 img/s'),
)
PROBE_COLUMNS = (
    ('kNN top-1', 'knn_eval'),
    ('linear top-1', 'linear_probe'),
    ('dense mIoU', 'dense_probe'),
)


# --------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------
def _ok(record: dict) -> bool:
    return record.get('status') == 'ok'


def find_run(records: List[dict], model: str, compiled: bool,
             batch: Optional[int] = None,
             dtype: Optional[str] = None) -> Optional[dict]:
    """The first successful record of ``model`` (compiled or eager)."""
    for r in records:
        if r.get('model') != model or not _ok(r):
            continue
        if bool(r.get('compile')) != compiled:
            continue
        if batch is not None and r.get('batch') != batch:
            continue
        if dtype is not None and r.get('dtype') != dtype:
            continue
        return r
    return None


def check_targets(records: List[dict]) -> List[Dict[str, object]]:
    """Each target of :data:`TARGETS` with its ratio and verdict.

    Returns:
        list[dict]: ``what``, ``ratio`` (None if a run is missing),
        ``limit``, ``op`` and ``verdict`` ('holds', 'missed' or
        'not measured').
    """
    siam = find_run(records, 'siameseim', compiled=True)
    mae = None if siam is None else find_run(
        records, 'mae', compiled=False, batch=siam['batch'],
        dtype=siam['dtype'])
    out = []
    for what, key, op, limit in TARGETS:
        ratio, verdict = None, NOT_MEASURED
        if siam is not None and mae is not None and \
                siam.get(key) is not None and mae.get(key):
            ratio = siam[key] / mae[key]
            holds = ratio >= limit if op == '>=' else ratio <= limit
            verdict = 'holds' if holds else 'missed'
        out.append(dict(what=what, key=key, op=op, limit=limit, ratio=ratio,
                        verdict=verdict))
    return out


def throughput_summary(path: str) -> str:
    """The throughput table, the targets and the H100 anchors."""
    from tools.benchmarks.pretrain_throughput import summarize
    records = [r for r in read_records(path) if 'model' in r]
    lines = [summarize(path), '', 'Targets (SiameseIM compiled / MAE eager, '
             'same batch and dtype, same process):', '']
    lines += ['| target | ratio | limit | verdict |', '|---|---|---|---|']
    for t in check_targets(records):
        ratio = NOT_MEASURED if t['ratio'] is None else f"{t['ratio']:.2f}"
        lines.append(f"| {t['what']} | {ratio} | {t['op']} {t['limit']:g} "
                     f"| {t['verdict']} |")
    eager = find_run(records, 'siameseim', compiled=False)
    mae = find_run(records, 'mae', compiled=False)
    if eager and mae and mae.get('img_per_s'):
        lines += ['', f"SiameseIM eager / MAE eager img/s: "
                  f"{eager['img_per_s'] / mae['img_per_s']:.2f}."]
    lines += ['', 'H100 anchors (per GPU, batch 128; not measured here): ' +
              '; '.join(f'{k} {v}' for k, v in H100_ANCHORS) + '.']
    return '\n'.join(lines)


# --------------------------------------------------------------------------
# Study
# --------------------------------------------------------------------------
def _num(value, digits: int = 1) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return NOT_MEASURED
    return f'{value:.{digits}f}'


def study_rows(records: List[dict]) -> 'OrderedDict':
    """``{method: {'train': rec, 'process': rec, tool: rec}}``; a later
    record of the same kind replaces an earlier one."""
    rows: 'OrderedDict' = OrderedDict()
    for r in records:
        method = r.get('method')
        if method is None:
            continue
        kind = r.get('tool')
        rows.setdefault(method, OrderedDict())[kind] = r
    return rows


def _train_cells(train: Optional[dict]) -> List[str]:
    if train is None:
        return [NOT_MEASURED] * 7
    steps = train.get('steps')
    planned = train.get('planned_steps')
    step_cell = NOT_MEASURED if steps is None else f'{steps} / {planned}'
    if train.get('truncated'):
        step_cell += ' (truncated)'
    wait = train.get('loader_wait_fraction')
    knn = train.get('knn_monitor') or []
    knn_cell = ' → '.join(f'{v:.1f}' for _, v in knn) or NOT_MEASURED
    return [
        step_cell,
        _num(train.get('value')),
        _num(train.get('img_per_s'), 0),
        NOT_MEASURED if wait is None else f'{100 * wait:.0f} %',
        _num(train.get('peak_mem_gib'), 2),
        _num(train.get('loss_final'), 3), knn_cell
    ]


def study_summary(records: List[dict]) -> str:
    """The study table (one row per method), the orderings, the machine."""
    header = ['method', 'lr', 'steps done / planned', 'train s', 'img/s',
              'loader wait', 'peak GiB', 'final loss',
              'online kNN (init → end)'] + [c for c, _ in PROBE_COLUMNS] + [
                  'probe s', 'status']
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    rows = study_rows(records)
    for method, kinds in rows.items():
        train = kinds.get('train')
        lr = next((r.get('lr') for r in kinds.values() if 'lr' in r), None)
        probes = [kinds.get(tool) for _, tool in PROBE_COLUMNS]
        probe_s = sum(p.get('wall_seconds') or 0 for p in probes if p)
        status = []
        if train is not None and train.get('status') != 'ok':
            status.append(f"train: {train.get('status')}")
        for (_, tool), p in zip(PROBE_COLUMNS, probes):
            if p is not None and p.get('value') is None:
                status.append(f'{tool}: {p.get("status")}')
        proc = kinds.get('process')
        if proc is not None and (proc.get('returncode') or
                                 proc.get('killed')):
            status.append('terminated (budget)' if proc.get('killed') else
                          f"exit {proc.get('returncode')}")
        cells = [method, f'{lr:g}' if isinstance(lr, float) else str(lr)]
        cells += _train_cells(train)
        cells += [_num(p.get('value'), 2) if p else NOT_MEASURED
                  for p in probes]
        cells += [_num(probe_s) if any(probes) else NOT_MEASURED,
                  '; '.join(status) or 'ok']
        lines.append('| ' + ' | '.join(cells) + ' |')
    lines += ['', 'Order on each probe (test split, higher is better):', '']
    for column, tool in PROBE_COLUMNS:
        scored = [(m, k[tool]['value']) for m, k in rows.items()
                  if tool in k and isinstance(k[tool].get('value'),
                                              (int, float))]
        scored.sort(key=lambda mv: -mv[1])
        order = ' > '.join(f'{m} {v:.2f}' for m, v in scored)
        lines.append(f'* {column}: {order or NOT_MEASURED}')
    env = next((r for r in records if r.get('tool') == 'env'), {})
    train = [k['train'] for k in rows.values() if 'train' in k]
    if env or train:
        gpu = next((t['gpu'] for t in train if t.get('gpu')), None)
        device = next((t['device'] for t in train if t.get('device')), '?')
        torch = next((t['torch'] for t in train if t.get('torch')), '?')
        lines += [
            '', f"Machine: {gpu or device}, {env.get('cores', '?')} CPU "
            f"cores, torch {torch}, Python {env.get('python', '?')}, "
            f"{env.get('date', '?')}; {len(train)} trainings at once on "
            'one device.'
        ]
    return '\n'.join(lines)


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
