"""Weighted kNN accuracy of a frozen pretrained backbone on Fashion-MNIST.

Builds ``model.backbone`` of a *pretraining* config (SiameseIM, MAE,
MoCo v3, ...), loads the checkpoint's backbone weights (``none``: the
random init), encodes the first ``--train-size`` train images (the memory
bank) and the first ``--test-size`` test images resized to ``--img-size``,
pools them (``--pool avg``: mean of the patch tokens; ``cls``: the cls
token) and classifies the test images with the cosine, temperature-weighted
kNN of ``mmsiameseim.evaluation.knn`` (k=20, T=0.07). Prints one JSON line
and appends it to ``--out``.

Example:
    python tools/benchmarks/knn_eval.py \\
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

from mmsiameseim.evaluation.knn import knn_accuracy


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        description='kNN evaluation of a frozen backbone on Fashion-MNIST')
    add_common_args(parser)
    parser.add_argument('--k', type=int, default=20)
    parser.add_argument('--temperature', type=float, default=0.07)
    args = parser.parse_args(argv)
    check_sizes(args)
    return args


def main(argv: Optional[Sequence[str]] = None) -> dict:
    """Run the evaluation; return the JSON record."""
    args = parse_args(argv)
    start = time.time()
    device = resolve_device(args.device)
    encoder, info, img_size = encoder_from_args(args, device)
    train_feats, train_labels, test_feats, test_labels = \
        encode_classification_splits(encoder, args, img_size)
    acc = knn_accuracy(
        train_feats.to(device),
        train_labels.to(device),
        test_feats,
        test_labels,
        num_classes=10,
        k=args.k,
        temperature=args.temperature)
    record = base_record(
        'knn_eval',
        args,
        info,
        metric='knn_top1',
        value=acc['top1'],
        knn_top5=acc['top5'],
        k=args.k,
        temperature=args.temperature,
        pool=args.pool,
        train_size=len(train_feats),
        test_size=len(test_feats),
        img_size=img_size,
        feat_dim=train_feats.shape[1],
        seed=args.seed,
        device=device,
        seconds=round(time.time() - start, 2))
    append_jsonl(args.out, record)
    return record


if __name__ == '__main__':
    main()
