"""The bench's shared command-line pieces (projects/study_bench/cli.py),
its child-process runs (child_runs.py) and its config paths
(config_files.py)."""
import argparse
import json
import os
import os.path as osp
import sys

import pytest

from projects.study_bench.child_runs import (latest_step, parse_record,
                                             print_record, run_children)
from projects.study_bench.cli import append_jsonl, csv_list
from projects.study_bench.config_files import load_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_csv_list():
    parse = csv_list(int)
    assert parse('64,128,') == [64, 128]
    with pytest.raises(argparse.ArgumentTypeError, match='empty'):
        parse(',')
    with pytest.raises(argparse.ArgumentTypeError, match=r"\['simclr'\]"):
        csv_list(str, ('mae', 'mocov3'))('mae,simclr')


def test_append_jsonl(tmp_path, capsys):
    import subprocess
    head = subprocess.run(['git', '-C', ROOT, 'rev-parse', 'HEAD'],
                          capture_output=True, text=True).stdout.strip()
    path = tmp_path / 'a' / 'b.jsonl'
    append_jsonl(str(path), dict(x=1))
    append_jsonl(str(path), dict(x=2, commit='abc'))  # a record's own
    append_jsonl(None, dict(x=3))
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [line['x'] for line in lines] == [1, 2]
    assert lines[0]['commit'].split('-')[0] == head[:12]
    # the records a run appends to a tracked file are no change of code
    dirty = subprocess.run(
        ['git', '-C', ROOT, 'status', '--porcelain', '--untracked-files=no',
         '--', '.', ':!*.jsonl'], capture_output=True, text=True).stdout
    assert lines[0]['commit'].endswith('-dirty') == bool(dirty.strip())
    assert lines[0]['commit'] in (head[:12], head[:12] + '-dirty')
    assert lines[1]['commit'] == 'abc'
    printed = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert printed == dict(x=3, commit=lines[0]['commit'])


def test_records_of_child_processes(tmp_path, capsys):
    print_record(dict(run='a', value=1.5))
    assert parse_record('log line\n' + capsys.readouterr().out) == dict(
        run='a', value=1.5)
    assert parse_record('no record here') is None

    def child(code):
        return [sys.executable, '-c', code]

    ok = ('from projects.study_bench.child_runs import print_record; '
          'print("noise"); print_record(dict(v={}))')
    cmds = {name: child(ok.format(i)) for i, name in enumerate('abc')}
    env = dict(os.environ, PYTHONPATH=ROOT)  # this checkout's project
    got = dict(run_children(cmds, str(tmp_path), jobs=2, env=env,
                            poll_s=0.05))
    assert got == {'a': dict(v=0), 'b': dict(v=1), 'c': dict(v=2)}
    assert (tmp_path / 'b.log').read_text().startswith('noise')
    cmds['d'] = child('import sys; print("boom"); sys.exit(3)')
    with pytest.raises(SystemExit, match='run d failed'):
        dict(run_children(cmds, str(tmp_path), jobs=4, poll_s=0.05))
    assert 'boom' in capsys.readouterr().err


def test_drivers_report_each_child_step_and_eta(tmp_path, capsys):
    # mmengine's logger lines, as an epoch- and an iteration-based Runner
    # write them
    log = tmp_path / 'x.log'
    log.write_text(
        '12/05 10:28:04 - mmengine - INFO - Epoch(train) [1][1/2]  base_lr: '
        '1.0000e-06 lr: 1.0000e-06  eta: 0:00:04  time: 4.5959  loss: 1.97\n'
        '12/05 10:28:09 - mmengine - INFO - Iter(train) [ 40/400]  lr: '
        '1.0e-04  eta: 0:05:10  time: 0.86  loss: 0.5\n')
    assert latest_step(str(log)) == 'Iter(train) [ 40/400], eta 0:05:10'
    assert latest_step(str(tmp_path / 'none.log')) is None
    code = ('import time; from projects.study_bench.child_runs import '
            'print_record; print("Epoch(train) [1][3/9]  eta: 0:00:07", '
            'flush=True); time.sleep(1.5); print_record(dict(v=1))')
    env = dict(os.environ, PYTHONPATH=ROOT)
    got = dict(
        run_children({'a': [sys.executable, '-c', code]},
                     str(tmp_path), env=env, poll_s=0.1, report_s=0.3))
    assert got == {'a': dict(v=1)}
    out = capsys.readouterr().out.splitlines()
    assert out.count('a: Epoch(train) [1][3/9], eta 0:00:07') == 1


def test_package_config_paths_resolve_through_mmengine():
    cfg = load_config(
        'mmpretrain::mae/mae_vit-base-p16_8xb512-amp-coslr-300e_in1k.py')
    assert cfg.model.type == 'MAE' and cfg.model.neck.decoder_depth == 8
    repo = load_config('configs/siameseim/_base_/siameseim_vit-base-p16.py')
    assert repo.model.backbone.num_masked == 118


def test_transfer_summaries_give_each_seed_and_the_mean_over_seeds():
    """Rows per run and seed, then mean ± sample sd per run (AP in %)."""
    from projects.study_bench.transfer import detection, segmentation

    def det(run, seed, box, mask):
        return dict(run=run, seed=seed, bbox_mAP=box, bbox_mAP_50=0.5,
                    bbox_mAP_75=0.25, segm_mAP=mask, segm_mAP_50=0.5,
                    segm_mAP_75=0.25, train_seconds=120., test_seconds=9.)

    one_seed = [det('random', 0, .2, .1), det('siameseim', 0, .3, .2)]
    text = detection.summarize(one_seed)
    assert '| random | 0 | 20.0 | 50.0 | 25.0 | 10.0 | 50.0 | 25.0 | ' \
        '2.0 min | 9 s |' in text
    assert 'seeds' not in text  # no mean table for single seeds
    text = detection.summarize(one_seed + [det('siameseim', 1, .2, .4)])
    # box 30 and 20: mean 25, sd sqrt(50) = 7.07; mask 20 and 40
    assert text.endswith('| siameseim | 0, 1 | 25.0 ± 7.1 | 30.0 ± 14.1 |\n'
                         '| random | 0 | 20.0 ± 0.0 | 10.0 ± 0.0 |')

    def seg(seed, miou):
        return dict(run='mae', seed=seed, miou=miou, macc=2 * miou,
                    aacc=80., iterations=800, train_seconds=600.,
                    test_seconds=40.)

    text = segmentation.summarize([seg(0, 12.), seg(1, 13.), seg(2, 17.)])
    # mIoU 12, 13, 17: mean 14, sd sqrt(7) = 2.65
    assert '| mae | 1 | 13.00 | 26.00 | 80.00 | 800 | 600 | 40 |' in text
    assert text.endswith('| mae | 0, 1, 2 | 14.00 ± 2.65 | 28.00 ± 5.29 '
                         '| 80.00 ± 0.00 |')


def test_transfer_records_name_files_relative_to_the_run_folder(tmp_path):
    """The records keep no machine folder: paths under the folder the
    command ran in become relative, others stay as given."""
    from projects.study_bench.transfer.driver import relative_paths
    root = str(tmp_path / 'repo')
    record = dict(
        pretrained=f'{root}/work_dirs/seg/siameseim_mmseg.pth', seed=0,
        converter_log=[f'saved {root}/work_dirs/seg/mae_mmseg.pth'],
        load_check=dict(ok=True, source='/elsewhere/file.pth'),
        sibling=f'{root}-old/a.pth')
    assert relative_paths(record, root) == dict(
        pretrained='work_dirs/seg/siameseim_mmseg.pth', seed=0,
        converter_log=['saved work_dirs/seg/mae_mmseg.pth'],
        load_check=dict(ok=True, source='/elsewhere/file.pth'),
        sibling=f'{root}-old/a.pth')
