"""Dense (per-patch) linear probe on Fashion-MNIST scenes, reported as mIoU.

Train scenes are built from the train split and test scenes from the test
split by :mod:`projects.study_bench.scenes.generate` (seeded, 11 classes:
background + 10 garments). Scenes are rendered at ``--canvas`` pixels
(default ``2 x img_size``, items ``5/8`` to ``5/4`` of ``img_size`` on a
side, i.e. 64 px canvases with 20-40 px items for the 32 px demo
backbone), so items appear at about the scale the backbone saw in
pretraining. The canvas is fed at its own size: mmpretrain's
VisionTransformer resizes the position embedding (bicubic) to the larger
patch grid (16x16 for the demo's patch 4).

The frozen ``model.backbone`` of a *pretraining* config gives a patch map
``(B, h, w, C)``; it is layer-normalised (no affine) and cached. A head of
non-affine BatchNorm and a 1x1 conv (11 classes) is trained with per-pixel
cross-entropy on logits upsampled bilinearly to the canvas (AdamW, lr 1e-2,
20 epochs, cosine). mIoU over the test scenes (dataset-level confusion
matrix, mean over the classes present in the ground truth or the
prediction) is reported. ``--pool`` is accepted for a uniform command
line and ignored. Prints one JSON line and appends it to ``--out``.

Example:
    python tools/benchmarks/dense_probe.py \\
        configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \\
        work_dirs/demo/epoch_4.pth --out work_dirs/benchmarks.jsonl \\
        --dump-scenes work_dirs/scenes_preview
"""
import argparse
import time
from typing import Optional, Sequence


import torch

from projects.study_bench.probes.cli import (add_common_args, append_jsonl,
                       base_record, check_sizes, encoder_from_args,
                       resolve_device)

from projects.study_bench.scenes.generate import (
    DEFAULT_SEEDS, NUM_SCENE_CLASSES, make_split_scenes, write_scenes)
from projects.study_bench.probes.dense_probe import (
    extract_patch_features, predict_dense_labels, train_dense_probe)
from projects.study_bench.probes.segmentation_metrics import (
    confusion_matrix, miou_from_confusion)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Dense linear probe (mIoU) on Fashion-MNIST scenes')
    add_common_args(parser, train_help='scenes', default_sizes=(2000, 1000))
    parser.add_argument(
        '--canvas',
        type=int,
        default=None,
        help='scene side in pixels (default: 2 x img-size)')
    parser.add_argument(
        '--item-size',
        type=int,
        nargs=2,
        default=None,
        metavar=('MIN', 'MAX'),
        help='item side range (default: 5/8 and 5/4 of img-size)')
    parser.add_argument('--epochs', type=int, default=20)
    parser.add_argument('--lr', type=float, default=1e-2)
    parser.add_argument(
        '--probe-batch-size',
        type=int,
        default=64,
        help='scenes per step of the probe training')
    parser.add_argument(
        '--dump-scenes',
        default=None,
        metavar='DIR',
        help='also write the first --num-dump test scenes as PNGs + json')
    parser.add_argument('--num-dump', type=int, default=32)
    args = parser.parse_args(argv)
    check_sizes(args)
    if args.epochs < 1 or args.probe_batch_size < 2:
        parser.error('--epochs must be >= 1 and --probe-batch-size >= 2')
    if args.train_size < 2:
        parser.error('--train-size must be >= 2 scenes')
    return args


def scene_params(img_size: int, canvas: Optional[int],
                 item_size: Optional[Sequence[int]]) -> dict:
    """Generator parameters derived from the backbone's input size.

    Args:
        img_size (int): Input size the backbone was pretrained at.
        canvas (int, optional): Canvas side; None gives ``2 * img_size``.
        item_size (Sequence[int], optional): ``(min, max)`` item sides;
            None gives ``round(5/8 * img_size), round(5/4 * img_size)``.

    Returns:
        dict: Keyword arguments of ``generate_scenes``.
    """
    if canvas is None:
        canvas = 2 * img_size
    if item_size is None:
        item_size = (round(img_size * 5 / 8), round(img_size * 5 / 4))
    return dict(
        canvas=canvas,
        min_items=2,
        max_items=4,
        min_size=int(item_size[0]),
        max_size=int(item_size[1]),
        threshold=32)


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the probe; return the JSON record."""
    args = parse_args(argv)
    start = time.time()
    device = resolve_device(args.device)
    encoder, info, img_size = encoder_from_args(args, device)
    params = scene_params(img_size, args.canvas, args.item_size)
    train_imgs, train_masks, _ = make_split_scenes(
        args.data_root, 'train', args.train_size, DEFAULT_SEEDS['train'],
        **params)
    test_imgs, test_masks, test_meta = make_split_scenes(
        args.data_root, 'test', args.test_size, DEFAULT_SEEDS['test'],
        **params)
    if args.dump_scenes:
        num = min(args.num_dump, len(test_imgs))
        write_scenes(
            args.dump_scenes, test_imgs[:num], test_masks[:num],
            test_meta[:num],
            dict(split='test', seed=DEFAULT_SEEDS['test'], **params))
    train_feats = extract_patch_features(encoder, train_imgs,
                                         args.batch_size)
    test_feats = extract_patch_features(encoder, test_imgs, args.batch_size)
    feat_seconds = time.time() - start
    out_size = train_masks.shape[-2:]
    head = train_dense_probe(
        train_feats,
        train_masks,
        NUM_SCENE_CLASSES,
        epochs=args.epochs,
        batch_size=args.probe_batch_size,
        lr=args.lr,
        seed=args.seed,
        device=device)
    pred = predict_dense_labels(head, test_feats, out_size)
    target = torch.from_numpy(test_masks).long()
    cm = confusion_matrix(pred, target, NUM_SCENE_CLASSES, ignore_index=None)
    result = miou_from_confusion(cm)
    record = base_record(
        'dense_probe',
        args,
        info,
        metric='miou',
        value=result['miou'],
        aacc=result['aacc'],
        iou=result['iou'],
        num_classes=NUM_SCENE_CLASSES,
        num_classes_present=result['num_classes_present'],
        train_size=len(train_imgs),
        test_size=len(test_imgs),
        img_size=img_size,
        patch_grid=list(train_feats.shape[1:3]),
        feat_dim=train_feats.shape[-1],
        scene_seeds=dict(DEFAULT_SEEDS),
        **params,
        epochs=args.epochs,
        probe_lr=args.lr,
        probe_batch_size=args.probe_batch_size,
        seed=args.seed,
        device=device,
        feature_seconds=round(feat_seconds, 2),
        seconds=round(time.time() - start, 2))
    append_jsonl(args.out, record)
    return record


if __name__ == '__main__':
    main()
