"""Linear probe of a frozen pretrained backbone on Fashion-MNIST.

The SiameseIM / MAE linear-probing recipe (the head of
``configs/siameseim/benchmarks/*-linear-*``) scaled down to cached
features: the first ``--train-size`` train and ``--test-size`` test images
(resized to ``--img-size``) are encoded once by the frozen ``model.backbone``
of a *pretraining* config and pooled (``--pool avg``: mean of the patch
tokens, the recipe's choice; ``cls``: the cls token). A head of
parameter-free LayerNorm (eps 1e-6), BatchNorm1d without affine parameters
(eps 1e-6) and a Linear layer (trunc-normal std 0.01) is trained with
mmpretrain's LARS (momentum 0.9, trust 0.001, weight decay 0, the bias
excluded from the trust ratio) at the recipe's learning rate
6.4 (not rescaled to the smaller batch: LARS fixes the relative step size,
see ``train_linear_probe``), 90 epochs, linear warm-up 10 then cosine to 0,
cross-entropy, no augmentation. Reports test top-1. Prints one JSON line
and appends it to ``--out``. The Runner version of the same probe is the
config ``vit-mini-p4_1xb256-linear-coslr-10e_fashion-mnist.py``
(``docs/evaluation.md`` compares the two).

Example:
    python tools/benchmarks/linear_probe.py \\
        configs/demo/siameseim_vit-mini-p4_1xb64-coslr-4e_fashion-mnist.py \\
        work_dirs/demo/epoch_4.pth --out work_dirs/benchmarks.jsonl
"""
import argparse
import time
from typing import Optional, Sequence


from projects.study_bench.probes.cli import (add_common_args, append_jsonl,
                       base_record, check_sizes,
                       encode_classification_splits, encoder_from_args,
                       resolve_device)

from projects.study_bench.probes.linear_probe import \
    train_linear_probe


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='Linear probe of a frozen backbone on Fashion-MNIST')
    add_common_args(parser)
    parser.add_argument('--epochs', type=int, default=90)
    parser.add_argument('--warmup-epochs', type=int, default=10)
    parser.add_argument(
        '--probe-batch-size',
        type=int,
        default=256,
        help='batch of the probe training (features)')
    parser.add_argument(
        '--lr', type=float, default=6.4, help='peak LARS learning rate')
    args = parser.parse_args(argv)
    check_sizes(args)
    if args.epochs < 1 or args.probe_batch_size < 2:
        parser.error('--epochs must be >= 1 and --probe-batch-size >= 2')
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the probe; return the JSON record."""
    args = parse_args(argv)
    start = time.time()
    device = resolve_device(args.device)
    encoder, info, img_size = encoder_from_args(args, device)
    train_feats, train_labels, test_feats, test_labels = \
        encode_classification_splits(encoder, args, img_size)
    feat_seconds = time.time() - start
    result = train_linear_probe(
        train_feats,
        train_labels,
        test_feats,
        test_labels,
        num_classes=10,
        epochs=args.epochs,
        batch_size=args.probe_batch_size,
        lr=args.lr,
        warmup_epochs=args.warmup_epochs,
        seed=args.seed,
        device=device)
    record = base_record(
        'linear_probe',
        args,
        info,
        metric='linear_top1',
        value=result['top1'],
        linear_top5=result['top5'],
        train_top1=result['train_top1'],
        pool=args.pool,
        train_size=len(train_feats),
        test_size=len(test_feats),
        img_size=img_size,
        feat_dim=train_feats.shape[1],
        epochs=args.epochs,
        warmup_epochs=args.warmup_epochs,
        probe_batch_size=args.probe_batch_size,
        probe_lr=args.lr,
        steps=result['steps'],
        optimizer='LARS',
        seed=args.seed,
        device=device,
        feature_seconds=round(feat_seconds, 2),
        seconds=round(time.time() - start, 2))
    append_jsonl(args.out, record)
    return record


if __name__ == '__main__':
    main()
