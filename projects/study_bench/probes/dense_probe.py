"""Dense (per-patch) linear probe on Fashion-MNIST scenes, reported as mIoU.

Train scenes are built from the train split and test scenes from the test
split by :mod:`projects.study_bench.scenes.generate` (seeded, 11 classes:
background + 10 garments), rendered at ``canvas`` pixels (default
``2 x img_size``, items ``5/8`` to ``5/4`` of ``img_size`` on a side), so
items appear at about the scale the backbone saw in pretraining. The
canvas is fed at its own size: mmpretrain's ViTs resize the position
embedding (bicubic) to the larger patch grid.

The frozen backbone's patch map (:func:`mmsiameseim.evaluation.
backbone_tokens`) is layer-normalised (no affine) and cached; a head of
non-affine BatchNorm and a 1x1 conv (:class:`DenseProbeHead`) is trained
with per-pixel cross-entropy on logits upsampled bilinearly to the canvas
(AdamW, one-epoch linear warm-up then cosine to 0 by mmengine's parameter
schedulers). mIoU over the test scenes (dataset-level areas of mmseg's
``IoUMetric``; mean over the classes present in the ground truth or the
prediction) is reported (``docs/dense_probe.md``).
"""
import sys
import time
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.utils import ProgressBar
from torch import Tensor

from mmsiameseim.evaluation import backbone_tokens
from ..cli import append_jsonl
from ..scenes.files import write_scenes
from ..scenes.generate import (DEFAULT_SEEDS, NUM_SCENE_CLASSES,
                               make_split_scenes)
from .common import ProbeRun, base_record, resolve_device, run_encoder
from .frozen_encoder import Device, FrozenEncoder

#: Train and test scenes when the run does not say.
DEFAULT_SCENES = (2000, 1000)


class DenseProbeHead(nn.Module):
    """Per-patch linear classifier: non-affine BN over channels, 1x1 conv.

    Patch features are expected already layer-normalised without affine
    parameters (what :func:`patch_features` caches), mirroring the linear
    probe's head.

    Args:
        in_channels (int): Feature channels.
        num_classes (int): Number of classes.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(in_channels, affine=False, eps=1e-6)
        self.cls = nn.Conv2d(in_channels, num_classes, 1)
        nn.init.trunc_normal_(self.cls.weight, std=0.01)
        nn.init.zeros_(self.cls.bias)

    def forward(self, feats: Tensor, out_size: Sequence[int]) -> Tensor:
        """Pixel logits ``(B, K, H, W)`` of patch features ``(B, h, w, C)``.
        """
        x = feats.float().permute(0, 3, 1, 2)
        logits = self.cls(self.bn(x))
        return F.interpolate(
            logits, size=tuple(out_size), mode='bilinear',
            align_corners=False)


@torch.no_grad()
def patch_features(encoder: FrozenEncoder,
                   images: np.ndarray,
                   batch_size: int = 128,
                   dtype: torch.dtype = torch.float16) -> Tensor:
    """The probe's cache: layer-normalised patch maps of gray scenes.

    Args:
        encoder (FrozenEncoder): The frozen encoder.
        images (np.ndarray): ``(N, H, W)`` uint8 (replicated to 3 channels).
        batch_size (int): Images per forward. Defaults to 128.
        dtype (torch.dtype): Storage dtype of the cache (CPU).
            Defaults to float16 (the features are layer-normalised first).

    Returns:
        Tensor: ``(N, h, w, C)`` on CPU.
    """
    print(f'encoding {len(images)} scenes', file=sys.stderr)
    bar, feats = ProgressBar(len(images), file=sys.stderr), []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(
            images[start:start + batch_size]))[:, None].expand(-1, 3, -1, -1)
        _, patches = backbone_tokens(encoder.backbone,
                                     encoder.preprocess(batch))
        patches = F.layer_norm(patches.float(), patches.shape[-1:], eps=1e-6)
        feats.append(patches.to('cpu', dtype))
        bar.update(len(patches))
    sys.stderr.write('\n')
    return torch.cat(feats)


def warmup_cosine_schedulers(optimizer, warmup: int, total: int) -> list:
    """mmengine's schedulers for a linear warm-up from 0 over ``warmup``
    steps (the peak reached at step ``warmup``), then cosine to 0 at
    ``total``."""
    from mmengine.optim import CosineAnnealingLR, LinearLR

    # mmengine's chainable LinearLR cannot start at exactly 0 (its next
    # step divides by the start); 1e-12 of the peak is below fp32's step
    schedulers = [LinearLR(optimizer, start_factor=1e-12, begin=0,
                           end=warmup + 1)]
    if warmup < total:
        schedulers.append(CosineAnnealingLR(
            optimizer, T_max=total - warmup, begin=warmup, end=total,
            eta_min=0.))
    return schedulers


def train_dense_probe(train_feats: Tensor,
                      train_masks: Union[Tensor, np.ndarray],
                      num_classes: int,
                      epochs: int = 20,
                      batch_size: int = 64,
                      lr: float = 1e-2,
                      weight_decay: float = 0.,
                      seed: int = 0,
                      device: Device = 'cpu') -> DenseProbeHead:
    """Train :class:`DenseProbeHead` with per-pixel cross-entropy.

    AdamW, per-iteration cosine decay to 0 after a one-epoch linear
    warm-up; logits are upsampled bilinearly to the mask size before the
    loss. Every epoch draws a permutation from a seeded generator (one
    ``randperm`` an epoch; torch's ``RandomSampler`` draws two) and skips
    a trailing batch of one scene (torch's ``BatchSampler`` can only drop
    every incomplete batch).

    Args:
        train_feats (Tensor): ``(N, h, w, C)`` cached patch features.
        train_masks (Tensor | np.ndarray): ``(N, H, W)`` pixel labels.
        num_classes (int): Number of classes.
        epochs (int): Defaults to 20.
        batch_size (int): Defaults to 64.
        lr (float): Peak learning rate. Defaults to 1e-2.
        weight_decay (float): Defaults to 0.
        seed (int): Seed of the init and the shuffling. Defaults to 0.
        device (str | torch.device): Defaults to ``'cpu'``.

    Returns:
        DenseProbeHead: The trained head, in eval mode.
    """
    masks = torch.as_tensor(np.asarray(train_masks)).long()
    n = len(masks)
    if n != len(train_feats) or n < 2:
        raise ValueError('need >= 2 scenes and one mask per feature map')
    torch.manual_seed(seed)
    head = DenseProbeHead(train_feats.shape[-1], num_classes).to(device)
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    steps_per_epoch = n // batch_size + int(n % batch_size > 1)
    total = max(1, epochs * steps_per_epoch)
    schedulers = warmup_cosine_schedulers(optimizer,
                                          min(steps_per_epoch, total), total)
    head.train()
    print(f'training the probe head: {epochs} epochs', file=sys.stderr)
    bar = ProgressBar(epochs, file=sys.stderr)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = perm[start:start + batch_size]
            if len(idx) < 2:  # BatchNorm cannot normalise one scene
                continue
            feats = train_feats[idx].to(device)
            target = masks[idx].to(device)
            loss = F.cross_entropy(head(feats, target.shape[-2:]), target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for scheduler in schedulers:
                scheduler.step()
        bar.update()
    sys.stderr.write('\n')
    return head.eval()


@torch.no_grad()
def predict_dense_labels(head: DenseProbeHead,
                         feats: Tensor,
                         out_size: Sequence[int],
                         batch_size: int = 256) -> Tensor:
    """Pixel predictions ``(N, H, W)`` (int64, CPU) of patch features."""
    device = next(head.parameters()).device
    head.eval()
    preds = []
    for start in range(0, len(feats), batch_size):
        logits = head(feats[start:start + batch_size].to(device), out_size)
        preds.append(logits.argmax(dim=1).cpu())
    return torch.cat(preds)


def dataset_iou(pred: Tensor, target: Tensor,
                num_classes: int) -> Dict[str, object]:
    """mIoU, per-class IoU and pixel accuracy over a set of label maps.

    The areas are mmseg's (``IoUMetric.intersect_and_union`` per map,
    summed, ``IoUMetric.total_area_to_metrics``); mmseg's
    ``compute_metrics`` rounds to two decimals, so the mean over the
    classes present (a non-empty union) is taken here.

    Args:
        pred (Tensor): ``(N, H, W)`` predicted labels.
        target (Tensor): ``(N, H, W)`` ground-truth labels.
        num_classes (int): Number of classes.

    Returns:
        dict: ``miou``, ``aacc`` (percent), ``iou`` (percent per class,
        None where absent) and ``num_classes_present``.
    """
    from mmseg.evaluation import IoUMetric
    areas = [IoUMetric.intersect_and_union(p, t, num_classes, 255)
             for p, t in zip(pred, target)]
    totals = [sum(a[i] for a in areas).double() for i in range(4)]
    metrics = IoUMetric.total_area_to_metrics(*totals, metrics=['mIoU'])
    iou = torch.from_numpy(metrics['IoU'])
    present = ~iou.isnan()
    if not present.any():
        raise ValueError('no class in the ground truth or the predictions')
    return dict(
        miou=iou[present].mean().item() * 100.,
        aacc=float(metrics['aAcc']) * 100.,
        iou=[None if v != v else v * 100. for v in iou.tolist()],
        num_classes_present=int(present.sum()))


def scene_params(img_size: int, canvas: Optional[int] = None,
                 item_size: Optional[Sequence[int]] = None) -> dict:
    """Scene generator parameters derived from the backbone's input size.

    Args:
        img_size (int): Input size the backbone was pretrained at.
        canvas (int, optional): Canvas side; None gives ``2 * img_size``.
        item_size (Sequence[int], optional): ``(min, max)`` item sides;
            None gives ``round(5/8 * img_size), round(5/4 * img_size)``.

    Returns:
        dict: Keyword arguments of ``generate_scenes``.
    """
    if item_size is None:
        item_size = (round(img_size * 5 / 8), round(img_size * 5 / 4))
    return dict(
        canvas=canvas or 2 * img_size,
        min_items=2,
        max_items=4,
        min_size=int(item_size[0]),
        max_size=int(item_size[1]),
        threshold=32)


def dense_probe(config: str,
                checkpoint: str,
                canvas: Optional[int] = None,
                item_size: Optional[Sequence[int]] = None,
                epochs: int = 20,
                lr: float = 1e-2,
                probe_batch_size: int = 64,
                dump_scenes: Optional[str] = None,
                num_dump: int = 32,
                **inputs) -> dict:
    """Run the dense probe; print, append (``out``) and return its record.

    Args:
        config (str): The pretraining config.
        checkpoint (str): Its checkpoint, or ``'none'``.
        canvas (int, optional): Scene side (default ``2 x img_size``).
        item_size (Sequence[int], optional): Item side range (default
            5/8 and 5/4 of ``img_size``).
        epochs (int): Probe epochs. Defaults to 20.
        lr (float): Peak AdamW learning rate. Defaults to 1e-2.
        probe_batch_size (int): Scenes per step. Defaults to 64.
        dump_scenes (str, optional): Also write the first ``num_dump``
            test scenes there (PNGs + json).
        num_dump (int): Defaults to 32.
        **inputs: The other fields of :class:`~.common.ProbeRun`; sizes
            count scenes (default :data:`DEFAULT_SCENES`).

    Returns:
        dict: ``metric='miou'``, ``value`` and the run's facts.
    """
    run = ProbeRun(config, checkpoint, **inputs)
    sizes = [size or default
             for size, default in zip((run.train_size, run.test_size),
                                      DEFAULT_SCENES)]
    start = time.time()
    device = resolve_device(run.device)
    encoder, info, img_size = run_encoder(run, device)
    params = scene_params(img_size, canvas, item_size)
    train_imgs, train_masks, _ = make_split_scenes(
        run.data_root, 'train', sizes[0], DEFAULT_SEEDS['train'], **params)
    test_imgs, test_masks, test_meta = make_split_scenes(
        run.data_root, 'test', sizes[1], DEFAULT_SEEDS['test'], **params)
    if dump_scenes:
        num = min(num_dump, len(test_imgs))
        write_scenes(dump_scenes, test_imgs[:num], test_masks[:num],
                     test_meta[:num],
                     dict(split='test', seed=DEFAULT_SEEDS['test'], **params))
    train_feats = patch_features(encoder, train_imgs, run.batch_size)
    test_feats = patch_features(encoder, test_imgs, run.batch_size)
    feat_seconds = time.time() - start
    head = train_dense_probe(
        train_feats, train_masks, NUM_SCENE_CLASSES, epochs=epochs,
        batch_size=probe_batch_size, lr=lr, seed=run.seed, device=device)
    pred = predict_dense_labels(head, test_feats, train_masks.shape[-2:])
    result = dataset_iou(pred, torch.from_numpy(test_masks).long(),
                         NUM_SCENE_CLASSES)
    record = base_record(
        'dense_probe', run, info, metric='miou', value=result['miou'],
        aacc=result['aacc'], iou=result['iou'],
        num_classes=NUM_SCENE_CLASSES,
        num_classes_present=result['num_classes_present'],
        train_size=len(train_imgs), test_size=len(test_imgs),
        img_size=img_size, patch_grid=list(train_feats.shape[1:3]),
        feat_dim=train_feats.shape[-1], scene_seeds=dict(DEFAULT_SEEDS),
        **params, epochs=epochs, probe_lr=lr,
        probe_batch_size=probe_batch_size, seed=run.seed, device=device,
        feature_seconds=round(feat_seconds, 2),
        seconds=round(time.time() - start, 2))
    append_jsonl(run.out, record)
    return record
