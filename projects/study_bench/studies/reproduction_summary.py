"""The tables of the Fashion-MNIST mini-reproduction's records.

The records are those ``tools/benchmarks/run_reproduction.sh`` collects:
the kNN, linear and dense probes' (``tool``, ``metric``, ``value``, ...)
and one ``train`` record per run (``metric='gpu_seconds'``), each tagged
with ``method``, ``lr``, ``seed`` and ``split`` (``heldout`` for the kNN
whose queries are held-out *train* images, ``test`` otherwise).

For every method the best lr is the one with the highest held-out kNN
top-1 (mean over seeds; ties go to the smaller lr, :func:`best_lr`). The
test-set numbers are reported for that lr only and are never used to
choose it.
"""
import math
from collections import OrderedDict
from typing import Dict, List, Optional

NOT_MEASURED = 'not measured'
HELDOUT = 'heldout'
# (column header, tool, split) of the result columns.
COLUMNS = (
    ('kNN top-1, held-out train (selects lr)', 'knn_eval', HELDOUT),
    ('kNN top-1, test', 'knn_eval', 'test'),
    ('linear probe top-1, test', 'linear_probe', 'test'),
    ('dense probe mIoU, test', 'dense_probe', 'test'),
)


def _value(record: dict) -> Optional[float]:
    value = record.get('value')
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _mean(values: List[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _fmt(values: List[float], digits: int = 2) -> str:
    if not values:
        return NOT_MEASURED
    mean = _mean(values)
    if len(values) == 1:
        return f'{mean:.{digits}f}'
    std = math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))
    return f'{mean:.{digits}f} ± {std:.{digits}f} (n={len(values)})'


def _fmt_lr(lr) -> str:
    return f'{lr:g}' if isinstance(lr, (int, float)) else str(lr)


def collect(records: List[dict]) -> 'OrderedDict':
    """Group values as ``{method: {lr: {(tool, split): [v per seed]}}}``.

    Within one run (method, lr, seed) and column, a later record replaces
    an earlier one (a re-evaluated checkpoint); GPU seconds of repeated
    train records of a run add up (a resumed run).
    """
    runs: 'OrderedDict' = OrderedDict()
    for record in records:
        method, lr = record.get('method'), record.get('lr')
        value = _value(record)
        if method is None or lr is None or value is None:
            continue
        tool = str(record.get('tool', ''))
        seed = record.get('seed', 0)
        cell = runs.setdefault(method, OrderedDict()).setdefault(
            lr, OrderedDict()).setdefault(seed, {})
        if tool == 'train' and record.get('metric') == 'gpu_seconds':
            cell['gpu_seconds'] = cell.get('gpu_seconds', 0.) + value
            continue
        split = record.get('split', 'test')
        cell[(tool, split)] = value
    grouped: 'OrderedDict' = OrderedDict()
    for method, by_lr in runs.items():
        grouped[method] = OrderedDict()
        for lr, by_seed in by_lr.items():
            merged: Dict = {}
            for cell in by_seed.values():
                for key, value in cell.items():
                    merged.setdefault(key, []).append(value)
            grouped[method][lr] = merged
    return grouped


def best_lr(by_lr: Dict) -> Optional[object]:
    """The lr with the highest mean held-out kNN (ties: smaller lr)."""
    scored = [(lr, _mean(cols.get(('knn_eval', HELDOUT), [])))
              for lr, cols in by_lr.items()]
    scored = [(lr, s) for lr, s in scored if s is not None]
    if not scored:
        return None

    def key(item):
        lr, score = item
        lr_key = lr if isinstance(lr, (int, float)) else float('inf')
        return (-score, lr_key)

    return sorted(scored, key=key)[0][0]


def _gpu(values: List[float], per_run: bool = False) -> str:
    """Hours, summed (or the mean per run with ``per_run``)."""
    if not values:
        return NOT_MEASURED
    total = _mean(values) if per_run else sum(values)
    return f'{total / 3600:.2f} h'


def summary_table(records: List[dict]) -> str:
    """The markdown table: one row per method at its best lr."""
    header = (['method', 'best lr'] + [c[0] for c in COLUMNS] +
              ['GPU time per run, best lr', 'GPU time, whole sweep'])
    lines = [
        '| ' + ' | '.join(header) + ' |',
        '|' + '---|' * len(header),
    ]
    for method, by_lr in collect(records).items():
        lr = best_lr(by_lr)
        sweep = [
            v for cols in by_lr.values() for v in cols.get('gpu_seconds', [])
        ]
        if lr is None:
            row = [method, 'none (no held-out kNN)'
                   ] + [NOT_MEASURED] * len(COLUMNS) + [
                       NOT_MEASURED, _gpu(sweep)
                   ]
        else:
            cols = by_lr[lr]
            row = [method, _fmt_lr(lr)]
            row += [
                _fmt(cols.get((tool, split), [])) for _, tool, split in COLUMNS
            ]
            row += [
                _gpu(cols.get('gpu_seconds', []), per_run=True),
                _gpu(sweep)
            ]
        lines.append('| ' + ' | '.join(row) + ' |')
    return '\n'.join(lines)


def sweep_table(records: List[dict]) -> str:
    """Every (method, lr) with its held-out and test kNN and GPU time."""
    lines = [
        '| method | lr | kNN held-out | kNN test | GPU time per run |',
        '|---|---|---|---|---|',
    ]
    for method, by_lr in collect(records).items():
        for lr, cols in by_lr.items():
            lines.append(
                f'| {method} | {_fmt_lr(lr)} | '
                f"{_fmt(cols.get(('knn_eval', HELDOUT), []))} | "
                f"{_fmt(cols.get(('knn_eval', 'test'), []))} | "
                f"{_gpu(cols.get('gpu_seconds', []), per_run=True)} |")
    return '\n'.join(lines)


def metric_names(records: List[dict]) -> str:
    """``tool: metric`` pairs seen, for a note under the table."""
    seen = OrderedDict()
    for record in records:
        tool, metric = record.get('tool'), record.get('metric')
        if tool and metric and tool != 'train':
            seen.setdefault(tool, set()).add(str(metric))
    return '; '.join(f'{tool}: {", ".join(sorted(m))}'
                     for tool, m in seen.items())
