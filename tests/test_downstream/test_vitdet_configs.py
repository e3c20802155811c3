"""The mmdet ViTDet configs build, train, test and load the encoder.

Each config runs through mmengine's Runner on a tiny dataset written by the
test in the COCO / LVIS format (``coco_fixtures.py``), shrunk by
``small_config.shrink`` (128 px inputs, 4-patch windows, batch 1, fewer
RoIs): two training iterations and one test iteration with the config's own
evaluator. The COCO config runs (at 64 px) with its ViT-B/16 and a randomly
initialised ViT-B encoder file in the ``vitdet`` layout (built once), so
``PretrainedLoadCheckHook`` checks the load inside the run; the LVIS config
runs with a small encoder (its own parts are the data, sampler, loss and
metric).
"""
import math
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

from coco_fixtures import write_coco, write_lvis
from small_config import shrink

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(ROOT, 'configs', 'siameseim', 'benchmarks', 'mmdet')
COCO = osp.join(CFG_DIR, 'siameseim_vit-base-p16-vitdet-mask-rcnn_16xb4-amp-'
                'lsj-100e_coco.py')
LVIS = osp.join(CFG_DIR, 'siameseim_vit-base-p16-vitdet-mask-rcnn_16xb4-amp-'
                'lsj-rfs-seesaw-100e_lvis-v1.py')


class RecordLosses(Hook):
    """Keep the log variables of every training iteration."""

    def __init__(self):
        self.logs = []

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.logs.append({k: float(v.detach()) if torch.is_tensor(v) else
                          float(v) for k, v in outputs.items()})


def _run(cfg, before_train=None):
    runner = Runner.from_cfg(cfg)
    record = RecordLosses()
    runner.register_hook(record, priority='LOWEST')
    extra = before_train(runner) if before_train else None
    runner.train()
    metrics = runner.test()
    return runner, record.logs, metrics, extra


def _check_after_init(runner):
    """``init_weights()`` (the Runner does not repeat it) and the check."""
    from mmsiameseim.checkpoints import (check_backbone_load)
    runner.model.init_weights()
    return check_backbone_load(runner.model.backbone)


@pytest.fixture(scope='module')
def vit_b_encoder(tmp_path_factory):
    """A randomly initialised ViT-B/16 encoder, converted to ``vitdet``."""
    from mmpretrain.models import VisionTransformer

    from mmsiameseim.checkpoints import (convert_checkpoint)
    torch.manual_seed(0)
    vit = VisionTransformer(arch='b', img_size=224, patch_size=16,
                            final_norm=False)
    vit.init_weights()
    state = {'backbone.' + k: v for k, v in vit.state_dict().items()}
    path = str(tmp_path_factory.mktemp('enc') / 'vit-b_vitdet.pth')
    torch.save(dict(state_dict=convert_checkpoint(state, layout='vitdet').state_dict), path)
    return path


@pytest.fixture(scope='module')
def coco_run(tmp_path_factory, vit_b_encoder):
    root = str(tmp_path_factory.mktemp('coco'))
    ann = write_coco(root)
    cfg = shrink(Config.fromfile(COCO), osp.join(root, 'work'), root + '/',
                 ann, 'images/', size=64)
    cfg.model.backbone.init_cfg.checkpoint = vit_b_encoder
    return _run(cfg, _check_after_init)


def test_coco_config_is_the_recipe():
    cfg = Config.fromfile(COCO)
    b = cfg.model.backbone
    assert (b.type, b.arch, b.img_size, b.patch_size, b.window_size,
            b.drop_path_rate) == ('WindowedViT', 'base', 1024, 16, 14, 0.1)
    # detectron2's pretrain_img_size / pretrain_use_cls_token
    assert (b.pretrain_img_size, b.pretrain_use_cls_token) == (224, True)
    assert cfg.model.neck.scale_factors == (4.0, 2.0, 1.0, 0.5)
    assert cfg.model.neck.out_channels == 256
    assert cfg.model.rpn_head.num_convs == 2
    assert cfg.model.roi_head.bbox_head.type == 'Shared4Conv1FCBBoxHead'
    assert cfg.model.roi_head.mask_head.norm_cfg.type == 'mmpretrain.LN2d'
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper'
    assert (opt.optimizer.type, opt.optimizer.lr, opt.optimizer.weight_decay,
            opt.optimizer.betas) == ('AdamW', 1e-4, 0.1, (0.9, 0.999))
    assert opt.paramwise_cfg.layer_decay_rate == 0.7
    assert cfg.train_dataloader.batch_size * 16 == 64
    assert cfg.train_cfg.max_iters == 184375
    warmup, steps = cfg.param_scheduler
    assert (warmup.type, warmup.end) == ('LinearLR', 250)
    assert [m / 184375 for m in steps.milestones] == pytest.approx(
        [0.889, 0.963], abs=1e-3)
    lsj = next(t for t in cfg.train_dataloader.dataset.pipeline
               if t['type'] == 'RandomResize')
    assert lsj.scale == (1024, 1024) and lsj.ratio_range == (0.1, 2.0)
    assert {h['type'] for h in cfg.custom_hooks} == {'PretrainedLoadCheckHook'}


def test_coco_config_trains_with_matching_strides(coco_run):
    runner, logs, _, _ = coco_run
    model = runner.model
    assert len(logs) == 2
    # The pyramid's strides are the anchor generator's: 128 px input,
    # stride-16 ViT grid 8x8 -> maps 32, 16, 8, 4, 2 = strides 4..64.
    x = torch.zeros(1, 3, 128, 128)
    with torch.no_grad():
        feats = model.neck(model.backbone(x))
    strides = [128 // f.shape[-1] for f in feats]
    anchor_strides = [s[0] for s in
                      model.rpn_head.prior_generator.strides]
    assert strides == anchor_strides == [4, 8, 16, 32, 64]
    extractor = model.roi_head.bbox_roi_extractor
    assert extractor.featmap_strides == [4, 8, 16, 32]
    for log in logs:
        assert all(math.isfinite(v) for v in log.values())
        # the silent failure of a stride-16-only pyramid: RPN box loss 0
        assert log['loss_rpn_bbox'] > 0
        assert log['loss_bbox'] > 0 and log['loss_mask'] > 0


def test_coco_config_tests_with_coco_metric(coco_run):
    _, _, metrics, _ = coco_run
    for key in ('coco/bbox_mAP', 'coco/segm_mAP', 'coco/bbox_mAP_50'):
        assert 0.0 <= metrics[key] <= 1.0


def test_coco_run_checked_the_encoder_load(coco_run):
    """Every ViT-B tensor arrived; exactly the rel-pos tables start fresh."""
    runner, _, _, report = coco_run
    assert 'PretrainedLoadCheckHook' in [type(h).__name__
                                         for h in runner.hooks]
    assert report.ok, report.summary()
    assert report.transformed == []  # the 14 x 14 table is the parameter
    assert runner.model.backbone.pos_embed.shape == (1, 1 + 14 * 14, 768)
    # patch embedding (2), pos_embed, 12 tensors in each of 12 blocks
    assert len(report.equal) == 2 + 1 + 12 * 12
    assert sorted(report.fresh) == sorted(
        f'layers.{i}.attn.rel_pos_{a}' for i in range(12) for a in 'hw')


def test_layer_decay_lr_scales(coco_run):
    runner, _, _, _ = coco_run
    groups = {g['param_name']: g
              for g in runner.optim_wrapper.optimizer.param_groups}
    base = 1e-4
    patch = groups['backbone.patch_embed.projection.weight']
    assert patch['lr_scale'] == pytest.approx(0.7**13)
    qkv = groups['backbone.layers.11.attn.qkv.weight']
    assert qkv['lr_scale'] == pytest.approx(0.7)
    neck = groups['neck.stages.0.0.weight']
    assert neck['lr_scale'] == 1.0
    assert groups['backbone.layers.0.ln1.weight']['lr_scale'] == \
        pytest.approx(0.7**12)
    # weight decay: 0 on norms and the position table, 0.1 elsewhere
    assert groups['backbone.layers.0.ln1.weight']['weight_decay'] == 0.
    assert groups['backbone.pos_embed']['weight_decay'] == 0.
    assert qkv['weight_decay'] == 0.1
    # the scheduler scaled every group from its own initial lr
    for g in (patch, qkv, neck):
        assert g['initial_lr'] == pytest.approx(base * g['lr_scale'])


def test_wrong_encoder_file_stops_the_run(tmp_path):
    """A file whose keys the backbone does not know fails before training.

    (``backbone.``-prefixed keys: mmengine's loader logs the mismatch at
    WARNING level and goes on with a random backbone.)
    """
    from mmsiameseim.downstream.vitdet import WindowedViT
    arch = dict(embed_dims=96, num_layers=2, num_heads=2,
                feedforward_channels=192, global_attn_indexes=[1])
    state = WindowedViT(arch=arch, img_size=224).state_dict()
    bad = str(tmp_path / 'prefixed.pth')
    torch.save(dict(state_dict={'backbone.' + k: v
                                for k, v in state.items()}), bad)
    root = str(tmp_path)
    ann = write_coco(root)
    cfg = shrink(Config.fromfile(COCO), osp.join(root, 'work'), root + '/',
                 ann, 'images/', iters=1)
    cfg.model.backbone.update(
        arch=arch, init_cfg=dict(type='Pretrained', checkpoint=bad))
    cfg.model.neck.in_channels = 96
    runner = Runner.from_cfg(cfg)
    with pytest.raises(RuntimeError, match='load check failed'):
        runner.train()
    assert runner.iter == 0


def test_lvis_config_trains_and_tests(tmp_path):
    cfg = Config.fromfile(LVIS)
    head = cfg.model.roi_head.bbox_head
    assert head.num_classes == 1203 and head.loss_cls.type == 'SeesawLoss'
    assert cfg.model.test_cfg.rcnn.score_thr == 0.02
    assert cfg.model.test_cfg.rcnn.max_per_img == 300
    assert cfg.train_dataloader.dataset.type == 'ClassBalancedDataset'
    assert cfg.train_dataloader.dataset.oversample_thr == 1e-3
    assert cfg.optim_wrapper.optimizer.lr == 2e-4
    assert cfg.train_cfg.max_iters == 156250
    assert cfg.test_evaluator.type == 'NumPy2LVISMetric'
    root = str(tmp_path)
    ann = write_lvis(root)
    shrink(cfg, osp.join(root, 'work'), root + '/', ann, '')
    cfg.model.backbone.update(
        init_cfg=None,
        arch=dict(embed_dims=96, num_layers=2, num_heads=2,
                  feedforward_channels=192, global_attn_indexes=[1]))
    cfg.model.neck.in_channels = 96
    cfg.custom_hooks = []
    _, logs, metrics, _ = _run(cfg)
    assert len(logs) == 2 and logs[-1]['loss_rpn_bbox'] > 0
    assert all(math.isfinite(v) for log in logs for v in log.values())
    # LVIS metric (lvis-api) on the test image: AP and the rare/common/
    # frequent split exist
    for key in ('lvis/bbox_AP', 'lvis/bbox_APr', 'lvis/segm_AP'):
        assert key in metrics
