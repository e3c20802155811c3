"""Both short GPU commands end to end on the CPU at toy size.

``TOY=1`` runs the very shell entry points of the GPU machine
(tools/benchmarks/gpu/throughput.sh and study.sh) with the local
interpreter instead of the wheel install, tiny sizes and the CPU; the two
run at the same time to keep the test short. To stay within the test-time
budget the study trains one of its four methods (SiameseIM); the study
configs of all four are checked in test_gpu_study.py, every reproduction
config trains two steps in test_reproduction_configs.py, and
``prepare.sh --check`` runs all four at once (not part of ``make test``).
As on the GPU machine, mmdet cannot be imported in these runs (mmpretrain
imports it only if present, which costs seconds per process here).
"""
import json
import os
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
GPU = osp.join(ROOT, 'tools', 'benchmarks', 'gpu')


def _records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


NO_MMDET = ('import sys\n'
            "sys.modules['mmdet'] = None  # not on the GPU machine either\n")


def test_toy_commands_end_to_end(tmp_path):
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(NO_MMDET)
    env = dict(os.environ, TOY='1', PYTHON=sys.executable,
               WORK_ROOT=str(tmp_path / 'runs'), METHODS='siameseim')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (str(site), env.get('PYTHONPATH')) if p)
    env.pop('OUT', None)
    # a checkpoint left by an earlier call on the same machine
    stale = tmp_path / 'runs' / 'siameseim' / 'epoch_9.pth'
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b'not a checkpoint')
    (stale.parent / 'last_checkpoint').write_text(str(stale))
    procs = {
        name: subprocess.Popen(
            ['bash', osp.join(GPU, f'{name}.sh'), str(tmp_path / 'out')],
            cwd=str(tmp_path), env=env, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        for name in ('throughput', 'study')
    }
    logs = {name: p.communicate(timeout=900)[0] for name, p in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, f'{name}.sh failed:\n{logs[name][-6000:]}'
    out = tmp_path / 'out'

    # throughput: every model eager, then SiameseIM and MAE compiled
    bench = _records(out / 'throughput.jsonl')
    assert [(r['model'], r['compile']) for r in bench] == [
        ('siameseim', False), ('mae', False), ('mocov3', False),
        ('siameseim', 'modules'), ('mae', 'modules')]
    for r in bench:
        assert r['status'] == 'ok' and r['tiny'] is True
        assert r['batch'] == 4 and r['dtype'] == 'fp32'
        assert r['img_per_s'] > 0 and r['tflops'] > 0
    summary = (out / 'throughput_summary.md').read_text()
    siam, mae = bench[3], bench[1]
    ratio = siam['img_per_s'] / mae['img_per_s']
    verdict = 'holds' if ratio >= 1.1 else 'missed'
    assert f'| img/s | {ratio:.2f} | >= 1.1 | {verdict} |' in summary
    assert '| peak memory | not measured | <= 1.3 | not measured |' in \
        summary
    assert summary in logs['throughput']

    # study: trained, checkpointed, probed, summarised
    records = _records(out / 'study.jsonl')
    env_record = records[0]
    assert env_record['tool'] == 'env' and env_record['size'] == 'toy'
    assert env_record['planned_steps'] == 2
    for method in ('siameseim', ):
        mine = {r['tool']: r for r in records if r.get('method') == method}
        assert set(mine) == {'train', 'knn_eval', 'linear_probe',
                             'dense_probe', 'process'}
        train = mine['train']
        assert train['status'] == 'ok' and train['value'] > 0
        assert train['steps'] == train['planned_steps'] == 2
        assert train['epochs_done'] == 2 and train['truncated'] is False
        assert train['concurrent_runs'] == 1 and train['device'] == 'cpu'
        assert [step for step, _ in train['knn_monitor']] == [0, 2]
        for tool, metric in (('knn_eval', 'knn_top1'),
                             ('linear_probe', 'linear_top1'),
                             ('dense_probe', 'miou')):
            probe = mine[tool]
            assert probe['metric'] == metric
            assert 0 <= probe['value'] <= 100
            assert probe['checkpoint_loaded'] is True
            assert probe['checkpoint'].endswith(
                osp.join(method, 'epoch_2.pth'))
            assert probe['lr'] == train['lr'] and probe['wall_seconds'] > 0
        assert mine['process']['returncode'] == 0
        assert not mine['process']['killed']
    assert not stale.exists()
    table = (out / 'study_summary.md').read_text()
    assert '| siameseim | 0.0006 | 2 / 2 |' in table
    logs_file = (out / 'study_logs.txt').read_text()
    assert '===== siameseim' in logs_file
