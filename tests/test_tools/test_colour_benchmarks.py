"""The device colour route in the benchmarks: pipeline variant and cost."""
import json

import pytest
from tool_modules import load_tool


def test_pipeline_throughput_device_variant(tmp_path, capsys, monkeypatch):
    import mmcv
    monkeypatch.setattr(mmcv, 'adjust_hue', mmcv.adjust_hue)  # restore
    tool = load_tool('tools/benchmarks/pipeline_throughput.py')
    out = tmp_path / 'pipe.jsonl'
    assert tool.main([
        '--pipelines', 'siameseim,siameseim-device', '--num-images', '3',
        '--rounds', '2', '--per-round', '2', '--warmup', '1', '--profile',
        '2', '--out', str(out)
    ]) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    rates = {r['pipeline']: r for r in records if 'samples_per_s' in r}
    worker, device = rates['siameseim'], rates['siameseim-device']
    assert 'colour_params' not in worker['output']
    assert device['output']['colour_params'] == [2, 14]
    assert device['output']['masked'] == 118
    assert device['device_over_worker'] == pytest.approx(
        device['samples_per_s'] / worker['samples_per_s'], rel=2e-2)
    assert len(device['device_over_worker_rounds']) == 2
    # the variants are the two routes of the same config
    views = {
        name: [t for t in tool.build_pipeline(name).transforms
               if type(t).__name__ == 'SiameseIMViews'][0]
        for name in ('siameseim', 'siameseim-device')
    }
    assert views['siameseim'].colour_on == 'worker'
    assert views['siameseim-device'].colour_on == 'device'
    assert views['siameseim'].backend == views['siameseim-device'].backend
    profiles = {r['pipeline']: r['profile_ms_per_sample'] for r in records
                if 'profile_ms_per_sample' in r}
    assert any('SimColorJitter' in k for k in profiles['siameseim'])
    assert not any('SimColorJitter' in k
                   for k in profiles['siameseim-device'])
    capsys.readouterr()


def test_colour_device_cost_times_both_views(tmp_path):
    tool = load_tool('tools/benchmarks/colour_device_cost.py')
    out = tmp_path / 'cost.jsonl'
    records = tool.main([
        '--batch-views', '4,8', '--img-size', '16', '--repeats', '1',
        '--warmup', '0', '--out', str(out)
    ])
    assert [r['views'] for r in records] == [4, 8]
    assert [r['samples'] for r in records] == [2, 4]
    for r in records:
        assert r['ms_per_batch'] > 0 and r['img_size'] == 16
        # view 1 of every sample is blurred (p 1.0 in the configs)
        assert r['blurred_views'] >= r['samples']
    assert [json.loads(x) for x in out.read_text().splitlines()] == records
    with pytest.raises(SystemExit):
        tool.parse_args(['--batch-views', '3'])
