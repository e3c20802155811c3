"""The installed package is a model zoo: configs, tools, model index, mim.

The end-to-end tests build the package from a copy of this checkout into a
fresh virtual environment (a plain, non-editable install; the OpenMMLab
stack comes from the running interpreter's site-packages through a
``.pth`` line, so nothing is downloaded) and run every command from a
folder outside the checkout.
"""
import glob
import hashlib
import json
import os
import os.path as osp
import re
import shutil
import site
import subprocess
import venv

import pytest
import torch
import yaml
from mmengine.config import Config
from mmengine.config.utils import MODULE2PACKAGE
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmsiameseim.config_scope import collate_fn_without_scope
from mmsiameseim.checkpoints import (read_checkpoint)
from mmsiameseim.engine import SafeResumeRunner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# What the build needs from the checkout (setup.py, MANIFEST.in).
SOURCE_ITEMS = ('pyproject.toml', 'setup.py', 'setup.cfg', 'MANIFEST.in',
                'README.md', 'LICENSE', 'CHANGELOG.md', 'model-index.yml',
                'mmsiameseim', 'configs', 'tools')
BASE_400E = 'siameseim/siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py'
DEMO = 'demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py'
TIMEOUT = 600
# hidden from the fresh environment: pyproject.toml's extras, not needed
OPTIONAL_PACKAGES = ('mmseg', 'mmdet')


def _metafiles():
    pattern = osp.join(ROOT, 'configs', '**', 'metafile.yml')
    return sorted(
        osp.relpath(p, ROOT).replace(os.sep, '/')
        for p in glob.glob(pattern, recursive=True))


def _model_names():
    names = set()
    for rel in _metafiles():
        with open(osp.join(ROOT, rel)) as f:
            names.update(m['Name'] for m in yaml.safe_load(f)['Models'])
    return names


def _files_under(folder):
    """``{relative path: sha256}`` of the files, bytecode caches left out."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if d != '__pycache__']
        for name in filenames:
            if name.endswith('.pyc'):
                continue
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            out[osp.relpath(path, folder)] = digest
    return out


def _without_scope(obj):
    """Drop mmengine's ``_scope_`` marks (a ``pkg::`` base adds them)."""
    if isinstance(obj, dict):
        return {k: _without_scope(v) for k, v in obj.items() if k != '_scope_'}
    if isinstance(obj, (list, tuple)):
        return [_without_scope(v) for v in obj]
    return obj


def test_model_index_imports_every_metafile():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    on_disk = _metafiles()
    missing = sorted(set(on_disk) - set(imports))
    assert not missing, ('add to model-index.yml (Import:): ' +
                         ', '.join(missing))
    assert imports == on_disk  # sorted, no stale or repeated entries


def test_import_registers_the_config_prefix():
    assert MODULE2PACKAGE['mmsiameseim'] == 'mmsiameseim'


def test_mmsiameseim_scope_builds_from_mmpretrain_and_mmengine():
    """``_scope_='mmsiameseim'`` (every dict of an ``mmsiameseim::`` base)
    reaches our modules in mmpretrain's registry and mmengine's own."""
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        loss = MMENGINE_MODELS.build(
            dict(
                type='UniGradDenseLoss', lambda_neg=0.3,
                _scope_='mmsiameseim'))
        wrapper = MMENGINE_OPTIM_WRAPPERS.build(
            dict(
                type='OptimWrapper',
                _scope_='mmsiameseim',
                optimizer=torch.optim.SGD([torch.zeros(1)], lr=0.1)))
    assert type(loss).__name__ == 'UniGradDenseLoss'
    assert loss.lambda_neg == 0.3
    assert type(wrapper).__name__ == 'OptimWrapper'


class _Pairs(Dataset):

    def __len__(self):
        return 4

    def __getitem__(self, idx):
        return dict(x=torch.full((2, ), float(idx)))


def test_runner_drops_the_scope_mmengine_puts_on_collate_fn():
    loader_cfg = dict(
        dataset=_Pairs(),
        batch_size=4,
        sampler=dict(type='DefaultSampler', shuffle=False),
        collate_fn=dict(type='default_collate', _scope_='mmsiameseim'))
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        # mmengine 0.10.7 passes the mark to the function ...
        with pytest.raises(TypeError, match='_scope_'):
            next(iter(Runner.build_dataloader(loader_cfg)))
        # ... our runner does not, and leaves the config as it was
        batch = next(iter(SafeResumeRunner.build_dataloader(loader_cfg)))
    assert batch['x'].tolist() == [[0., 0.], [1., 1.], [2., 2.], [3., 3.]]
    assert loader_cfg['collate_fn']['_scope_'] == 'mmsiameseim'
    assert collate_fn_without_scope(dict(batch_size=2)) == dict(batch_size=2)


def _check_output(cmd, **kwargs):
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT, **kwargs)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """A fresh venv with a plain ``pip install`` of this checkout.

    The checkout's packaging files are copied, made into an sdist (what
    MANIFEST.in selects) and pip builds and installs the wheel from it; no
    network. The venv sees the running interpreter's stack except mmseg
    and mmdet: the core dependencies of pyproject.toml.
    """
    tmp = tmp_path_factory.mktemp('packaging')
    src = tmp / 'src'
    src.mkdir()
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info',
                                    'build')
    for item in SOURCE_ITEMS:
        path = osp.join(ROOT, item)
        if osp.isdir(path):
            shutil.copytree(path, src / item, ignore=ignore)
        else:
            shutil.copyfile(path, src / item)
    env_dir = tmp / 'venv'
    venv.EnvBuilder(with_pip=False).create(str(env_dir))
    python = str(env_dir / 'bin' / 'python')
    purelib = _check_output([
        python, '-c',
        "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    ]).strip()
    # the stack (torch, mmengine, mmpretrain, mim, pip, setuptools) of the
    # running interpreter, after the venv's own site-packages ...
    with open(osp.join(purelib, '_stack.pth'), 'w') as f:
        f.write('\n'.join(site.getsitepackages()) + '\n')
    # ... less mmseg and mmdet, which the core install does not need (and
    # mmpretrain would import mmdet.models, ~4 s, when it can)
    for name in OPTIONAL_PACKAGES:
        os.makedirs(osp.join(purelib, name))
        with open(osp.join(purelib, name, '__init__.py'), 'w') as f:
            f.write(f'raise ImportError({name!r} " is hidden from this '
                    'environment by tests/test_packaging.py")\n')
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    build_sdist = ('import sys; from setuptools import build_meta; '
                   'print(build_meta.build_sdist(sys.argv[1]))')
    out = _check_output([python, '-c', build_sdist,
                         str(tmp / 'dist')],
                        cwd=str(src),
                        env=env)
    sdist = str(tmp / 'dist' / out.split()[-1])
    pip = [python, '-m', 'pip', 'install', '--disable-pip-version-check']
    _check_output(
        pip + ['--no-deps', '--no-build-isolation', '--no-index', sdist],
        cwd=str(tmp),
        env=env)
    user = tmp / 'user'  # outside the checkout
    user.mkdir()
    return dict(
        python=python,
        purelib=purelib,
        env=env,
        user=user,
        package=osp.join(purelib, 'mmsiameseim'))


def _run(installed, *args):
    return subprocess.run([installed['python'], *args],
                          cwd=str(installed['user']),
                          env=installed['env'],
                          capture_output=True,
                          text=True,
                          timeout=TIMEOUT)


def test_install_ships_configs_tools_model_index_and_hook(installed):
    package = installed['package']
    # a real copy of the package, not an editable link to the checkout
    assert osp.isfile(osp.join(package, '__init__.py'))
    assert not osp.islink(package)
    mim = osp.join(package, '.mim')
    assert _files_under(osp.join(mim, 'configs')) == _files_under(
        osp.join(ROOT, 'configs'))
    assert _files_under(osp.join(mim, 'tools')) == _files_under(
        osp.join(ROOT, 'tools'))
    with open(osp.join(mim, 'model-index.yml'),
              'rb') as f, open(osp.join(ROOT, 'model-index.yml'), 'rb') as g:
        assert f.read() == g.read()
    assert not osp.islink(osp.join(mim, 'configs'))
    assert osp.isfile(
        osp.join(installed['purelib'], 'mmsiameseim-config-scope.pth'))


def test_mmsiameseim_prefix_resolves_before_any_plugin_import(installed):
    """What mmpretrain's / mmseg's / mmdet's tools/train.py do: parse the
    user's config first. The install's .pth hook makes the prefix known;
    nothing imports mmsiameseim (``import_custom_modules=False``)."""
    (installed['user'] /
     'user_cfg.py').write_text(f"_base_ = ['mmsiameseim::{BASE_400E}']\n")
    code = (
        'import json, sys\n'
        'from mmengine.config import Config\n'
        "cfg = Config.fromfile('user_cfg.py', import_custom_modules=False)\n"
        'print(json.dumps(dict(\n'
        '    cfg=cfg.to_dict(),\n'
        "    files=[l for l in cfg.text.splitlines() if l.startswith('/')],\n"
        "    imported=sorted(m for m in sys.modules if 'siameseim' in m),\n"
        '    hooks=[type(f).__name__ for f in sys.meta_path])))\n')
    out = _run(installed, '-c', code)
    assert out.returncode == 0, out.stderr[-3000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got['imported'] == []
    assert '_RegisterOnImport' not in got['hooks']  # removed once used
    repo = Config.fromfile(osp.join(ROOT, 'configs', BASE_400E))
    expected = json.loads(json.dumps(repo.to_dict()))
    assert _without_scope(got['cfg']) == _without_scope(expected)
    assert got['cfg']['model']['type'] == 'SiameseIM'
    # every base of ours came from the install, as the repo's from configs/
    mim_configs = osp.join(installed['package'], '.mim', 'configs') + '/'
    ours = [
        f[len(mim_configs):] for f in got['files'] if f.startswith(mim_configs)
    ]
    repo_configs = osp.join(ROOT, 'configs') + '/'
    assert ours == [
        f[len(repo_configs):] for f in repo.text.splitlines()
        if f.startswith(repo_configs)
    ]
    assert ours[-1] == BASE_400E and len(ours) == 4


def test_mim_search_lists_every_model(installed):
    out = _run(installed, '-m', 'mim', 'search', 'mmsiameseim')
    assert out.returncode == 0, out.stderr[-3000:]
    listed = set(re.findall(r'^config id: (\S+)$', out.stdout, re.M))
    assert listed == _model_names()


def test_mim_train_and_test_from_the_install(installed):
    """A pip user, outside the checkout: ``mim run`` places Fashion-MNIST in
    a folder of their choice (the installed fetch tool; by default under
    the current folder, not in the package), and ``mim train mmsiameseim``
    runs the installed demo config on it with ONE data option,
    ``train_dataloader.dataset.data_root``, which the kNN monitor follows
    (hook on); the other options only shorten the run to 2 iterations.
    ``mim test`` resolves the installed config and test.py."""
    user = installed['user']
    repo_data = osp.realpath(osp.join(ROOT, 'data', 'fashion-mnist'))
    out = _run(installed, '-m', 'mim', 'run', 'mmsiameseim',
               'fetch_fashion_mnist', 'my_data', '--source', repo_data)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert sorted(os.listdir(user / 'my_data')) == sorted(
        os.listdir(repo_data))
    assert not osp.exists(osp.join(installed['package'], '.mim', 'data'))
    work_dir = user / 'work_dir'
    short = [
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'train_dataloader.dataset.indices=8', 'train_cfg.max_epochs=1',
        'custom_hooks.0.train_dataloader.dataset.indices=40',
        'custom_hooks.0.val_dataloader.dataset.indices=20',
        'default_hooks.logger.interval=1'
    ]
    out = _run(installed, '-m', 'mim', 'train', 'mmsiameseim',
               osp.basename(DEMO), '--work-dir', str(work_dir),
               '--cfg-options', 'train_dataloader.dataset.data_root=my_data',
               *short)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    train_py = osp.join(installed['package'], '.mim', 'tools', 'train.py')
    assert f'Training command is {installed["python"]} {train_py} ' in log
    assert 'is hidden from this environment' not in log
    losses = [
        float(x) for x in re.findall(r'Epoch\(train\).* loss: (\S+)', log)
    ]
    assert len(losses) == 2 and all(0 < x < 10 for x in losses), losses
    # the kNN monitor read the user's folder: before and after the epoch
    assert len(re.findall(r'kNN monitor: encoding 40 bank and 20 query',
                          log)) == 2
    assert len(re.findall(r'kNN monitor \(epoch \d', log)) == 2

    # the checkpoint holds the repo's demo model, step 2
    ckpt = work_dir / 'epoch_1.pth'
    state = read_checkpoint(str(ckpt))
    assert state['meta']['iter'] == 2
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = MMENGINE_MODELS.build(
            Config.fromfile(osp.join(ROOT, 'configs', DEMO)).model)
    assert {
        k: tuple(v.shape)
        for k, v in state['state_dict'].items()
    } == {
        k: tuple(v.shape)
        for k, v in model.state_dict().items()
    }

    # `mim test` finds the installed demo config by name and hands it, the
    # checkpoint and what follows `--` to the installed tools/test.py; its
    # help is the dry route (a pretraining config has no test loop to run).
    out = _run(installed, '-m', 'mim', 'test', 'mmsiameseim',
               osp.basename(DEMO), '--checkpoint', str(ckpt), '--', '-h')
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    demo = osp.join(installed['package'], '.mim', 'configs', DEMO)
    test_py = osp.join(installed['package'], '.mim', 'tools', 'test.py')
    assert f'will use {demo} instead' in log
    assert (f'Testing command is {installed["python"]} {test_py} {demo} '
            f'{ckpt} --launcher none -h') in log
    assert 'usage: test.py' in log and 'Evaluate a checkpoint' in log
