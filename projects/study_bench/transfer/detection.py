"""Detection transfer on the CPU: ViTDet Mask R-CNN on Fashion-MNIST scenes.

The demo-sized ViTDet Mask R-CNN (:data:`CONFIG`) fine-tuned from an
encoder converted to the ``vitdet`` layout (online encoder) or from
ViTDet's random initialisation; for the pretrained runs
``PretrainedLoadCheckHook`` stops the run unless every encoder tensor
arrived, and the same check is recorded (``load_check``); box and mask AP
of mmdet's ``CocoMetric`` on the test scenes. ``tools/benchmarks/
detection_transfer_cpu.py`` runs the three runs (:mod:`.driver`).
"""
import datetime
import json
import os
import os.path as osp
import time
from typing import List, Optional

from ..cli import machine
from ..config_files import REPO_ROOT, load_config
from ..sizes import rescale_schedule
from .driver import seed_table

CONFIG = ('projects/study_bench/configs/mmdet/siameseim_vit-mini-p4-vitdet-'
          'mask-rcnn_1xb8-500i_fashion-scenes-64x64.py')
METRICS = ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'segm_mAP',
           'segm_mAP_50', 'segm_mAP_75')


def ensure_scenes(data_root: str, fashion_root: str, train_scenes: int,
                  test_scenes: int) -> dict:
    """Write the COCO scenes unless both annotation files exist.

    Returns:
        dict: ``{split: number of scenes}`` read from the annotation files.
    """
    from projects.study_bench.scenes.coco import write_coco_scenes
    counts = {}
    for split, num in (('train', train_scenes), ('test', test_scenes)):
        ann = osp.join(data_root, 'annotations', f'instances_{split}.json')
        if not osp.isfile(ann):
            write_coco_scenes(data_root, fashion_root, split, num)
        with open(ann) as f:
            coco = json.load(f)
        counts[split] = dict(scenes=len(coco['images']),
                             instances=len(coco['annotations']))
    return counts


def convert(path: str, out: str, trusted: bool) -> dict:
    """Online encoder of ``path`` in the ``vitdet`` layout, saved to ``out``.

    Returns:
        dict: ``path`` (``out``) and ``record``: ``checkpoint`` and
        ``conversion`` (the source layout, key counts and the dropped
        encoder keys).
    """
    import torch

    from mmsiameseim.checkpoints import (convert_checkpoint, detect_layout,
                                         read_checkpoint, unwrap_state_dict)
    from mmsiameseim.checkpoints.reading import file_sha256
    state = unwrap_state_dict(read_checkpoint(path, trusted=trusted))
    layout = detect_layout(state)
    full = convert_checkpoint(state, layout='mmpretrain', prefix='').state_dict
    encoder = convert_checkpoint(state, layout='vitdet').state_dict
    os.makedirs(osp.dirname(out), exist_ok=True)
    torch.save(dict(state_dict=encoder,
                    meta=dict(converted_from=osp.abspath(path),
                              layout='vitdet')), out)
    return dict(path=out, record=dict(
        checkpoint=path,
        conversion=dict(source_layout=layout, source_keys=len(state),
                        encoder_keys=len(encoder),
                        dropped=sorted(set(full) - set(encoder)),
                        sha256=file_sha256(path))))


def det_config(pretrained: Optional[str],
               data_root: str,
               work_dir: str,
               config: str = CONFIG,
               iters: Optional[int] = None,
               seed: int = 0):
    """The config of one run.

    Args:
        pretrained (str, optional): The converted encoder, or None for the
            random-init run (its load check hook is dropped).
        data_root (str): The COCO scenes.
        work_dir (str): The run's folder.
        config (str): Defaults to :data:`CONFIG`.
        iters (int, optional): Iterations (the decay milestones scaled, the
            warm-up kept; default: the config's).
        seed (int): Defaults to 0.

    Returns:
        Config: Ready for the runner.
    """
    cfg = load_config(config)
    cfg.work_dir = work_dir
    cfg.randomness = dict(seed=seed)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = data_root
    cfg.test_evaluator.ann_file = osp.join(data_root, 'annotations',
                                           'instances_test.json')
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    if iters:
        rescale_schedule(cfg, iters, warmup=cfg.param_scheduler[0].end)
    if pretrained:
        cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                           checkpoint=pretrained)
    else:
        cfg.model.backbone.init_cfg = None
        cfg.custom_hooks = [h for h in cfg.custom_hooks
                            if h['type'] != 'PretrainedLoadCheckHook']
    return cfg


def train_and_test(cfg, run: str, threads: int) -> dict:
    """Train and test one run in this process; return its record."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    import mmsiameseim.downstream.vitdet  # noqa: F401
    from mmsiameseim.checkpoints import check_backbone_load
    torch.set_num_threads(threads)
    record = dict(run=run, config=osp.relpath(cfg.filename, REPO_ROOT),
                  seed=cfg.randomness.seed,
                  iterations=cfg.train_cfg.max_iters,
                  batch_size=cfg.train_dataloader.batch_size,
                  checkpoint=None, load_check=None)
    if cfg.model.backbone.init_cfg:
        init_default_scope('mmdet')
        backbone = MODELS.build(cfg.model.backbone)
        backbone.init_weights()
        report = check_backbone_load(backbone)
        report.raise_if_failed(cfg.model.backbone.init_cfg.checkpoint)
        record['load_check'] = dict(equal=len(report.equal),
                                    transformed=report.transformed,
                                    fresh=sorted(report.fresh))
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    record['train_seconds'] = round(time.time() - start, 1)
    start = time.time()
    metrics = runner.test()
    record['test_seconds'] = round(time.time() - start, 1)
    # CocoMetric returns no numbers when no box scored above the test
    # threshold (it logs "The testing results of the whole dataset is
    # empty"): that is an AP of 0
    record['no_detections'] = not metrics
    record.update({k: round(float(metrics.get(f'coco/{k}', 0.)), 4)
                   for k in METRICS})
    record.update(
        machine=machine(),
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        date=datetime.date.today().isoformat())
    return record


def summarize(records: List[dict]) -> str:
    """Markdown table of the records (AP in %), one row per run and seed,
    then each run's mean ± sd over its seeds when it has several."""
    if not records:
        raise ValueError('no records to summarize')
    lines = ['| init | seed | box AP | AP50 | AP75 | mask AP | AP50 | AP75 | '
             'train | test |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in records:
        ap = [f'{100 * r[k]:.1f}' for k in METRICS]
        lines.append(f"| {r['run']} | {r.get('seed', 0)} | {' | '.join(ap)} "
                     f"| {r['train_seconds'] / 60:.1f} min | "
                     f"{r['test_seconds']:.0f} s |")
    means = seed_table(records, {
        'box AP': lambda r: 100 * r['bbox_mAP'],
        'mask AP': lambda r: 100 * r['segm_mAP']
    }, 1)
    return '\n'.join(lines) + ('\n\n' + means if means else '')
