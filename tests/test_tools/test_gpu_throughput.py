"""What the short GPU throughput command asks of pretrain_throughput.py:
the run order (eager first, then the compiled models) and the deadline
(projects/study_bench/throughput/benchmark.py)."""
import json
import os.path as osp

import pytest
from tool_modules import load_tool

from projects.study_bench.throughput.benchmark import run_plan

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def throughput():
    path = osp.join(ROOT, 'tools', 'benchmarks', 'pretrain_throughput.py')
    return load_tool(path)


def _plan(throughput, *argv):
    args = throughput.parse_args(list(argv))
    return run_plan(args, args.dtypes)


def test_run_plan_order(throughput):
    plan = _plan(throughput, '--models', 'siameseim,mae,mocov3',
                 '--compile-models', 'siameseim,mae', '--batch-sizes', '128',
                 '--dtypes', 'bf16')
    assert plan == [('siameseim', 128, 'bf16', ''), ('mae', 128, 'bf16', ''),
                    ('mocov3', 128, 'bf16', ''),
                    ('siameseim', 128, 'bf16', 'modules'),
                    ('mae', 128, 'bf16', 'modules')]
    # --compile: every model, eager rows first; --compile-only: no eager row
    plan = _plan(throughput, '--models', 'mae,mocov3', '--batch-sizes',
                 '64,128', '--dtypes', 'fp16', '--compile')
    assert [p[3] for p in plan] == [''] * 4 + ['modules'] * 4
    assert [p[:2] for p in plan[:4]] == [('mae', 64), ('mae', 128),
                                         ('mocov3', 64), ('mocov3', 128)]
    plan = _plan(throughput, '--models', 'mae', '--batch-sizes', '8',
                 '--dtypes', 'bf16', '--compile-only', '--compile-target',
                 'train_step')
    assert plan == [('mae', 8, 'bf16', 'train_step')]
    assert _plan(throughput, '--models', 'mae', '--batch-sizes', '8',
                 '--dtypes', 'bf16') == [('mae', 8, 'bf16', '')]


def test_bad_options_are_named(throughput, capsys):
    for argv in (['--models', 'mae', '--compile-models', 'siameseim'],
                 ['--deadline-s', '0']):
        with pytest.raises(SystemExit):
            throughput.parse_args(argv)
    err = capsys.readouterr().err
    assert "--compile-models ['siameseim'] not in --models" in err
    assert '--deadline-s must be > 0' in err


def test_deadline_skips_later_configurations(throughput, tmp_path, capsys):
    out = tmp_path / 't.jsonl'
    rc = throughput.main([
        '--device', 'cpu', '--tiny', '--models', 'mae,mocov3',
        '--batch-sizes', '2', '--steps', '1', '--warmup', '0',
        '--deadline-s', '1e-9', '--out',
        str(out)
    ])
    assert rc == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    statuses = [(r['model'], r['status']) for r in records]
    assert statuses == [('mae', 'ok'), ('mocov3', 'skipped')]
    assert records[1]['img_per_s'] is None
    assert records[1]['error'].startswith('not started:')
    assert records[0]['seconds'] > 0 and records[1]['seconds'] == 0
