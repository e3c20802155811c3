"""Detection transfer on the CPU: ViTDet Mask R-CNN on Fashion-MNIST scenes.

Fine-tunes the demo-sized ViTDet Mask R-CNN
(``projects/study_bench/configs/mmdet/siameseim_vit-mini-p4-vitdet-mask-
rcnn_1xb8-500i_fashion-scenes-64x64.py``) three times, from

* ``siameseim``: a SiameseIM checkpoint (``make demo``),
* ``mae``: an mmpretrain MAE checkpoint of the same encoder size,
* ``random``: ViTDet's random initialisation,

and reports box and mask AP of mmdet's ``CocoMetric`` on the test scenes,
with training / test time and the machine. Checkpoints are converted with
the ``vitdet`` layout (online encoder; ``mmsiameseim_to_backbone``) into
the work dir; for the two pretrained runs ``PretrainedLoadCheckHook`` stops
the run unless every encoder tensor arrived, and the same check is recorded
(``load_check``). The COCO-format scenes are written first if missing
(``tools/data/make_fashion_scenes_coco.py``). Every run is a separate
process (mmengine keeps global state per process); one JSON line per run
goes to ``--out``.

Example (the numbers in docs/downstream.md)::

    python tools/benchmarks/detection_transfer_cpu.py \\
        --siameseim work_dirs/demo/epoch_4.pth \\
        --mae work_dirs/cpu_comparison/mae/lr0.001_seed0/epoch_4.pth \\
        --out docs/downstream/detection_cpu.jsonl

    python tools/benchmarks/detection_transfer_cpu.py \\
        --summarize docs/downstream/detection_cpu.jsonl
"""
import argparse
import datetime
import json
import os
import os.path as osp
import platform
import subprocess
import sys
import time
from typing import List, Optional

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = ('projects/study_bench/configs/mmdet/siameseim_vit-mini-p4-vitdet-'
          'mask-rcnn_1xb8-500i_fashion-scenes-64x64.py')
RUNS = ('siameseim', 'mae', 'random')
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
        dict: The source layout, key counts and the dropped encoder keys.
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
    return dict(source_layout=layout, source_keys=len(state),
                encoder_keys=len(encoder),
                dropped=sorted(set(full) - set(encoder)),
                sha256=file_sha256(path))


def run_one(args) -> None:
    """Train and test one run in this process; print its JSON record."""
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner

    os.chdir(ROOT)
    import mmsiameseim.downstream.vitdet  # noqa: F401
    from mmsiameseim.checkpoints import (check_backbone_load)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    cfg = Config.fromfile(osp.join(ROOT, args.config))
    cfg.work_dir = args.work_dir
    cfg.randomness = dict(seed=args.seed)
    cfg.visualizer.vis_backends = [dict(type='LocalVisBackend')]
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = args.data_root
    cfg.test_evaluator.ann_file = osp.join(args.data_root, 'annotations',
                                           'instances_test.json')
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    if args.iters:
        from projects.study_bench.sizes import rescale_schedule
        # the warm-up keeps its steps; the decay milestones scale
        rescale_schedule(cfg, args.iters, warmup=cfg.param_scheduler[0].end)
    record = dict(run=args.run, config=args.config, seed=args.seed,
                  iterations=cfg.train_cfg.max_iters,
                  batch_size=cfg.train_dataloader.batch_size)
    if args.checkpoint:
        encoder = osp.join(args.work_dir, f'{args.run}_vitdet.pth')
        record['checkpoint'] = args.checkpoint
        record['conversion'] = convert(args.checkpoint, encoder,
                                       args.trusted)
        cfg.model.backbone.init_cfg = dict(type='Pretrained',
                                           checkpoint=encoder)
        init_default_scope('mmdet')
        from mmdet.registry import MODELS
        backbone = MODELS.build(cfg.model.backbone)
        backbone.init_weights()
        report = check_backbone_load(backbone)
        report.raise_if_failed(args.checkpoint)
        record['load_check'] = dict(equal=len(report.equal),
                                    transformed=report.transformed,
                                    fresh=sorted(report.fresh))
    else:
        cfg.model.backbone.init_cfg = None
        cfg.custom_hooks = [h for h in cfg.custom_hooks
                            if h['type'] != 'PretrainedLoadCheckHook']
        record['checkpoint'] = None
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
        machine=f'{platform.machine()} CPU x{os.cpu_count()}',
        torch_threads=torch.get_num_threads(),
        torch=torch.__version__,
        date=datetime.date.today().isoformat())
    print('RECORD ' + json.dumps(record), flush=True)


def summarize(records: List[dict]) -> str:
    """Markdown table of the records (AP in %)."""
    if not records:
        raise ValueError('no records to summarize')
    lines = ['| init | box AP | AP50 | AP75 | mask AP | AP50 | AP75 | '
             'train | test |', '|---|---|---|---|---|---|---|---|---|']
    for r in records:
        ap = [f'{100 * r[k]:.1f}' for k in METRICS]
        lines.append(f"| {r['run']} | {' | '.join(ap)} | "
                     f"{r['train_seconds'] / 60:.1f} min | "
                     f"{r['test_seconds']:.0f} s |")
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--siameseim', help='SiameseIM checkpoint')
    parser.add_argument('--mae', help='mmpretrain MAE checkpoint')
    parser.add_argument('--runs', nargs='+', default=list(RUNS),
                        choices=RUNS)
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--data-root', default='data/fashion_scenes_coco',
                        help='COCO scenes (written here if missing)')
    parser.add_argument('--fashion-root', default='data/fashion-mnist')
    parser.add_argument('--train-scenes', type=int, default=2000)
    parser.add_argument('--test-scenes', type=int, default=300)
    parser.add_argument('--iters', type=int,
                        help="training iterations (default: the config's)")
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--trusted', action='store_true',
                        help='read the checkpoints with full pickle (files '
                        'your own runs wrote are trusted without it when '
                        'their run manifest lists them)')
    parser.add_argument('--work-root', default='work_dirs/det_transfer')
    parser.add_argument('--out', default='work_dirs/det_transfer.jsonl')
    parser.add_argument('--summarize', metavar='JSONL',
                        help='print the table of a results file and exit')
    # internal: one run in this process
    parser.add_argument('--run', help=argparse.SUPPRESS)
    parser.add_argument('--checkpoint', help=argparse.SUPPRESS)
    parser.add_argument('--work-dir', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.summarize:
        with open(args.summarize) as f:
            print(summarize([json.loads(line) for line in f
                             if line.strip()]))
        return 0
    if args.run:
        run_one(args)
        return 0
    paths = dict(siameseim=args.siameseim, mae=args.mae, random=None)
    for run in args.runs:
        if run != 'random' and not (paths[run] and osp.isfile(paths[run])):
            parser.error(f'run {run!r} needs an existing --{run} checkpoint '
                         f'(got {paths[run]!r})')
    data_root = osp.abspath(args.data_root)
    counts = ensure_scenes(data_root, osp.abspath(args.fashion_root),
                           args.train_scenes, args.test_scenes)
    print(f'scenes: {counts}', flush=True)
    out = osp.abspath(args.out)
    os.makedirs(osp.dirname(out), exist_ok=True)
    for run in args.runs:
        work_dir = osp.abspath(osp.join(args.work_root, run))
        cmd = [sys.executable, osp.abspath(__file__), '--run', run,
               '--config', args.config, '--data-root', data_root,
               '--seed', str(args.seed), '--work-dir', work_dir]
        if paths[run]:
            cmd += ['--checkpoint', osp.abspath(paths[run])]
        if args.iters:
            cmd += ['--iters', str(args.iters)]
        if args.trusted:
            cmd.append('--trusted')
        print('+ ' + ' '.join(cmd), flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [line for line in proc.stdout.splitlines()
                 if line.startswith('RECORD ')]
        if proc.returncode != 0 or not lines:
            sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
            print(f'run {run} failed ({proc.returncode}); log in {work_dir}',
                  file=sys.stderr)
            return 1
        record = json.loads(lines[-1][len('RECORD '):])
        record['scenes'] = counts
        with open(out, 'a') as f:
            f.write(json.dumps(record) + '\n')
        print(f"{run}: box AP {100 * record['bbox_mAP']:.1f}, mask AP "
              f"{100 * record['segm_mAP']:.1f} "
              f"({record['train_seconds'] / 60:.1f} min)", flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
