"""Weighted kNN accuracy of a frozen pretrained backbone on Fashion-MNIST.

The first ``train_size`` train images are the memory bank, the first
``test_size`` test images the queries (resized to the input size, pooled
by ``pool``); the classifier is the cosine, temperature-weighted kNN of
:func:`mmsiameseim.evaluation.knn_accuracy` that the training's kNN
monitor uses (k = 20, T = 0.07).
"""
import time

from mmsiameseim.evaluation import knn_accuracy
from ..cli import append_jsonl
from .common import (ProbeRun, base_record, resolve_device, run_encoder,
                     split_features)


def knn_probe(config: str,
              checkpoint: str,
              k: int = 20,
              temperature: float = 0.07,
              **inputs) -> dict:
    """Run the kNN probe; print, append (``out``) and return its record.

    Args:
        config (str): The pretraining config.
        checkpoint (str): Its checkpoint, or ``'none'``.
        k (int): Neighbours. Defaults to 20.
        temperature (float): Softmax temperature. Defaults to 0.07.
        **inputs: The other fields of :class:`~.common.ProbeRun` (sizes
            default to the whole splits).

    Returns:
        dict: ``metric='knn_top1'``, ``value`` and the run's facts.
    """
    run = ProbeRun(config, checkpoint, **inputs)
    start = time.time()
    device = resolve_device(run.device)
    encoder, info, img_size = run_encoder(run, device)
    train_feats, train_labels = split_features(encoder, run, 'train',
                                               run.train_size, img_size)
    test_feats, test_labels = split_features(encoder, run, 'test',
                                             run.test_size, img_size)
    acc = knn_accuracy(
        train_feats.to(device),
        train_labels.to(device),
        test_feats,
        test_labels,
        num_classes=10,
        k=k,
        temperature=temperature)
    record = base_record(
        'knn_eval',
        run,
        info,
        metric='knn_top1',
        value=acc['top1'],
        knn_top5=acc['top5'],
        k=k,
        temperature=temperature,
        pool=run.pool,
        train_size=len(train_feats),
        test_size=len(test_feats),
        img_size=img_size,
        feat_dim=train_feats.shape[1],
        seed=run.seed,
        device=device,
        seconds=round(time.time() - start, 2))
    append_jsonl(run.out, record)
    return record
