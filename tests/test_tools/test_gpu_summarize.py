"""Summaries of the short GPU commands (tools/benchmarks/gpu/summarize.py)
and the preparation tool (tools/benchmarks/gpu/prepare.py), on
hand-written records and wheel files."""
import json
import os.path as osp
import zipfile

from tool_modules import load_tool

from projects.study_bench.studies.gpu_study import DATA_ROOT
from projects.study_bench.studies.gpu_summary import study_summary
from projects.study_bench.throughput.summary import check_targets

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
summarize = load_tool('tools/benchmarks/gpu/summarize.py')
prepare = load_tool('tools/benchmarks/gpu/prepare.py')


def _bench(model, compiled, img_per_s, peak, tflops, batch=128,
           dtype='bf16', status='ok'):
    return dict(model=model, batch=batch, dtype=dtype,
                compile='modules' if compiled else False,
                img_per_s=img_per_s, step_ms=1.0, peak_mem_gib=peak,
                tflops=tflops, host_syncs=None, status=status,
                device='NVIDIA H200', torch='2.11.0', mmpretrain='1.2.0',
                date='2026-12-01')


def _verdicts(records):
    return [(t['what'], None if t['ratio'] is None else round(t['ratio'], 4),
             t['verdict']) for t in check_targets(records)]


def test_targets_hold_and_miss():
    mae = _bench('mae', False, 2000., 8., 116.8)
    holds = [_bench('siameseim', False, 1500., 9., 212.7), mae,
             _bench('siameseim', True, 2200., 10.4, 311.9)]
    assert _verdicts(holds) == [
        ('img/s', 1.1, 'holds'), ('peak memory', 1.3, 'holds'),
        ('TFLOP/s', 2.6704, 'holds')]
    missed = [mae, _bench('siameseim', True, 2100., 10.5, 100.)]
    assert _verdicts(missed) == [
        ('img/s', 1.05, 'missed'), ('peak memory', 1.3125, 'missed'),
        ('TFLOP/s', 0.8562, 'missed')]


def test_targets_not_measured():
    siam = _bench('siameseim', True, 2200., 10., 300.)
    # no MAE, MAE at another batch, a skipped compiled run, no memory (CPU)
    for records in ([siam], [siam, _bench('mae', False, 2e3, 8., 1e2, 64)],
                    [_bench('siameseim', True, None, None, None,
                            status='skipped'),
                     _bench('mae', False, 2e3, 8., 1e2)]):
        assert {v for _, _, v in _verdicts(records)} == \
            {'not measured'}
    cpu = [_bench('mae', False, 4., None, 1e-5),
           _bench('siameseim', True, 2., None, 2e-5)]
    assert _verdicts(cpu) == [
        ('img/s', 0.5, 'missed'), ('peak memory', None, 'not measured'),
        ('TFLOP/s', 2.0, 'holds')]


def test_throughput_summary_file(tmp_path):
    path = tmp_path / 't.jsonl'
    records = [_bench('siameseim', False, 1500., 9., 212.7),
               _bench('mae', False, 2000., 8., 116.8),
               _bench('mocov3', False, 700., 20., 196.3),
               _bench('siameseim', True, 2200., 10.4, 311.9),
               _bench('mae', True, None, None, None, status='skipped')]
    path.write_text(''.join(json.dumps(r) + '\n' for r in records))
    text = summarize.main(['throughput', str(path)])
    assert '| siameseim | 128 | bf16 | modules | - | 2200.0 |' in text
    assert '| mae | 128 | bf16 | modules | - | - |' in text
    assert '| img/s | 1.10 | >= 1.1 | holds |' in text
    assert '| peak memory | 1.30 | <= 1.3 | holds |' in text
    assert 'SiameseIM eager / MAE eager img/s: 0.75.' in text
    assert 'official SiameseIM code 591 img/s' in text


def _study_records():
    meta = dict(lr=6e-4, seed=0)
    return [
        dict(tool='env', cores=16, python='3.12.3', date='2026-12-01'),
        dict(tool='train', metric='gpu_seconds', value=101.25, steps=1872,
             planned_steps=1872, truncated=False, img_per_s=4731.4,
             loader_wait_fraction=0.0312, peak_mem_gib=1.5, loss_final=0.7,
             knn_monitor=[[0, 64.2], [8, 80.04]], gpu='NVIDIA H200',
             device='cuda', torch='2.11.0', status='ok', method='siameseim',
             split='train', **meta),
        dict(tool='knn_eval', metric='knn_top1', value=81.234,
             wall_seconds=8.5, method='siameseim', split='test', **meta),
        dict(tool='linear_probe', metric='linear_top1', value=84.5,
             wall_seconds=20., method='siameseim', split='test', **meta),
        dict(tool='dense_probe', metric='miou', value=None,
             status='RuntimeError: boom', wall_seconds=1.5,
             method='siameseim', split='test', **meta),
        dict(tool='process', method='siameseim', returncode=1,
             killed=False, split='process', **meta),
        dict(tool='train', metric='gpu_seconds', value=150.0, steps=1638,
             planned_steps=1872, truncated=True, img_per_s=None,
             loader_wait_fraction=None, peak_mem_gib=2.25, loss_final=3.1,
             knn_monitor=[[0, 60.0]], status='ok', method='mocov3',
             lr=6e-3, seed=0, split='train'),
        dict(tool='linear_probe', metric='linear_top1', value=86.0,
             wall_seconds=19., method='mocov3', lr=6e-3, seed=0,
             split='test'),
    ]


def test_study_summary():
    text = study_summary(_study_records())
    lines = text.splitlines()
    assert lines[0].startswith('| method | lr | steps done / planned |')
    assert lines[2] == (
        '| siameseim | 0.0006 | 1872 / 1872 | 101.2 | 4731 | 3 % | 1.50 | '
        '0.700 | 64.2 → 80.0 | 81.23 | 84.50 | not measured | 30.0 | '
        'dense_probe: RuntimeError: boom; exit 1 |')
    assert lines[3] == (
        '| mocov3 | 0.006 | 1638 / 1872 (truncated) | 150.0 | not measured '
        '| not measured | 2.25 | 3.100 | 60.0 | not measured | 86.00 | '
        'not measured | 19.0 | ok |')
    assert '* linear top-1: mocov3 86.00 > siameseim 84.50' in lines
    assert '* kNN top-1: siameseim 81.23' in lines
    assert '* dense mIoU: not measured' in lines
    assert lines[-1] == ('Machine: NVIDIA H200, 16 CPU cores, torch 2.11.0, '
                         'Python 3.12.3, 2026-12-01; 2 trainings at once on '
                         'one device.')


# --------------------------------------------------------------------------
# prepare.py
# --------------------------------------------------------------------------
def test_device_calls_fit_the_limits():
    calls = prepare.device_calls(sizes=False)
    assert [c['name'] for c in calls] == ['throughput', 'study', 'both']
    for call in calls:
        assert len(call['command']) <= 2000 and len(call['carry']) <= 8
        assert call['timeout_s'] <= 600
        assert '.whl' in call['carry']
        for path in ('tools/benchmarks/gpu/throughput.sh',
                     'tools/benchmarks/gpu/study.sh'):
            if path in call['command']:
                assert osp.isfile(osp.join(ROOT, path))
    assert DATA_ROOT in calls[1]['carry']
    assert calls[2]['command'].startswith(calls[0]['command'] + ';')


def _wheel(folder, name, version, tag='py3-none-any', requires=None):
    path = folder / f'{name.replace("-", "_")}-{version}-{tag}.whl'
    meta = f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n'
    if requires:
        meta += f'Requires-Python: {requires}\n'
    with zipfile.ZipFile(path, 'w') as z:
        z.writestr(f'{name.replace("-", "_")}-{version}.dist-info/METADATA',
                   meta)
    return str(path)


def test_verify_wheels(tmp_path):
    good = [_wheel(tmp_path, n, v, requires='>=3.7')
            for n, v in prepare.WHEELS]
    assert prepare.verify(good) == []
    bad = good[1:] + [
        _wheel(tmp_path, 'mmengine', '0.10.6'),
        _wheel(tmp_path, 'mmengine', '0.10.7', tag='cp311-cp311-linux_x86_64',
               requires='<3.12'),
        _wheel(tmp_path, 'numpy', '2.0.0')
    ]
    problems = prepare.verify(bad)
    assert any('not pure Python' in p for p in problems)
    assert any('Requires-Python <3.12 excludes 3.12' in p for p in problems)
    assert any(p.startswith('mmengine: 2 versions') for p in problems)
    assert any(p.startswith('mmengine==0.10.7 missing') for p in problems)
    assert 'numpy: not in the wheel list' in problems


def test_python_ok_and_names():
    assert prepare.python_ok(None) and prepare.python_ok('>=3.7')
    assert prepare.python_ok('>=3.11,<4') and not prepare.python_ok('>=3.13')
    assert not prepare.python_ok('<3.12')
    assert prepare.normalize('Model_Index') == 'model-index'
    assert prepare.parse_wheel_name('a/mmcv_lite-2.1.0-py2.py3-none-any.whl'
                                    ) == ('mmcv_lite', '2.1.0', 'py2.py3',
                                          'none', 'any')
