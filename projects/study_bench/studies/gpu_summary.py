"""The table of the short GPU study's records (``tools/benchmarks/gpu/
study.py``): one row per method (training: steps, seconds, img/s, loader
wait, memory, loss, the online kNN monitor; probes: kNN, linear and dense
on the test split, probe seconds), then the order of the methods on each
probe and the machine."""
from collections import OrderedDict
from typing import List, Optional

NOT_MEASURED = 'not measured'
PROBE_COLUMNS = (
    ('kNN top-1', 'knn_eval'),
    ('linear top-1', 'linear_probe'),
    ('dense mIoU', 'dense_probe'),
)


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
