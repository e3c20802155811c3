"""Dense (per-patch) linear probe on frozen patch maps.

A non-affine BatchNorm and a 1x1 conv classify every patch; the logits are
upsampled bilinearly to pixels. Used by ``tools/benchmarks/dense_probe.py``
on the Fashion-MNIST scenes (``docs/dense_probe.md``).
"""
from typing import Sequence, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .feature_batches import num_batches, shuffled_batches, warmup_cosine
from .frozen_encoder import Device, FrozenEncoder


class DenseProbeHead(nn.Module):
    """Per-patch linear classifier: non-affine BN over channels, 1x1 conv.

    Patch features are expected already layer-normalised without affine
    parameters (what :func:`extract_patch_features` caches), mirroring the
    linear probe's head.

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
def extract_patch_features(encoder: FrozenEncoder,
                           images: np.ndarray,
                           batch_size: int = 128,
                           dtype: torch.dtype = torch.float16) -> Tensor:
    """Layer-normalised patch maps of gray uint8 images.

    Args:
        encoder (FrozenEncoder): The frozen encoder.
        images (np.ndarray): ``(N, H, W)`` uint8 (replicated to 3 channels)
            or ``(N, H, W, 3)``.
        batch_size (int): Images per forward. Defaults to 128.
        dtype (torch.dtype): Storage dtype of the cache (CPU).
            Defaults to float16 (the features are layer-normalised first).

    Returns:
        Tensor: ``(N, h, w, C)`` on CPU.
    """
    feats = []
    for start in range(0, len(images), batch_size):
        batch = torch.from_numpy(np.ascontiguousarray(
            images[start:start + batch_size]))
        if batch.dim() == 3:
            batch = batch[:, None].expand(-1, 3, -1, -1)
        else:
            batch = batch.permute(0, 3, 1, 2)
        _, patches = encoder.tokens(encoder.preprocess(batch))
        patches = F.layer_norm(patches.float(), patches.shape[-1:], eps=1e-6)
        feats.append(patches.to('cpu', dtype))
    return torch.cat(feats)


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
    loss.

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
    if len(masks) != len(train_feats) or len(masks) < 2:
        raise ValueError('need >= 2 scenes and one mask per feature map')
    torch.manual_seed(seed)
    head = DenseProbeHead(train_feats.shape[-1], num_classes).to(device)
    optimizer = torch.optim.AdamW(
        head.parameters(), lr=lr, weight_decay=weight_decay)
    steps_per_epoch = num_batches(len(masks), batch_size)
    total = max(1, epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    head.train()
    for _ in range(epochs):
        for idx in shuffled_batches(len(masks), batch_size, generator):
            for group in optimizer.param_groups:
                group['lr'] = warmup_cosine(step, total,
                                            min(steps_per_epoch, total), lr)
            feats = train_feats[idx].to(device)
            target = masks[idx].to(device)
            logits = head(feats, target.shape[-2:])
            loss = F.cross_entropy(logits, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step += 1
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
