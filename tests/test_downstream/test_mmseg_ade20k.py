"""The ADE20k UPerNet config on the CPU, with a randomly initialised ViT-B.

* The weight check of docs/downstream.md: after ``init_weights()`` of the
  segmentor built from the config, every encoder tensor of the converted
  file is in the backbone (``pos_embed`` resized 197 -> 1025) and exactly
  the 48 documented tensors start fresh; the converter's default
  (``backbone.``-prefixed) file loads nothing and the check says so.
* Layer decay: the lr scales of three named parameters are the documented
  powers of 0.65; the AMP setting really builds an ``AmpOptimWrapper``
  (the stock config's ``fp16`` key does not).
* The config trains 2 iterations and validates once on a tiny ADE-layout
  folder (label 0 = ignore, ``reduce_zero_label``) with SyncBN -> BN, a
  64 px crop and fp32 set through config options.
"""
import copy
import os
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper, build_optim_wrapper
from mmengine.registry import init_default_scope
from tool_modules import load_tool

from mmsiameseim.checkpoints import check_backbone_load, resize_pos_embed

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(
    ROOT, 'configs', 'siameseim', 'benchmarks', 'mmseg',
    'siameseim_vit-base-p16-upernet_8xb2-amp-160k_ade20k-512x512.py')
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'siameseim_to_backbone.py')
LAYERS = 12
#: Written out from mmseg's MAE layer (BEiT-style): what no encoder file
#: sets, per layer.
FRESH_PER_LAYER = ('gamma_1', 'gamma_2', 'attn.relative_position_bias_table',
                   'attn.relative_position_index')
#: CPU options for the ADE20k config: BN for SyncBN (SyncBN refuses CPU
#: tensors), a 64 px crop in the model, the pipelines and the slide test.
CROP = (64, 64)
CPU_OPTIONS = {
    'model.neck.norm_cfg': dict(type='BN', requires_grad=True),
    'model.decode_head.norm_cfg.type': 'BN',
    'model.auxiliary_head.norm_cfg.type': 'BN',
    'model.data_preprocessor.size': CROP,
    'model.backbone.img_size': CROP,
    'model.test_cfg.crop_size': CROP,
    'model.test_cfg.stride': (43, 43),
    'train_dataloader.dataset.pipeline.2.scale': (256, 64),
    'train_dataloader.dataset.pipeline.3.crop_size': CROP,
    'val_dataloader.dataset.pipeline.1.scale': (256, 64),
}


def _load_tool():
    return load_tool(TOOL)


@pytest.fixture(scope='module')
def vitb_files(tmp_path_factory):
    """A randomly initialised ViT-B SiameseIM state dict (online encoder,
    a different EMA copy, a projector tensor), converted as the docs say."""
    from mmsiameseim.models.backbones import SiameseIMViT
    init_default_scope('mmpretrain')
    torch.manual_seed(0)
    vit = SiameseIMViT(arch='b', img_size=224, patch_size=16)
    vit.init_weights()
    online = vit.state_dict()
    sd = {'backbone.' + k: v for k, v in online.items()}
    sd.update({'target_encoder.module.0.' + k: v + 1.
               for k, v in online.items()})
    sd['neck.proj.weight'] = torch.randn(8, 8)
    folder = tmp_path_factory.mktemp('vitb')
    src = folder / 'siameseim_vit-base.pth'
    torch.save(dict(state_dict=sd), src)
    tool = _load_tool()
    bare, prefixed = folder / 'mmseg.pth', folder / 'prefixed.pth'
    assert tool.main([str(src), str(bare), '--layout', 'mmseg']) == 0
    assert tool.main([str(src), str(prefixed)]) == 0  # converter default
    return dict(online=online, bare=str(bare), prefixed=str(prefixed))


@pytest.fixture(scope='module')
def segmentor(vitb_files):
    """The segmentor of the ADE20k config (512 px), initialised."""
    from mmengine.registry import MODELS
    cfg = Config.fromfile(CONFIG)
    cfg.model.pretrained = vitb_files['bare']
    init_default_scope('mmseg')
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    yield cfg, model
    init_default_scope('mmpretrain')


def test_every_encoder_tensor_arrives_and_exactly_the_documented_set_is_new(
        vitb_files, segmentor):
    cfg, model = segmentor
    # the stock recipe's LN eps is SiameseIM's (1e-6), no final norm
    assert cfg.model.backbone.norm_cfg == dict(type='LN', eps=1e-6)
    assert not model.backbone.final_norm
    online = vitb_files['online']
    report = check_backbone_load(model.backbone)
    assert report.ok, report.summary()
    assert sorted(report.equal) == sorted(online)
    assert len(online) == 148 and report.transformed == ['pos_embed']
    assert set(report.fresh) == {
        f'layers.{i}.{name}'
        for i in range(LAYERS) for name in FRESH_PER_LAYER
    }
    assert len(report.fresh) == 48
    # independent of the check: bit-equal tensors, the online encoder
    state = model.backbone.state_dict()
    for key in ('patch_embed.projection.weight', 'layers.5.attn.qkv.bias',
                'layers.11.ffn.layers.1.weight', 'cls_token'):
        assert torch.equal(state[key], online[key]), key
    assert state['pos_embed'].shape == (1, 1 + 32 * 32, 768)
    assert torch.equal(state['pos_embed'][:, 0], online['pos_embed'][:, 0])
    assert torch.all(state['layers.3.attn.relative_position_bias_table'] == 0)
    assert torch.all(state['layers.3.gamma_1'] == 1.0)  # init_values=1.0


def test_the_converter_default_file_loads_nothing_and_the_check_fails(
        vitb_files, segmentor):
    _, model = segmentor
    backbone = copy.deepcopy(model.backbone)
    with torch.no_grad():  # forget the fixture's good load
        for param in backbone.parameters():
            param.zero_()
    # what `model.pretrained=<the converter's default file>` gives the MAE
    backbone.pretrained = vitb_files['prefixed']
    backbone.init_cfg = dict(type='Pretrained',
                             checkpoint=vitb_files['prefixed'])
    backbone.init_weights()  # mmseg: strict=False, nothing printed
    report = check_backbone_load(backbone)
    assert not report.ok
    assert len(report.not_in_model) == 148
    assert report.equal == []
    assert not torch.equal(backbone.layers[0].attn.qkv.weight,
                           vitb_files['online']['layers.0.attn.qkv.weight'])


def test_the_timm_file_loads_two_tensors_and_the_check_fails(
        vitb_files, segmentor, tmp_path):
    """docs/downstream.md: of a ``--layout timm`` file only ``cls_token``
    and ``pos_embed`` (names shared by both layouts) arrive: 2 of 148.

    The encoder is perturbed first, so that no tensor equals mmseg's own
    initialisation (zero biases, unit LN weights) by chance.
    """
    _, model = segmentor
    gen = torch.Generator().manual_seed(1)
    online = {k: v + 0.01 * torch.randn(v.shape, generator=gen)
              for k, v in vitb_files['online'].items()}
    src, timm = tmp_path / 'perturbed.pth', tmp_path / 'timm.pth'
    torch.save(dict(state_dict={'backbone.' + k: v
                                for k, v in online.items()}), src)
    assert _load_tool().main([str(src), str(timm), '--layout', 'timm']) == 0
    backbone = copy.deepcopy(model.backbone)
    backbone.pretrained = str(timm)
    backbone.init_cfg = dict(type='Pretrained', checkpoint=str(timm))
    backbone.init_weights()  # mmseg's own init, then the non-strict load
    state = backbone.state_dict()

    def arrived(key):
        if key == 'pos_embed':  # resized 14 x 14 -> 32 x 32 at load
            expected = resize_pos_embed(online[key], state[key])
            return torch.allclose(state[key], expected, atol=1e-5)
        return torch.equal(state[key], online[key])

    assert all(key in state for key in online)
    assert sorted(k for k in online if arrived(k)) == ['cls_token',
                                                       'pos_embed']
    report = check_backbone_load(backbone)
    assert not report.ok and len(report.not_in_model) == 146
    # and the doc says so
    with open(osp.join(ROOT, 'docs', 'downstream.md')) as f:
        doc = f.read()
    assert '| `--layout timm` | 2 of 148 tensors:' in doc


def test_layer_decay_scales_and_amp_wrapper(segmentor, monkeypatch):
    """mmseg's LayerDecayOptimizerConstructor (decay 0.65, 12 layers):
    scale 0.65 ** (13 - layer_id); patch embedding id 0, layer i id i + 1,
    heads id 13."""
    from mmengine.optim.optimizer import amp_optimizer_wrapper
    cfg, model = segmentor
    init_default_scope('mmseg')  # the constructor is mmseg's
    # AmpOptimWrapper refuses to be built without a GPU; the type that the
    # config resolves to is what is checked here.
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available',
                        lambda: True)
    wrapper = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    assert isinstance(wrapper, amp_optimizer_wrapper.AmpOptimWrapper)
    groups = {
        name: group
        for group in wrapper.optimizer.param_groups
        for name in group['param_names']
    }
    expected = {
        'backbone.patch_embed.projection.weight': 0.65**13,
        'backbone.layers.5.attn.qkv.weight': 0.65**7,
        'decode_head.conv_seg.weight': 1.0,
    }
    for name, scale in expected.items():
        assert groups[name]['lr_scale'] == pytest.approx(scale, rel=1e-12)
        assert groups[name]['lr'] == pytest.approx(1e-4 * scale, rel=1e-12)
        assert groups[name]['weight_decay'] == 0.05
    assert groups['backbone.layers.5.attn.qkv.bias']['weight_decay'] == 0.
    # The stock config's `fp16 = dict(loss_scale='dynamic')` alone leaves
    # mmengine with a plain fp32 OptimWrapper.
    import mmseg
    stock = Config.fromfile(
        osp.join(osp.dirname(mmseg.__file__), '.mim', 'configs', 'mae',
                 'mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py'))
    assert stock.fp16 == dict(loss_scale='dynamic')
    plain = build_optim_wrapper(model, stock.optim_wrapper)
    assert type(plain) is OptimWrapper


def _write_ade_folder(root):
    """ADE20k's layout: images/{training,validation}/*.jpg and
    annotations/.../*.png with 0 = "other" (ignored) and classes 1-150."""
    import cv2
    rng = np.random.default_rng(0)
    labels = {}
    for split, n in (('training', 4), ('validation', 2)):
        for i in range(n):
            name = f'ADE_{split[:5]}_{i:08d}'
            img = rng.integers(0, 256, (72, 96, 3), dtype=np.uint8)
            seg = np.zeros((72, 96), dtype=np.uint8)
            seg[:36, :48] = 1
            seg[36:, :48] = 7
            seg[:, 60:] = 150
            seg[5:9, 5:9] = 0
            for sub, arr, ext in (('images', img, '.jpg'),
                                  ('annotations', seg, '.png')):
                folder = osp.join(root, sub, split)
                os.makedirs(folder, exist_ok=True)
                assert cv2.imwrite(osp.join(folder, name + ext), arr)
            labels[(split, name)] = seg
    return labels


def test_ade20k_config_trains_two_iterations_and_validates(
        vitb_files, tmp_path):
    from mmengine.registry import DATASETS, RUNNERS
    labels = _write_ade_folder(str(tmp_path / 'ade'))
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(CPU_OPTIONS)
    # fp32 on the CPU: AmpOptimWrapper needs a GPU
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale')
    cfg.merge_from_dict({
        'model.pretrained': vitb_files['bare'],
        'work_dir': str(tmp_path / 'work'),
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'train_dataloader.dataset.data_root': str(tmp_path / 'ade'),
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'val_dataloader.dataset.data_root': str(tmp_path / 'ade'),
        'train_cfg.max_iters': 2,
        'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.save_last': False,
        'default_hooks.logger.interval': 1,
    })
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_dataloader.dataset.data_root = str(tmp_path / 'ade')
    init_default_scope('mmseg')
    # ADE's label convention as the config's own pipeline reads it
    val = DATASETS.build(cfg.val_dataloader.dataset)
    assert val.metainfo['classes'][0] == 'wall' and len(val) == 2
    sample = val[0]['data_samples']
    name = osp.splitext(osp.basename(sample.img_path))[0]
    seg = labels[('validation', name)].astype(np.int64)
    expected = np.where(seg == 0, 255, seg - 1)
    assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), expected)

    assert cfg.runner_type == 'SafeResumeRunner'
    runner = RUNNERS.build(cfg)
    runner.train()
    assert runner.iter == 2
    loss = runner.message_hub.get_scalar('train/loss').current()
    assert np.isfinite(loss) and loss > 0
    metrics = {
        k: v.current()
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith('val/')
    }
    for key in ('val/aAcc', 'val/mIoU', 'val/mAcc'):
        assert 0. <= metrics[key] <= 100., (key, metrics)
    # warm-up from the stock schedule: start factor 1e-6, end 1500; mmengine's
    # LinearLR reaches the end factor after end - begin - 1 = 1499 steps
    lrs = runner.optim_wrapper.get_lr()['lr']
    factor = 1e-6 + (1 - 1e-6) * 2 / 1499
    assert max(lrs) == pytest.approx(1e-4 * factor, rel=1e-6)
    init_default_scope('mmpretrain')


def test_documented_converter_output_of_a_vit_b_pretraining_checkpoint(
        monkeypatch, capsys):
    """docs/downstream.md step 2: the converter's report on a checkpoint of
    the ViT-B pretraining config (451 keys: both encoders, projectors,
    predictor, BN buffers, the EMA counter), run in-process on the built
    model's state dict instead of an 860 MB file."""
    from mmpretrain.registry import MODELS
    init_default_scope('mmpretrain')
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'siameseim',
                 'siameseim_vit-base-p16_16xb256-amp-coslr-400e_in1k.py'))
    state = MODELS.build(cfg.model).state_dict()
    assert len(state) == 451
    tool = _load_tool()
    monkeypatch.setattr(tool, 'read_checkpoint',
                        lambda path, trusted=False: state)
    monkeypatch.setattr(tool.torch, 'save', lambda *args, **kwargs: None)
    dst = 'checkpoints/siameseim_vit-base-p16_mmseg.pth'
    assert tool.main(['CKPT', dst, '--layout', 'mmseg']) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    with open(osp.join(ROOT, 'docs', 'downstream.md')) as f:
        doc = f.read()
    block = doc[doc.index('Step 2 prints, for a ViT-B:'):]
    block = block[block.index('```\n') + 4:]
    block = block[:block.index('```')].strip().splitlines()
    assert printed == block
