"""1 % ImageNet evaluation: logistic regression on frozen cls features.

The paper's "IN 1%" column (the original ``main_logistic.py``, after MSN):
the frozen encoder of a *pretraining* config encodes the training images
a subset list names (SimCLR's ``1percent.txt``) and the ImageNet validation
set (``Resize(256, bilinear)``, ``CenterCrop(224)``, the config's
normalisation); a multinomial logistic regression with an L2 weight of
``--lambd / N`` is fitted on the centred, L2-normalised cls tokens
(:mod:`projects.study_bench.probes.logistic_regression`, scikit-learn) and its
validation top-1 is reported. No network weight is trained.

The ImageNet folder needs ``train/<wnid>/<image>`` and either
``val/<wnid>/<image>`` (class folders) or mmpretrain's flat ``val/`` with
``meta/val.txt``. Check the list first with ``check_subset_list.py``.
Prints one JSON line and appends it to ``--out``.

Example:
    CFG=configs/siameseim/siameseim_vit-base-p16_32xb128-amp-coslr-1600e_in1k.py
    python tools/benchmarks/few_shot_logistic.py \\
        $CFG work_dirs/siameseim_vit-base/epoch_1600.pth \\
        --data-root data/imagenet --subset-list data/imagenet/1percent.txt \\
        --out work_dirs/few_shot.jsonl
"""
import argparse
import os
import os.path as osp
import time
from typing import Optional, Sequence


from projects.study_bench.probes.cli import append_jsonl, base_record, resolve_device

from projects.study_bench.probes.frozen_encoder import (
    build_frozen_encoder, encode_dataset)
from projects.study_bench.probes.logistic_regression import (
    fit_logistic_regression, logistic_regression_accuracy)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='1 % ImageNet logistic regression on frozen features')
    parser.add_argument('config', help='pretraining config')
    parser.add_argument(
        'checkpoint', help="checkpoint, or 'none' for the random init")
    parser.add_argument('--data-root', default='data/imagenet')
    parser.add_argument(
        '--subset-list', required=True, help='e.g. SimCLR 1percent.txt')
    parser.add_argument(
        '--lambd',
        type=float,
        default=0.1,
        help='L2 weight x N (0.1 for ViT-B, 0.01 for ViT-L)')
    parser.add_argument(
        '--pool',
        choices=['cls', 'avg'],
        default='cls',
        help='cls token (the recipe) or mean of the patch tokens')
    parser.add_argument('--resize', type=int, default=256)
    parser.add_argument('--crop', type=int, default=224)
    parser.add_argument(
        '--val-size',
        type=int,
        default=None,
        help='first N validation images (default: all)')
    parser.add_argument('--batch-size', type=int, default=64)
    parser.add_argument('--num-workers', type=int, default=4)
    parser.add_argument('--max-iter', type=int, default=1000)
    parser.add_argument('--device', default=None)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--out', default=None)
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='read the checkpoint with full pickle (a file of your own run '
        'copied elsewhere; see docs/checkpoints.md)')
    args = parser.parse_args(argv)
    if args.lambd <= 0:
        parser.error('--lambd must be > 0')
    return args


def build_datasets(args) -> tuple:
    """The listed training images and the validation set."""
    from mmpretrain.datasets import ImageNet

    from mmsiameseim.datasets import ImageNetWnidFolder
    from mmsiameseim.datasets.imagenet_subset import ImageNetSubsetList
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(
            type='ResizeEdge',
            scale=args.resize,
            edge='short',
            backend='pillow',
            interpolation='bilinear'),
        dict(type='CenterCrop', crop_size=args.crop),
        dict(type='PackInputs'),
    ]
    train = ImageNetSubsetList(
        data_root=osp.join(args.data_root, 'train'),
        subset_list=args.subset_list,
        pipeline=pipeline)
    val_root = osp.join(args.data_root, 'val')
    common = dict(pipeline=pipeline, indices=args.val_size)
    if osp.isdir(val_root) and any(e.is_dir() for e in os.scandir(val_root)):
        val = ImageNetWnidFolder(data_root=val_root, **common)
    else:
        val = ImageNet(data_root=args.data_root, split='val', **common)
    return train, val


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the evaluation; return the JSON record."""
    args = parse_args(argv)
    start = time.time()
    device = resolve_device(args.device)
    encoder, info = build_frozen_encoder(
        args.config,
        args.checkpoint,
        device=device,
        pool=args.pool,
        seed=args.seed,
        trusted=args.trusted_checkpoint)
    train, val = build_datasets(args)
    common = dict(batch_size=args.batch_size, num_workers=args.num_workers)
    train_feats, train_labels = encode_dataset(encoder, train, **common)
    val_feats, val_labels = encode_dataset(encoder, val, **common)
    feat_seconds = time.time() - start
    classifier = fit_logistic_regression(
        train_feats, train_labels, lambd=args.lambd, max_iter=args.max_iter)
    record = base_record(
        'few_shot_logistic',
        args,
        info,
        metric='logistic_top1',
        value=logistic_regression_accuracy(classifier, val_feats,
                                           val_labels),
        train_top1=logistic_regression_accuracy(classifier, train_feats,
                                                train_labels),
        subset_list=args.subset_list,
        lambd=args.lambd,
        pool=args.pool,
        train_size=len(train_feats),
        test_size=len(val_feats),
        img_size=args.crop,
        feat_dim=int(train_feats.shape[1]),
        lbfgs_iterations=int(max(classifier.n_iter_)),
        seed=args.seed,
        device=device,
        feature_seconds=round(feat_seconds, 2),
        seconds=round(time.time() - start, 2))
    append_jsonl(args.out, record)
    return record


if __name__ == '__main__':
    main()
