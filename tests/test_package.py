"""The package installs, registers its modules and sits on the full stack."""
import importlib
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config
from mmengine.registry import RUNNERS as MMENGINE_RUNNERS
from mmengine.registry import DefaultScope
from mmpretrain import registry as pretrain_registry

import mmsiameseim

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

EXPECTED = {
    'MODELS': [
        'SiameseIM', 'SiameseIMViT', 'SiameseIMProjector',
        'SiameseIMPredictor', 'UniGradDenseLoss', 'TokenBN'
    ],
    'TRANSFORMS': [
        'SiameseIMViews', 'BlockwiseMaskGenerator',
        'RandomPatchMaskGenerator', 'SimColorJitter', 'SimRandomGrayscale',
        'SimGaussianBlur', 'SimSolarize'
    ],
    'DATASETS': ['ImageNetWnidFolder', 'ImageNetC', 'ImageNetSubsetList'],
    'HOOKS': ['KNNMonitorHook'],
}


def _ours(registry):
    return {
        name: cls
        for name, cls in registry.module_dict.items()
        if getattr(cls, '__module__', '').startswith('mmsiameseim')
    }


def test_version():
    assert isinstance(mmsiameseim.__version__, str)
    assert mmsiameseim.__version__.count('.') >= 2


@pytest.mark.parametrize('registry_name', sorted(EXPECTED))
def test_registered_into_mmpretrain(registry_name):
    registry = getattr(pretrain_registry, registry_name)
    ours = _ours(registry)
    assert set(EXPECTED[registry_name]) <= set(ours)
    # every name resolves the way a config's `type=` does under the
    # mmpretrain default scope that mmpretrain's runtime sets
    scope = f'test-{registry_name}'
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        DefaultScope.get_instance(scope, scope_name='mmpretrain')
        for name, cls in ours.items():
            assert registry.get(name) is cls
            assert registry.get(f'mmpretrain.{name}') is cls


def test_resume_runner_registered_in_mmengine():
    from mmsiameseim.engine import SafeResumeRunner
    assert MMENGINE_RUNNERS.get('SafeResumeRunner') is SafeResumeRunner


def test_config_building_from_type_names():
    """A config naming our types builds the real objects."""
    cfg = Config(
        dict(
            loss=dict(type='UniGradDenseLoss', lambda_neg=0.1),
            views=dict(type='SiameseIMViews', img_size=32),
            mask=dict(type='BlockwiseMaskGenerator', input_size=4,
                      num_masking_patches=5, min_num_patches=2)))
    loss = pretrain_registry.MODELS.build(cfg.loss)
    assert type(loss).__name__ == 'UniGradDenseLoss'
    assert loss.lambda_neg == 0.1
    views = pretrain_registry.TRANSFORMS.build(cfg.views)
    assert views.img_size == 32
    mask = pretrain_registry.TRANSFORMS.build(cfg.mask)
    assert mask(dict())['mask'].sum() == 5


def test_config_inheriting_mmpretrain_default_runtime_loads(tmp_path):
    path = tmp_path / 'cfg.py'
    path.write_text("_base_ = ['mmpretrain::_base_/default_runtime.py']\n"
                    "custom_imports = dict(imports=['mmsiameseim'], "
                    'allow_failed_imports=False)\n'
                    "model = dict(type='SiameseIMViT', arch='b')\n")
    cfg = Config.fromfile(str(path))
    assert cfg.default_scope == 'mmpretrain'
    assert cfg.default_hooks.checkpoint.type == 'CheckpointHook'
    assert cfg.model.type == 'SiameseIMViT'


def test_core_import_pulls_in_no_mmseg_mmdet_or_compiled_ops():
    """``import mmsiameseim`` must work with mmpretrain + mmcv-lite only,
    and loads nothing of the study bench (``projects``) nor any module of
    the plugin that serves only the demo studies or the views picture."""
    code = (
        'import sys; import mmpretrain.models, mmpretrain.datasets, '
        'mmpretrain.engine, mmpretrain.evaluation; before = set(sys.modules);'
        ' import mmsiameseim; new = set(sys.modules) - before; '
        "bad = sorted(m for m in new if m.split('.')[0] in "
        "('mmseg', 'mmdet', 'projects', 'sklearn', 'matplotlib') or "
        "m.startswith(('mmcv.ops', 'mmsiameseim.visualization')) or "
        "m == 'mmcv._ext' or 'fashion' in m or 'scene' in m or "
        "'probe' in m); "
        'print(bad); sys.exit(1 if bad else 0)')
    out = subprocess.run([sys.executable, '-c', code],
                         cwd=ROOT,
                         capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_full_mmcv_with_compiled_ops():
    """mmseg and mmdet need the full mmcv with its compiled ``_ext``."""
    import mmcv
    assert mmcv.__version__ == '2.1.0'
    ops = importlib.import_module('mmcv.ops')
    assert hasattr(ops, 'nms')
    assert hasattr(ops, 'MultiScaleDeformableAttention')
    importlib.import_module('mmcv._ext')


@pytest.mark.parametrize('module', ['mmseg.models', 'mmdet.models'])
def test_downstream_libraries_import(module):
    importlib.import_module(module)


def test_pinned_stack():
    import mmdet
    import mmengine
    import mmpretrain
    import mmseg
    import torch
    assert mmengine.__version__ == '0.10.7'
    assert mmpretrain.__version__ == '1.2.0'
    assert mmseg.__version__ == '1.2.2'
    assert mmdet.__version__ == '3.3.0'
    assert torch.__version__.split('+')[0] == '2.14.1'
