"""The scenes as an mmseg folder dataset, the small UPerNet config, the
benchmark's run and the pretrained-load check command, on tiny data.

The scenes come from the real Fashion-MNIST files; the encoder is the CPU
demo's size (128 wide, 4 blocks, 2 heads, 32 px, patch 4), random.
"""
import json
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from PIL import Image
from tool_modules import load_tool

from projects.study_bench.scenes.generate import (SCENE_CLASSES,
                                                  make_split_scenes)
from projects.study_bench.scenes.mmseg import write_mmseg_scenes

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DATA = osp.join(ROOT, 'data', 'fashion-mnist')
SMALL = osp.join(
    ROOT, 'projects', 'study_bench', 'configs', 'mmseg',
    'siameseim_vit-mini-p4-upernet_1xb8-800i_fashion-scenes-64x64.py')
SCENE_CFG = dict(canvas=64, min_size=20, max_size=40)


def _load(rel, name):
    return load_tool(osp.join(ROOT, rel))


@pytest.fixture(scope='module')
def scenes(tmp_path_factory):
    out = tmp_path_factory.mktemp('scenes')
    info = write_mmseg_scenes(str(out), DATA, num_train=6, num_test=3,
                              **SCENE_CFG)
    return str(out), info


@pytest.fixture(scope='module')
def demo_encoder(tmp_path_factory):
    """A demo-sized SiameseIM state dict, converted to the mmseg layout."""
    from mmsiameseim.models.backbones import SiameseIMViT
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    vit = SiameseIMViT(
        arch=dict(embed_dims=128, num_layers=4, num_heads=2,
                  feedforward_channels=512),
        img_size=32, patch_size=4)
    vit.init_weights()
    folder = tmp_path_factory.mktemp('demo')
    src = folder / 'demo.pth'
    torch.save(dict(state_dict={'backbone.' + k: v
                                for k, v in vit.state_dict().items()}), src)
    tool = _load('tools/model_converters/siameseim_to_backbone.py',
                 '_sim_to_backbone_scenes')
    bare, prefixed = folder / 'mmseg.pth', folder / 'prefixed.pth'
    assert tool.main([str(src), str(bare), '--layout', 'mmseg']) == 0
    assert tool.main([str(src), str(prefixed)]) == 0
    return str(bare), str(prefixed), vit.state_dict()


def test_folders_hold_the_generator_scenes(scenes):
    root, info = scenes
    assert info['train'] == dict(img_path='train/images',
                                 seg_map_path='train/masks', num_scenes=6,
                                 written=True)
    for split, n in (('train', 6), ('test', 3)):
        imgs, masks, _ = make_split_scenes(DATA, split, n, **SCENE_CFG)
        names = sorted(os.listdir(osp.join(root, split, 'masks')))
        assert names == [f'{i:05d}.png' for i in range(n)]
        for i in range(n):
            img = np.array(Image.open(
                osp.join(root, split, 'images', f'{i:05d}.png')))
            seg = np.array(Image.open(
                osp.join(root, split, 'masks', f'{i:05d}.png')))
            assert np.array_equal(img, imgs[i])
            assert np.array_equal(seg, masks[i])
        with open(osp.join(root, split, 'scenes.json')) as f:
            record = json.load(f)
        assert record['classes'] == list(SCENE_CLASSES)
        assert record['params']['seed'] == {'train': 0, 'test': 1}[split]


def test_writing_is_idempotent_and_drops_stale_scenes(tmp_path):
    out = str(tmp_path / 'scenes')
    write_mmseg_scenes(out, DATA, num_train=3, num_test=2, **SCENE_CFG)
    first = osp.getmtime(osp.join(out, 'train', 'images', '00000.png'))
    again = write_mmseg_scenes(out, DATA, num_train=3, num_test=2,
                               **SCENE_CFG)
    assert not again['train']['written'] and not again['test']['written']
    assert osp.getmtime(osp.join(out, 'train', 'images',
                                 '00000.png')) == first
    fewer = write_mmseg_scenes(out, DATA, num_train=2, num_test=2,
                               **SCENE_CFG)
    assert fewer['train']['written'] and not fewer['test']['written']
    assert sorted(os.listdir(osp.join(out, 'train', 'images'))) == [
        '00000.png', '00001.png'
    ]
    with pytest.raises(ValueError, match='test scene'):
        write_mmseg_scenes(out, DATA, num_train=2, num_test=0)


def test_dataset_reads_labels_with_background_as_a_class(scenes):
    from mmengine.config import Config
    from mmengine.registry import DATASETS
    root, _ = scenes
    cfg = Config.fromfile(SMALL)
    init_default_scope('mmseg')
    dataset = DATASETS.build(
        dict(cfg.test_dataloader.dataset, data_root=root))
    assert len(dataset) == 3
    assert dataset.metainfo['classes'] == SCENE_CLASSES
    assert len(dataset.metainfo['classes']) == 11
    _, masks, _ = make_split_scenes(DATA, 'test', 3, **SCENE_CFG)
    sample = dataset[2]
    assert np.array_equal(sample['data_samples'].gt_sem_seg.data[0].numpy(),
                          masks[2].astype(np.int64))
    assert sample['inputs'].shape == (3, 64, 64)
    init_default_scope('mmpretrain')


def test_check_command_passes_a_good_file_and_fails_a_prefixed_one(
        demo_encoder, capsys):
    check = _load('tools/analysis/check_pretrained_load.py',
                  '_check_pretrained_load')
    bare, prefixed, _ = demo_encoder
    assert check.main([SMALL, '--checkpoint', bare]) == 0
    out = capsys.readouterr().out
    assert 'model.pretrained = ' + bare in out
    assert '52 source tensors equal in the model (1 after a documented ' \
        'transform: pos_embed); 16 model tensors start fresh' in out
    assert 'layers.{i}.gamma_1 x4' in out
    assert '\nOK\n' in out
    assert check.main([SMALL, '--checkpoint', prefixed]) == 1
    out = capsys.readouterr().out
    assert 'NOT LOADED backbone.layers.3.attn.qkv.weight' in out
    assert 'FAILED' in out
    assert check.main([SMALL, '--checkpoint', 'no/such.pth']) == 1
    assert 'no/such.pth does not exist' in capsys.readouterr().err
    init_default_scope('mmpretrain')


def test_benchmark_run_fine_tunes_and_evaluates(scenes, demo_encoder,
                                                tmp_path, capsys):
    """One run of tools/benchmarks/seg_transfer_cpu.py, 2 iterations: the
    load check passes, mIoU comes from the 3 test scenes."""
    bench = _load('tools/benchmarks/seg_transfer_cpu.py', '_seg_transfer')
    root, _ = scenes
    bare, _, online = demo_encoder
    args = bench.parse_args([
        '--run-one', 'siameseim', '--pretrained', bare, '--scenes-dir', root,
        '--work-root', str(tmp_path), '--max-iters', '2'
    ])
    cfg = bench.config_of(args)
    assert cfg.param_scheduler[0].end == 1 and cfg.param_scheduler[1].end == 2
    assert cfg.model.backbone.type == 'MAE'
    assert cfg.model.neck.type == 'Feature2Pyramid'
    assert cfg.model.decode_head.type == 'UPerHead'
    assert cfg.optim_wrapper.constructor == 'LayerDecayOptimizerConstructor'
    assert bench.main([
        '--run-one', 'siameseim', '--pretrained', bare, '--scenes-dir', root,
        '--work-root', str(tmp_path), '--max-iters', '2'
    ]) == 0
    line = [x for x in capsys.readouterr().out.splitlines()
            if x.startswith('RECORD ')][-1]
    record = json.loads(line[len('RECORD '):])
    assert record['iterations'] == 2 and record['test_scenes'] == 3
    assert record['train_scenes'] == 6 and record['batch_size'] == 8
    assert record['load_check']['ok']
    assert record['load_check']['equal'] == len(online) == 52
    assert record['load_check']['fresh'] == 16
    for key in ('miou', 'macc', 'aacc'):
        assert 0. <= record[key] <= 100.
    # per-class IoU: mIoU is their mean over the classes that occur
    assert list(record['class_iou']) == list(SCENE_CLASSES)
    present = [v for v in record['class_iou'].values() if v is not None]
    assert record['miou'] == pytest.approx(np.mean(present), abs=0.01)
    init_default_scope('mmpretrain')
