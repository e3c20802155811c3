"""Sizes that disagree fail at build time, naming both options and values.

Model-side checks run in ``SiameseIM.__init__``; the pipeline is checked
against the model by ``SiameseIM.check_data_pipeline``, which the
resumable train loop calls when it builds the dataloader (before any
iteration).
"""
import copy
import itertools
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmpretrain.registry import MODELS, TRANSFORMS
from test_models.siameseim_tiny import TINY
from train_runs import write_tiny_config

from mmsiameseim.engine import SafeResumeRunner

_RUNS = itertools.count()


def _model_cfg(**changes):
    cfg = copy.deepcopy(TINY)
    for path, value in changes.items():
        *parents, leaf = path.split('.')
        node = cfg
        for key in parents:
            node = node[key]
        node[leaf] = value
    return cfg


# The tiny model leaves the derived sizes out; a case that tests a check on
# one of them states it (as a config that states it would).
MODEL_CASES = {
    'head grid vs backbone grid':
    (dict(**{'head.grid_size': 5}),
     'head.grid_size=5 disagrees with the backbone patch grid 4x4 '
     '(backbone.img_size=32, backbone.patch_size=8)'),
    'backbone patch size vs head grid':
    (dict(**{'backbone.patch_size': 16, 'head.grid_size': 4}),
     'head.grid_size=4 disagrees with the backbone patch grid 2x2 '
     '(backbone.img_size=32, backbone.patch_size=16)'),
    'backbone image size vs head grid':
    (dict(**{'backbone.img_size': 48, 'head.grid_size': 4}),
     'head.grid_size=4 disagrees with the backbone patch grid 6x6 '
     '(backbone.img_size=48'),
    'neck input vs backbone width':
    (dict(**{'neck.in_channels': 48}),
     'neck.in_channels=48 disagrees with the backbone width '
     '(backbone embed_dims=32)'),
    'head width vs neck width':
    (dict(**{'head.embed_dims': 64}),
     'head.embed_dims=64 disagrees with neck.embed_dims=32'),
    'head output vs feature target':
    (dict(**{'head.out_channels': 48}),
     'head.out_channels=48 disagrees with neck.embed_dims=32'),
    'head output vs pixel target':
    (dict(**{'target_type': 'pixel', 'head.out_channels': 32}),
     r'head.out_channels=32 disagrees with patch_size\*\*2 \* 3 = '
     r'8\*\*2 \* 3'),
    'mask count = all patches':
    (dict(**{'backbone.num_masked': 16}),
     r'`num_masked` must be an int in \[0, 16\), got 16'),
    'unknown target type':
    (dict(target_type='pixels'),
     r"target_type must be one of \('feature', 'pixel'\), got 'pixels'"),
    'unknown loss tokens':
    (dict(loss_tokens='visible'),
     r"loss_tokens must be one of \('all', 'masked'\), got 'visible'"),
    # a955673 accepted it: the patch embedding padded the 30 px image
    'image size not a multiple of the patch size':
    (dict(**{'backbone.img_size': 30, 'backbone.patch_size': 4}),
     r'SiameseIMViT: img_size=30 is not a multiple of patch_size=4'),
    'unknown loss normalisation':
    (dict(**{'head.loss.target_norm': 'bn'}),
     r"target_norm must be one of \('ln', 'l2', 'none'\), got 'bn'"),
}


@pytest.mark.parametrize('case', MODEL_CASES)
def test_model_sizes_must_agree(case):
    changes, message = MODEL_CASES[case]
    cfg = _model_cfg(**changes)
    with pytest.raises(ValueError, match=message if '\\' in message
                       or '[' in message else re.escape(message)):
        MODELS.build(cfg)


def test_the_tiny_model_itself_passes():
    model = MODELS.build(_model_cfg(**{'backbone.num_masked': 9}))
    model.check_data_pipeline(_pipeline())


def _pipeline(views=None, mask=None, pack=None):
    cfgs = [
        dict(dict(type='SiameseIMViews', img_size=32), **(views or {})),
        dict(dict(type='BlockwiseMaskGenerator', input_size=4,
                  num_masking_patches=9, min_num_patches=2), **(mask or {})),
        dict(dict(type='PackInputs', algorithm_keys=['rel_pos']),
             **(pack or {})),
    ]
    return [TRANSFORMS.build(c) for c in cfgs]


PIPELINE_CASES = {
    'view size vs backbone image size':
    (dict(views=dict(img_size=64)),
     'SiameseIMViews.img_size=64 disagrees with backbone.img_size=32'),
    'mask grid vs backbone grid':
    (dict(mask=dict(input_size=8, num_masking_patches=9)),
     'BlockwiseMaskGenerator.input_size=(8, 8) disagrees with the backbone '
     'patch grid (4, 4)'),
    'mask count vs backbone num_masked':
    (dict(mask=dict(num_masking_patches=10)),
     'BlockwiseMaskGenerator.num_masking_patches=10 disagrees with '
     'backbone.num_masked=9'),
    'every patch masked':
    (dict(mask=dict(num_masking_patches=16)),
     'BlockwiseMaskGenerator.num_masking_patches=16 leaves no visible '
     'patch of the 16 patches'),
    'geometry not packed':
    (dict(pack=dict(algorithm_keys=[])),
     "PackInputs(algorithm_keys=['rel_pos'])"),
}


@pytest.mark.parametrize('case', PIPELINE_CASES)
def test_pipeline_must_agree_with_the_model(case):
    changes, message = PIPELINE_CASES[case]
    model = MODELS.build(_model_cfg(**{'backbone.num_masked': 9}))
    with pytest.raises(ValueError, match=re.escape(message)):
        model.check_data_pipeline(_pipeline(**changes))


def test_the_train_loop_checks_the_pipeline_before_any_step(tmp_path):
    # builds the runner and the loop; no training step runs
    cfg = Config.fromfile(write_tiny_config(tmp_path / 'tiny.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = f'validation_{next(_RUNS)}'
    cfg.model.backbone.num_masked = 30  # the demo masks 38 of 64
    runner = SafeResumeRunner.from_cfg(cfg)
    with pytest.raises(ValueError,
                       match='BlockwiseMaskGenerator.num_masking_patches=38 '
                       'disagrees with backbone.num_masked=30'):
        runner.train()
    # nothing trained: no loss recorded, no checkpoint written
    assert not osp.exists(osp.join(cfg.work_dir, 'losses_rank0.txt'))
    assert not osp.exists(osp.join(cfg.work_dir, 'last_checkpoint'))


def test_unstated_sizes_follow_the_encoder():
    """Widths, grid and pixel output left out of a config are derived."""
    cfg = _model_cfg(**{
        'backbone.arch': dict(embed_dims=48, num_layers=1, num_heads=2,
                              feedforward_channels=96),
        'backbone.img_size': 48,
    })
    for key in ('in_channels', 'embed_dims'):
        assert key not in cfg['neck']
    for key in ('embed_dims', 'grid_size', 'out_channels'):
        assert key not in cfg['head']
    model = MODELS.build(cfg)
    assert model.neck.proj.in_features == model.neck.proj.out_features == 48
    assert model.head.embed_dims == 48 and model.head.grid_size == 6
    assert model.head.out_proj.out_features == 48
    pixel = MODELS.build(dict(cfg, target_type='pixel'))
    assert pixel.head.out_proj.out_features == 8**2 * 3
    # a stated size wins and is checked
    wide = MODELS.build(_model_cfg(**{'neck.embed_dims': 64}))
    assert wide.head.embed_dims == 64 and wide.neck.proj.in_features == 32
