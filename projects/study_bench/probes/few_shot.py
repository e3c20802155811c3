"""The 1 % ImageNet evaluation: logistic regression on frozen features.

The paper's "IN 1%" column (the original ``main_logistic.py``, after MSN):
the frozen encoder of a pretraining config encodes the training images a
subset list names (SimCLR's ``1percent.txt``) and the ImageNet validation
set (``Resize(256, bilinear)``, ``CenterCrop(224)``, the config's
normalisation) through the plugin's one feature extractor
(:func:`mmsiameseim.evaluation.extract_features`); the multinomial
logistic regression of :mod:`.logistic_regression` is fitted on the
training features and its validation top-1 reported. No network weight
is trained.
"""
import os
import os.path as osp
import time
from collections import Counter
from typing import Dict, Optional

from ..cli import append_jsonl
from .common import (ProbeRun, base_record, resolve_device, run_encoder,
                     with_progress)
from .logistic_regression import (fit_logistic_regression,
                                  logistic_regression_accuracy)


def check_subset_list(path: str,
                      train_root: Optional[str] = None,
                      expect_count: Optional[int] = None,
                      expect_classes: Optional[int] = 1000) -> Dict:
    """``images``, ``classes``, ``min_per_class``, ``max_per_class`` (and,
    with ``train_root``, where every file must exist, ``missing_files``)
    of a subset list; a ``ValueError`` naming the file unless it has
    ``expect_count`` images and ``expect_classes`` classes (None: any)."""
    from mmsiameseim.datasets.imagenet_subset import (read_subset_list,
                                                      subset_samples)
    names = read_subset_list(path)
    per_class = Counter(name.split('_')[0] for name in names)
    report = dict(
        images=len(names),
        classes=len(per_class),
        min_per_class=min(per_class.values()),
        max_per_class=max(per_class.values()))
    if expect_count is not None and len(names) != expect_count:
        raise ValueError(f'{path}: {len(names)} images, expected '
                         f'{expect_count}')
    if expect_classes is not None and len(per_class) != expect_classes:
        raise ValueError(f'{path}: {len(per_class)} classes, expected '
                         f'{expect_classes}')
    if train_root is not None:
        subset_samples(path, train_root)
        report['missing_files'] = 0
    return report


def build_datasets(data_root: str, subset_list: str, resize: int = 256,
                   crop: int = 224, val_size: Optional[int] = None) -> tuple:
    """The listed training images and the ImageNet validation set.

    ``Resize(resize, bilinear)``, ``CenterCrop(crop)``; the validation set
    in class folders (``val/<wnid>/``) or mmpretrain's flat ``val/`` with
    ``meta/val.txt``.
    """
    from mmpretrain.datasets import ImageNet

    from mmsiameseim.datasets import ImageNetWnidFolder
    from mmsiameseim.datasets.imagenet_subset import ImageNetSubsetList
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(
            type='ResizeEdge',
            scale=resize,
            edge='short',
            backend='pillow',
            interpolation='bilinear'),
        dict(type='CenterCrop', crop_size=crop),
        dict(type='PackInputs'),
    ]
    train = ImageNetSubsetList(
        data_root=osp.join(data_root, 'train'),
        subset_list=subset_list,
        pipeline=pipeline)
    val_root = osp.join(data_root, 'val')
    common = dict(pipeline=pipeline, indices=val_size)
    if osp.isdir(val_root) and any(e.is_dir() for e in os.scandir(val_root)):
        val = ImageNetWnidFolder(data_root=val_root, **common)
    else:
        val = ImageNet(data_root=data_root, split='val', **common)
    return train, val


def few_shot_probe(config: str,
                   checkpoint: str,
                   subset_list: str,
                   data_root: str = 'data/imagenet',
                   lambd: float = 0.1,
                   pool: str = 'cls',
                   resize: int = 256,
                   crop: int = 224,
                   val_size: Optional[int] = None,
                   num_workers: int = 4,
                   max_iter: int = 1000,
                   **inputs) -> dict:
    """Run the 1 % evaluation; print, append (``out``), return its record.

    Args:
        config (str): The pretraining config.
        checkpoint (str): Its checkpoint, or ``'none'``.
        subset_list (str): The list of labelled training images.
        data_root (str): The ImageNet folder. Defaults to
            ``'data/imagenet'``.
        lambd (float): L2 weight x N (0.1 for ViT-B, 0.01 for ViT-L).
        pool (str): ``'cls'`` (the recipe) or ``'avg'``.
        resize (int): Short side before the crop. Defaults to 256.
        crop (int): Centre crop. Defaults to 224.
        val_size (int, optional): First validation images (None: all).
        num_workers (int): Dataloader workers. Defaults to 4.
        max_iter (int): L-BFGS iterations. Defaults to 1000.
        **inputs: ``device``, ``batch_size``, ``seed``,
            ``trusted_checkpoint``, ``out`` (:class:`~.common.ProbeRun`).

    Returns:
        dict: ``metric='logistic_top1'``, ``value`` and the run's facts.
    """
    from mmengine.dataset import default_collate
    from torch.utils.data import DataLoader

    from mmsiameseim.evaluation import extract_features
    run = ProbeRun(config, checkpoint, data_root=data_root, pool=pool,
                   img_size=crop, **inputs)
    start = time.time()
    device = resolve_device(run.device)
    encoder, info, _ = run_encoder(run, device)
    feats = [
        extract_features(
            encoder,
            with_progress(
                DataLoader(dataset, batch_size=run.batch_size,
                           num_workers=num_workers,
                           collate_fn=default_collate)),
            pool=pool)
        for dataset in build_datasets(data_root, subset_list, resize, crop,
                                      val_size)
    ]
    (train_feats, train_labels), (val_feats, val_labels) = feats
    feat_seconds = time.time() - start
    classifier = fit_logistic_regression(
        train_feats, train_labels, lambd=lambd, max_iter=max_iter)
    record = base_record(
        'few_shot_logistic', run, info, metric='logistic_top1',
        value=logistic_regression_accuracy(classifier, val_feats,
                                           val_labels),
        train_top1=logistic_regression_accuracy(classifier, train_feats,
                                                train_labels),
        subset_list=subset_list, lambd=lambd, pool=pool,
        train_size=len(train_feats), test_size=len(val_feats), img_size=crop,
        feat_dim=int(train_feats.shape[1]),
        lbfgs_iterations=int(max(classifier.n_iter_)), seed=run.seed,
        device=device, feature_seconds=round(feat_seconds, 2),
        seconds=round(time.time() - start, 2))
    append_jsonl(run.out, record)
    return record
