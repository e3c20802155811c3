"""Errors a user can cause end a tool with one line naming the file.

On a955673 ``tools/analysis/check_pretrained_load.py`` showed torch's
``RuntimeError`` with one "size mismatch" line per tensor for a file of
another size, and a ``PytorchStreamReader`` traceback whose last line did
not name a truncated file; the converter advised re-running ``torch.load``
with ``weights_only=False`` for random bytes. Now each ends with exit
status 1 and one line on stderr that names the file (``--debug`` shows the
traceback).
"""
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope

from log_records import logged_records
from mmsiameseim.models.backbones import SiameseIMViT
from tool_modules import load_tool

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SEG_CPU = osp.join(
    ROOT, 'projects', 'study_bench', 'configs', 'mmseg',
    'siameseim_vit-mini-p4-upernet_1xb8-800i_fashion-scenes-64x64.py')
CHECK = 'tools/analysis/check_pretrained_load.py'
TO_BACKBONE = 'tools/model_converters/siameseim_to_backbone.py'
OFFICIAL = 'tools/model_converters/siameseim_official_to_mmpretrain.py'


def _encoder(width: int) -> dict:
    torch.manual_seed(0)
    vit = SiameseIMViT(
        arch=dict(embed_dims=width, num_layers=4, num_heads=2,
                  feedforward_channels=4 * width),
        img_size=32, patch_size=4)
    return vit.state_dict()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('files')
    good, wrong = folder / 'good.pth', folder / 'wrong_size.pth'
    torch.save(dict(state_dict=_encoder(128)), good)
    torch.save(dict(state_dict=_encoder(64)), wrong)
    truncated = folder / 'truncated.pth'
    truncated.write_bytes(good.read_bytes()[:5000])
    noise = folder / 'noise.pth'
    noise.write_bytes(bytes(range(256)) * 4)
    return dict(good=str(good), wrong=str(wrong), truncated=str(truncated),
                noise=str(noise), missing=str(folder / 'absent.pth'))


def _one_line_error(capsys, path: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert 'Traceback' not in err and path in err
    return err


@pytest.mark.parametrize('kind,words', [
    ('wrong', 'tensors do not fit the backbone'),
    ('truncated', 'not a readable PyTorch checkpoint'),
    ('missing', 'does not exist'),
])
def test_check_pretrained_load_errors(files, capsys, kind, words):
    tool = load_tool(CHECK)
    assert tool.main([SEG_CPU, '--checkpoint', files['good']]) == 0
    capsys.readouterr()
    assert tool.main([SEG_CPU, '--checkpoint', files[kind]]) == 1
    assert words in _one_line_error(capsys, files[kind])
    with pytest.raises((RuntimeError, ValueError, FileNotFoundError)):
        tool.main([SEG_CPU, '--checkpoint', files[kind], '--debug'])
    init_default_scope('mmpretrain')


def test_converters_on_bytes_that_are_no_checkpoint(files, capsys, tmp_path):
    """No advice to re-run with ``weights_only=False``: it is no pickle."""
    for tool, extra in ((TO_BACKBONE, []), (OFFICIAL, ['--strict'])):
        dst = tmp_path / 'out.pth'
        code = load_tool(tool).main([files['noise'], str(dst)] + extra)
        err = _one_line_error(capsys, files['noise'])
        assert code == 1 and not dst.exists()
        assert 'weights_only' not in err and 'not a PyTorch checkpoint' in err


DEMO = osp.join(ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')


@pytest.mark.parametrize('kind,words', [
    ('wrong', '51 tensors do not fit the SiameseIMViT'),
    ('truncated', 'not a readable PyTorch checkpoint'),
    ('missing', 'does not exist'),
    ('noise', 'not a PyTorch checkpoint'),
])
def test_probe_tools_end_in_one_line(files, capsys, kind, words):
    """The probes read the file before any image (a955673: a traceback)."""
    from projects.study_bench.probes.cli import probe_cli
    for probe in ('knn_eval', 'dense_probe', 'linear_probe'):
        argv = [DEMO, files[kind], '--train-size', '4', '--test-size', '4']
        assert probe_cli(probe, argv) == 1
        err = _one_line_error(capsys, files[kind])
        assert err.startswith(f'{probe}.py: error: ') and words in err
    with pytest.raises((ValueError, FileNotFoundError)):
        probe_cli('knn_eval', argv + ['--debug'])


def test_transfer_drivers_name_a_missing_checkpoint(files, capsys, tmp_path):
    """Checked before any scene is written (the docs' commands parse
    before ``make demo`` has written the file)."""
    for name in ('seg_transfer_cpu', 'detection_transfer_cpu'):
        tool = load_tool(f'tools/benchmarks/{name}.py')
        argv = ['--siameseim', files['missing'], '--mae', files['good'],
                '--work-root', str(tmp_path / name)]
        assert tool.parse_args(argv).siameseim == files['missing']
        assert tool.main(argv) == 1
        err = _one_line_error(capsys, files['missing'])
        assert f'--siameseim {files["missing"]}: no such checkpoint' in err
        assert not (tmp_path / name).exists()


def test_resume_on_an_empty_work_dir_warns_and_cpu_uses_gloo(tmp_path):
    """a955673: ``--resume`` with nothing to resume started from scratch
    without a word; the environment of a CPU run said backend nccl."""
    from mmengine.config import Config
    train = load_tool('tools/train.py')
    config = osp.join(ROOT, 'configs', 'demo',
                      'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')
    args = train.parse_args([config, '--resume', '--work-dir',
                             str(tmp_path / 'empty')])
    cfg, records = logged_records(
        lambda: train.merge_args(Config.fromfile(config), args))
    warnings = [r.getMessage() for r in records if r.levelname == 'WARNING']
    assert len(warnings) == 1 and 'no checkpoint in' in warnings[0]
    assert str(tmp_path / 'empty') in warnings[0]
    assert cfg.resume and cfg.load_from is None
    assert not torch.cuda.is_available()
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    missing = str(tmp_path / 'none.pth')
    with pytest.raises(FileNotFoundError, match='none.pth'):
        train.merge_args(Config.fromfile(config),
                         train.parse_args([config, '--resume', missing]))


def test_frozen_parameters_are_counted_in_one_line():
    """a955673 logged one WARNING per frozen tensor (~70 per demo run);
    the optimizer's parameter groups are the default constructor's."""
    from mmengine.config import Config
    from mmengine.optim import build_optim_wrapper
    from mmpretrain.registry import MODELS
    config = osp.join(ROOT, 'configs', 'demo',
                      'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')
    cfg = Config.fromfile(config)
    model = MODELS.build(cfg.model)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert len(frozen) > 50
    default = dict(cfg.optim_wrapper.to_dict(), constructor=None)
    default.pop('constructor')
    ours, ours_logs = logged_records(
        lambda: build_optim_wrapper(model, cfg.optim_wrapper))
    theirs, their_logs = logged_records(
        lambda: build_optim_wrapper(model, default))
    skipped = [r for r in their_logs if 'requires_grad=False' in
               r.getMessage()]
    assert len(skipped) == len(frozen)
    assert not [r for r in ours_logs if r.levelname == 'WARNING']
    summary = [r.getMessage() for r in ours_logs
               if 'requires_grad=False' in r.getMessage()]
    assert summary == [f'{len(frozen)} parameters with requires_grad=False '
                       'are not optimised (the EMA target, fixed tables, '
                       'frozen layers)']
    for a, b in zip(ours.optimizer.param_groups, theirs.optimizer.param_groups,
                    strict=True):
        assert [id(p) for p in a['params']] == [id(p) for p in b['params']]
        assert {k: v for k, v in a.items() if k != 'params'} == \
            {k: v for k, v in b.items() if k != 'params'}


DEMO = osp.join(ROOT, 'configs', 'demo',
                'siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py')


def test_one_option_moves_the_demo_data_and_errors_name_the_loader(
        tmp_path, capsys):
    """a955673 wrote the demo's data root three times (the train loader,
    the kNN hook's two loaders): ``train_dataloader.dataset.data_root`` now
    moves all of them, and a wrong root names the loader, the folder and
    the fetch command of a clone and of a pip install."""
    from types import SimpleNamespace

    from mmengine.config import Config

    from mmsiameseim.engine import KNNMonitorHook, SafeResumeRunner
    cfg = Config.fromfile(DEMO)
    knn = [h for h in cfg.custom_hooks if h.type == 'KNNMonitorHook'][0]
    hook = KNNMonitorHook(**{k: v for k, v in knn.items() if k != 'type'})
    data = osp.join(ROOT, 'data', 'fashion-mnist')
    runner = SimpleNamespace(
        cfg=Config(dict(train_dataloader=dict(dataset=dict(data_root=data)))),
        build_dataloader=SafeResumeRunner.build_dataloader, seed=0)
    loader = hook._loader(runner, 'val')
    assert loader.dataset.data_root == data and len(loader.dataset) == 1000
    assert tuple(loader.dataset[0]['inputs'].shape) == (3, 32, 32)

    empty = str(tmp_path / 'elsewhere')
    runner.cfg.train_dataloader.dataset.data_root = empty
    with pytest.raises(ValueError) as err:
        hook._loader(runner, 'train')
    message = str(err.value)
    assert message.startswith('KNNMonitorHook train_dataloader: ')
    assert empty in message and 'fetch_fashion_mnist' in message
    assert 'mim run mmsiameseim fetch_fashion_mnist' in message

    train = load_tool('tools/train.py')
    assert train.main([DEMO, '--work-dir', str(tmp_path / 'w'),
                       '--cfg-options',
                       f'train_dataloader.dataset.data_root={empty}']) == 1
    line = _one_line_error(capsys, empty)
    assert 'train_dataloader: cannot read the FashionMNIST dataset' in line
