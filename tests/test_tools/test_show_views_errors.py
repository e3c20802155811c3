"""Errors a user can cause end show_views.py with one line and status 1.

Each names the file or the option and says what to do; no traceback
unless ``--debug``.
"""
import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer

from mmsiameseim.checkpoints import read_checkpoint
from projects.study_bench.fashion_mnist import write_split
from test_tools.test_show_views import _tiny_run, _write_image
from tool_modules import load_tool

show_views = load_tool('tools/visualization/show_views.py')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('show_views_errors')
    _, config, good = _tiny_run(folder)
    state = read_checkpoint(good)['state_dict']  # the run's own file
    paths = dict(config=config, good=good, img=_write_image(folder / 'a.png'))
    wrong = dict(state, **{'backbone.pos_embed': torch.zeros(1, 5, 32)})
    other = {k: v for k, v in state.items() if not k.startswith('head.')}
    untrusted = dict(state_dict=state, message_hub=HistoryBuffer())
    for name, content in (('wrong', wrong), ('other', other),
                          ('untrusted', untrusted), ('list', [1, 2])):
        paths[name] = str(folder / f'{name}.pth')
        torch.save(content, paths[name])
    paths['truncated'] = str(folder / 'truncated.pth')
    with open(good, 'rb') as f, open(paths['truncated'], 'wb') as out:
        out.write(f.read()[:3000])
    paths['missing'] = str(folder / 'absent.pth')
    paths['no_views'] = str(folder / 'no_views.py')
    with open(paths['no_views'], 'w') as f:
        f.write("train_dataloader = dict(dataset=dict(pipeline=[]))\n")
    paths['fmnist'] = str(folder / 'fmnist')
    for split in ('train', 'test'):
        write_split(paths['fmnist'], split,
                    np.zeros((5, 28, 28), np.uint8), np.arange(5))
    return paths


def _one_line(capsys, *words) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith('show_views.py: error: ') and 'Traceback' not in err
    for word in words:
        assert word in err, err
    return err


@pytest.mark.parametrize('kind,words', [
    ('missing', 'does not exist'),
    ('truncated', 'not a readable PyTorch checkpoint'),
    ('untrusted', 'holds pickled Python objects'),
    ('wrong', 'tensors do not fit the model'),
    ('other', 'does not hold the model of tiny_cfg.py'),
    ('list', 'holds a list, not a state dict'),
])
def test_checkpoint_errors(files, capsys, tmp_path, kind, words):
    argv = [files['img'], '--checkpoint', files['config'], files[kind],
            '--out', str(tmp_path / 'v.png')]
    assert show_views.main(argv) == 1
    _one_line(capsys, files[kind], words)
    assert not (tmp_path / 'v.png').exists()
    with pytest.raises((ValueError, FileNotFoundError)):
        show_views.main(argv + ['--debug'])


def test_the_good_checkpoint_draws(files, tmp_path):
    assert show_views.main([
        files['img'], '--checkpoint', files['config'], files['good'],
        '--out', str(tmp_path / 'v.png'), '--panel-size', '64']) == 0


@pytest.mark.parametrize('argv,words', [
    (['{img}', '--mask-ratio', '1'], ['--mask-ratio', '[0, 1)']),
    (['{img}', '--mask-ratio', '-0.1'], ['--mask-ratio']),
    (['{img}', '--dataset-index', '0'], ['either an image file or']),
    ([], ['either an image file or --dataset-index']),
    (['{img}', '--img-size', '30', '--patch-size', '4'],
     ['--img-size 30', '--patch-size 4']),
    (['{img}', '--panel-size', '32'], ['--panel-size']),
    (['{img}', '--crop-scale', '0', '1'], ['--crop-scale']),
    (['{img}', '--config', '{no_views}'],
     ['{no_views}', 'no SiameseIMViews']),
    (['{img}', '--config', '{missing}.py'], ['{missing}.py', 'config']),
    (['{img}', '--config', '{no_views}', '--checkpoint', '{config}',
      '{good}'], ['--config and --checkpoint']),
    (['{missing}.png'], ['image file {missing}.png does not exist']),
    (['{good}'], ['{good} is not an image file']),
    (['--dataset-index', '5', '--data-root', '{fmnist}'],
     ['--dataset-index 5', 'give 0 to 4']),
    (['--dataset-index', '0', '--data-root', '{missing}'],
     ['--data-root {missing}', 'fetch_fashion_mnist.py']),
])
def test_option_and_input_errors(files, capsys, tmp_path, argv, words):
    out = str(tmp_path / 'v.png')
    argv = [a.format(**files) for a in argv] + ['--out', out]
    assert show_views.main(argv) == 1
    _one_line(capsys, *[w.format(**files) for w in words])
    assert not (tmp_path / 'v.png').exists()


def test_a_sample_of_a_small_split_draws(files, tmp_path, capsys):
    assert show_views.main([
        '--dataset-index', '4', '--data-root', files['fmnist'], '--out',
        str(tmp_path / 'v.png'), '--panel-size', '64']) == 0
    assert 'Fashion-MNIST train[4] label 4' in capsys.readouterr().out
