"""Linear probe on cached features, with mmpretrain's LARS.

The head is the one of the linear-probing configs
(``configs/siameseim/benchmarks/*-linear-*``; the paper's recipe, after
MAE): average-pooled features, a parameter-free LayerNorm, a non-affine
BatchNorm and a Linear layer. The optimiser is mmpretrain's
:class:`~mmpretrain.engine.optimizers.LARS`; the original linear probe's
rule (no trust ratio and no weight decay for parameters with at most one
dimension) is expressed with its ``lars_exclude`` parameter groups
(:func:`lars_param_groups`). See ``docs/evaluation.md`` for how this LARS
compares with the original step.
"""
from typing import Dict, List, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .feature_batches import num_batches, shuffled_batches, warmup_cosine
from .frozen_encoder import Device


class LinearProbeHead(nn.Module):
    """Parameter-free LN, non-affine BatchNorm, then Linear.

    The same computation as the linear-probing configs' frozen ``ln2``
    (γ = 1, β = 0, eps 1e-6), mmpretrain's ``ClsBatchNormNeck`` and
    ``LinearClsHead`` (trunc-normal std 0.01).

    Args:
        in_channels (int): Feature channels.
        num_classes (int): Number of classes.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(
            in_channels, eps=1e-6, elementwise_affine=False)
        self.bn = nn.BatchNorm1d(in_channels, affine=False, eps=1e-6)
        self.fc = nn.Linear(in_channels, num_classes)
        nn.init.trunc_normal_(self.fc.weight, std=0.01)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``(B, num_classes)`` of features ``(B, C)``."""
        return self.fc(self.bn(self.norm(x)))


def lars_param_groups(module: nn.Module) -> List[dict]:
    """Parameter groups for mmpretrain's LARS with the linear probe's rule.

    Tensors with more than one dimension get the trust ratio; the others
    (biases, norm parameters) are excluded from it (``lars_exclude=True``)
    and from weight decay, as in the original linear probe (MAE's LARS).

    Args:
        module (nn.Module): The trained module (frozen parameters skipped).

    Returns:
        list[dict]: Up to two groups (empty ones left out).
    """
    params = [p for p in module.parameters() if p.requires_grad]
    groups = [
        dict(params=[p for p in params if p.ndim > 1]),
        dict(
            params=[p for p in params if p.ndim <= 1],
            lars_exclude=True,
            weight_decay=0.),
    ]
    return [g for g in groups if g['params']]


def build_lars(module: nn.Module,
               lr: float,
               weight_decay: float = 0.,
               momentum: float = 0.9,
               trust_coefficient: float = 0.001) -> torch.optim.Optimizer:
    """mmpretrain's LARS over :func:`lars_param_groups`.

    Args:
        module (nn.Module): The trained module.
        lr (float): Learning rate.
        weight_decay (float): Weight decay of the >1-D tensors.
            Defaults to 0.
        momentum (float): Defaults to 0.9.
        trust_coefficient (float): LARS ``eta``. Defaults to 0.001.

    Returns:
        torch.optim.Optimizer: The optimiser.
    """
    from mmpretrain.engine.optimizers import LARS
    return LARS(
        lars_param_groups(module),
        lr=lr,
        momentum=momentum,
        weight_decay=weight_decay,
        eta=trust_coefficient)


def train_linear_probe(train_feats: Tensor,
                       train_labels: Tensor,
                       test_feats: Tensor,
                       test_labels: Tensor,
                       num_classes: Optional[int] = None,
                       epochs: int = 90,
                       batch_size: int = 256,
                       lr: float = 6.4,
                       warmup_epochs: int = 10,
                       weight_decay: float = 0.,
                       seed: int = 0,
                       device: Device = 'cpu') -> Dict[str, float]:
    """Train :class:`LinearProbeHead` on cached features with LARS.

    The SiameseIM / MAE recipe scaled down: LARS (momentum 0.9, trust
    0.001, no trust ratio or decay on 1-D tensors) at the recipe's learning
    rate 6.4, per-iteration linear warm-up then cosine to 0, cross-entropy,
    no augmentation (features are computed once). BN statistics are the
    running ones at test time.

    The learning rate is *not* rescaled with the batch: LARS scales every
    weight update to ``lr * trust * ||w||`` whatever the gradient size, so
    the per-step change is the recipe's (``6.4e-3 * ||w||``) and the small
    batch only adds steps (90 epochs of 60k images at batch 256 are 21k
    steps, the recipe's ImageNet run 7k). The linear scaling rule
    (``0.1 * 256 / 256``) would give 64x smaller steps here and leave the
    probe far from convergence.

    Args:
        train_feats (Tensor): ``(N, C)`` features.
        train_labels (Tensor): ``(N, )`` labels.
        test_feats (Tensor): ``(M, C)`` features.
        test_labels (Tensor): ``(M, )`` labels.
        num_classes (int, optional): Defaults to one more than the largest
            label.
        epochs (int): Defaults to 90.
        batch_size (int): Defaults to 256.
        lr (float): Peak learning rate. Defaults to 6.4.
        warmup_epochs (int): Defaults to 10 (clamped to ``epochs``).
        weight_decay (float): Defaults to 0.
        seed (int): Seed of the head init and of the shuffling.
        device (str | torch.device): Defaults to ``'cpu'``.

    Returns:
        dict: ``top1``, ``top5`` (percent, test), ``train_top1`` (percent,
        eval mode) and ``steps``.
    """
    if len(train_feats) < 2:
        raise ValueError('the linear probe needs at least 2 training rows')
    if num_classes is None:
        num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    torch.manual_seed(seed)
    head = LinearProbeHead(train_feats.shape[1], num_classes).to(device)
    optimizer = build_lars(head, lr=lr, weight_decay=weight_decay)
    x_train = train_feats.float().to(device)
    y_train = train_labels.long().to(device)
    steps_per_epoch = num_batches(len(x_train), batch_size)
    total = max(1, epochs * steps_per_epoch)
    warmup = min(warmup_epochs, epochs) * steps_per_epoch
    generator = torch.Generator().manual_seed(seed)
    step = 0
    head.train()
    for _ in range(epochs):
        for idx in shuffled_batches(len(x_train), batch_size, generator):
            for group in optimizer.param_groups:
                group['lr'] = warmup_cosine(step, total, warmup, lr)
            idx = idx.to(device)
            loss = F.cross_entropy(head(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
    head.eval()
    with torch.no_grad():
        test_logits = head(test_feats.float().to(device))
        train_pred = head(x_train).argmax(dim=1)
    target = test_labels.long().to(device)
    top5 = test_logits.topk(min(5, num_classes), dim=1).indices
    hits = top5 == target[:, None]
    return dict(
        top1=hits[:, 0].float().mean().item() * 100.,
        top5=hits.any(dim=1).float().mean().item() * 100.,
        train_top1=(train_pred == y_train).float().mean().item() * 100.,
        steps=step)
