"""Benchmark tools: smoke runs on the CPU, FLOP counts, JPEG corpus."""
import json
import os.path as osp

import pytest
from tool_modules import load_tool

import projects.study_bench.throughput.jpeg_corpus as corpus_tool
from projects.study_bench.throughput import flops
from projects.study_bench.throughput.benchmark import REQUIRED_KEYS
from projects.study_bench.throughput.models import load_config
from projects.study_bench.throughput.summary import summarize

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BENCH = osp.join(ROOT, 'tools', 'benchmarks')
throughput = load_tool('tools/benchmarks/pretrain_throughput.py')


def _json_lines(text):
    return [json.loads(line) for line in text.splitlines()
            if line.startswith('{')]


def test_pretrain_throughput_tiny_cpu_all_models(tmp_path, capsys):
    out = tmp_path / 'bench.jsonl'
    rc = throughput.main([
        '--device', 'cpu', '--tiny', '--batch-sizes', '4', '--steps', '2',
        '--warmup', '1', '--out',
        str(out)
    ])
    assert rc == 0
    printed = _json_lines(capsys.readouterr().out)
    written = _json_lines(out.read_text())
    assert printed == written
    assert [r['model'] for r in written] == ['siameseim', 'mae', 'mocov3']
    for record in written:
        for key in REQUIRED_KEYS:
            assert key in record, key
        assert record['status'] == 'ok'
        assert record['batch'] == 4 and record['dtype'] == 'fp32'
        assert record['compile'] is False and record['tiny'] is True
        assert record['img_per_s'] > 0 and record['tflops'] > 0
        assert record['steps'] == 2 and record['peak_mem_gib'] is None
        assert isinstance(record['loss'], float)
    table = summarize(str(out))
    rows = [ln for ln in table.splitlines() if ln.startswith('| ')]
    assert len(rows) == 1 + 3  # header + one row per model
    assert '| mocov3 | 4 | fp32 | eager |' in table


def test_gpu_script_syntax_and_cuda_guard():
    import subprocess
    script = osp.join(BENCH, 'run_gpu_benchmarks.sh')
    assert subprocess.run(['bash', '-n', script]).returncode == 0
    import torch
    if not torch.cuda.is_available():
        assert throughput.main(['--device', 'cuda']) == 2


def test_pretrain_throughput_siameseim_options(capsys):
    # the tiny size's own mask count, restated as an option
    count = load_config('siameseim', tiny=True).model.backbone.num_masked
    rc = throughput.main([
        '--device', 'cpu', '--tiny', '--models', 'siameseim',
        '--batch-sizes', '2', '--steps', '1', '--warmup', '0',
        '--siameseim-cfg-options', f'model.backbone.num_masked={count}',
        'model.sync_free_ema=False'
    ])
    assert rc == 0
    record, = _json_lines(capsys.readouterr().out)
    assert record['status'] == 'ok'
    assert record['cfg_options'] == {
        'model.backbone.num_masked': count,
        'model.sync_free_ema': False
    }


def test_pretrain_throughput_rejects_unknown_model():
    with pytest.raises(SystemExit):
        throughput.parse_args(['--models', 'simclr'])


def _base(name):
    return flops.flop_sizes(name, load_config(name, tiny=False))


def test_flop_sizes_are_read_from_the_configs():
    assert _base('siameseim') == dict(
        img=224, patch=16, dims=768, depth=12, heads=12, ffn=3072,
        siam_dims=768, siam_heads=16, siam_ffn=3072, proj_depth=2,
        pred_depth=4, num_masked=118)
    assert _base('mae') == dict(
        img=224, patch=16, dims=768, depth=12, heads=12, ffn=3072,
        mae_ratio=0.75, mae_dims=512, mae_depth=8, mae_heads=16,
        mae_ffn=2048)
    assert {k: v for k, v in _base('mocov3').items()
            if k.startswith('moco')} == dict(moco_hid=4096, moco_out=256)
    tiny = flops.flop_sizes('siameseim', load_config('siameseim', True))
    assert (tiny['img'], tiny['dims'], tiny['siam_ffn'],
            tiny['num_masked']) == (32, 32, 128, 9)


def test_flop_counts_match_hand_counts():
    """Reference counts, docs/benchmarks.md rules (ViT-B/16 at 224,
    GMAC unless noted)."""
    sizes = {name: _base(name) for name in ('siameseim', 'mae', 'mocov3')}

    def gflops(name, batch=None):
        return flops.train_gflops_per_image(name, sizes[name], batch)

    siam = flops.siameseim_macs(sizes['siameseim'])
    assert siam['online'] / 1e9 == pytest.approx(16.77, abs=0.01)
    assert siam['target'] / 1e9 == pytest.approx(20.59, abs=0.01)
    assert siam['loss'] / 1e9 == pytest.approx(0.23, abs=0.01)
    assert siam['train'] / 1e9 == pytest.approx(71, rel=0.01)
    assert gflops('siameseim') == pytest.approx(142, rel=0.005)
    # the officially coded N x N neg term: 154 / 165 / 188 GFLOP
    for batch, gflop in ((64, 154), (128, 165), (256, 188)):
        macs = flops.siameseim_macs(sizes['siameseim'], batch, nxn_neg=True)
        assert 2 * macs['train'] / 1e9 == pytest.approx(gflop, rel=0.01)
    assert flops.mae_macs(sizes['mae'])['train'] / 1e9 == \
        pytest.approx(29, rel=0.02)
    assert flops.vit_inference_macs(sizes['mae']) / 1e9 == \
        pytest.approx(17.6, rel=0.005)
    # SiameseIM costs about 2.5x MAE per image
    assert gflops('siameseim') / gflops('mae') == pytest.approx(2.5, abs=0.1)
    # MoCo-v3: two views x (3 x online + momentum) ViT-B forwards
    assert gflops('mocov3', 256) == pytest.approx(2 * 4 * 17.56 * 2,
                                                  rel=0.01)


def test_block_macs_formula():
    n, d = 79, 768
    assert flops.block_macs(n, d, 4 * d) == n * 12 * d * d + 2 * n * n * d


def test_jpeg_corpus_is_deterministic(tmp_path):
    from PIL import Image
    a = corpus_tool.make_corpus(str(tmp_path / 'a'), 12, seed=3)
    b = corpus_tool.make_corpus(str(tmp_path / 'b'), 12, seed=3)
    c = corpus_tool.make_corpus(str(tmp_path / 'c'), 12, seed=4)
    assert len(a) == 12
    assert corpus_tool.corpus_digest(a) == corpus_tool.corpus_digest(b)
    assert corpus_tool.corpus_digest(a) != corpus_tool.corpus_digest(c)
    assert corpus_tool.list_corpus(str(tmp_path / 'a')) == a
    sizes = set()
    for path in a:
        with Image.open(path) as img:
            assert img.format == 'JPEG' and img.mode == 'RGB'
            sizes.add(img.size)
    assert sizes <= {(500, 375), (375, 500)}


def test_pipeline_throughput_smoke(tmp_path, capsys, monkeypatch):
    import mmcv
    monkeypatch.setattr(mmcv, 'adjust_hue', mmcv.adjust_hue)  # restore
    pipeline = load_tool('tools/benchmarks/pipeline_throughput.py')
    out = tmp_path / 'pipe.jsonl'
    rc = pipeline.main([
        '--num-images', '4', '--rounds', '1', '--warmup', '1',
        '--profile', '2', '--out',
        str(out)
    ])
    assert rc == 0
    records = _json_lines(out.read_text())
    assert records == _json_lines(capsys.readouterr().out)
    rates = [r for r in records if 'samples_per_s' in r]
    assert [r['pipeline'] for r in rates] == [
        'siameseim', 'siameseim-cv2', 'mocov3'
    ]
    assert rates[0]['pillow_over_cv2'] == pytest.approx(
        rates[0]['samples_per_s'] / rates[1]['samples_per_s'], rel=2e-2)
    for r in rates:
        for key in ('samples_per_s', 'cv2_threads', 'n_images',
                    'workers_for_2000_img_s', 'machine', 'date'):
            assert key in r, key
        assert r['samples_per_s'] > 0 and r['n_images'] == 4
        assert r['output']['views'] == [[3, 224, 224], [3, 224, 224]]
    assert rates[0]['output']['masked'] == 118
    assert rates[0]['output']['rel_pos'] == 6
    # the variant really differs: the configs resize with Pillow
    views = {n: [t for t in pipeline.build_pipeline(n).transforms
                 if type(t).__name__ == 'SiameseIMViews'][0]
             for n in ('siameseim', 'siameseim-cv2')}
    assert views['siameseim'].backend == 'pillow'
    assert views['siameseim-cv2'].backend == 'cv2'
    profiles = [r for r in records if 'profile_ms_per_sample' in r]
    assert len(profiles) == 3
    assert any('SimColorJitter' in k
               for k in profiles[0]['profile_ms_per_sample'])
