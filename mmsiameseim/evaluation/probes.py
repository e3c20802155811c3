"""Offline probes of frozen self-supervised encoders.

Shared by ``tools/benchmarks/{knn_eval,linear_probe,dense_probe}.py``:

- :func:`build_frozen_encoder` builds ``model.backbone`` and the data
  preprocessor of any mmpretrain self-supervised *pretraining* config
  (SiameseIM, MAE, MoCo v3, ...) and loads a checkpoint's backbone weights;
- :class:`FrozenEncoder` turns images into a cls token and a ``(B, h, w,
  C)`` patch map, whatever the backbone's ``out_type`` (MAE's backbone is
  called with ``mask=None`` so nothing is masked);
- :func:`train_linear_probe`: the SiameseIM / MAE linear-probe head
  (parameter-free LN, non-affine BN, Linear) trained with LARS on cached
  features;
- :func:`train_dense_probe` / :func:`predict_dense`: a per-patch linear
  classifier whose logits are upsampled bilinearly to pixels;
- :func:`confusion_matrix` / :func:`miou_from_confusion`: dataset-level
  mIoU.
"""
import copy
import json
import math
import os
import os.path as osp
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .backbone_tokens import backbone_tokens

POOLS = ('avg', 'cls')
Device = Union[str, torch.device]


# --------------------------------------------------------------------------
# Encoder
# --------------------------------------------------------------------------
class FrozenEncoder(nn.Module):
    """A frozen backbone plus its data preprocessor.

    Args:
        backbone (nn.Module): The backbone. mmpretrain
            :class:`VisionTransformer` subclasses (``SiameseIMViT``,
            ``MAEViT``, ``MoCoV3ViT``, ...) give a cls token and a patch
            map; backbones returning ``(B, C, H, W)`` maps (CNNs) give a
            patch map only.
        data_preprocessor (nn.Module, optional): Normalises a uint8 batch
            (mmpretrain's ``SelfSupDataPreprocessor`` and friends). None
            only casts to float.
        pool (str): Pooling of :meth:`forward`, ``'avg'`` (mean of the patch
            tokens, cls excluded) or ``'cls'``. Defaults to ``'avg'``.
    """

    def __init__(self,
                 backbone: nn.Module,
                 data_preprocessor: Optional[nn.Module] = None,
                 pool: str = 'avg') -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f'pool must be one of {POOLS}, got {pool!r}')
        self.backbone = backbone
        self.data_preprocessor = data_preprocessor
        self.pool = pool
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> 'FrozenEncoder':
        """Stay in eval mode: the encoder is frozen."""
        return super().train(False)

    @property
    def device(self) -> torch.device:
        """Device of the first parameter (CPU without parameters)."""
        for p in self.parameters():
            return p.device
        return torch.device('cpu')

    @torch.no_grad()
    def preprocess(self, images: Tensor) -> Tensor:
        """Normalise ``(B, 3, H, W)`` images (uint8 or float, 0-255).

        Args:
            images (Tensor): Raw images in channel order of the dataset.

        Returns:
            Tensor: float32 ``(B, 3, H, W)`` on the encoder's device.
        """
        images = images.to(self.device)
        if self.data_preprocessor is None:
            return images.float()
        data = self.data_preprocessor(
            dict(inputs=images, data_samples=None), False)
        inputs = data['inputs']
        if isinstance(inputs, (list, tuple)):
            inputs = inputs[0]
        return inputs.float()

    @torch.no_grad()
    def tokens(self, x: Tensor) -> Tuple[Optional[Tensor], Tensor]:
        """Cls token and patch map of preprocessed images.

        Args:
            x (Tensor): ``(B, 3, H, W)`` preprocessed images. Sizes other
                than the backbone's ``img_size`` work for ViTs, whose
                position embedding mmpretrain resizes (bicubic) on the fly.

        Returns:
            tuple: ``cls`` ``(B, C)`` (None without a cls token) and
            ``patches`` ``(B, h, w, C)``.
        """
        return backbone_tokens(self.backbone, x)

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """Pooled ``(B, C)`` features of preprocessed images."""
        cls, patches = self.tokens(x)
        if self.pool == 'cls':
            if cls is None:
                raise ValueError(f'{type(self.backbone).__name__} has no cls '
                                 "token: use pool='avg'")
            return cls
        return patches.mean(dim=(1, 2))


def _quiet_init_weights(module: nn.Module) -> None:
    """``module.init_weights()`` without mmengine's per-parameter log."""
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        module.init_weights()
    finally:
        logger.setLevel(level)


def load_backbone_state(path: str,
                        trusted: bool = False) -> Dict[str, Tensor]:
    """The backbone weights of a checkpoint, without the ``backbone.`` prefix.

    Read through the package's checkpoint service
    (:func:`mmsiameseim.utils.read_checkpoint`: full pickle only for files
    the user's own run wrote or that ``trusted`` vouches for). Checkpoints of
    ours, of the official release and of mmpretrain models give their online
    encoder; any other state dict (a bare backbone, an unknown layout) is
    returned as it is, for the caller's strict key check.

    Args:
        path (str): Checkpoint path.
        trusted (bool): Read with full pickle. Defaults to False.

    Returns:
        dict: Backbone state dict.
    """
    from ..utils import read_checkpoint, unwrap_state_dict
    from ..utils.checkpoint import backbone_state_dict
    ckpt = read_checkpoint(path, trusted=trusted)
    try:
        state = unwrap_state_dict(ckpt)
    except TypeError as e:
        raise ValueError(f'{path} holds no state dict') from e
    try:
        return dict(backbone_state_dict(state))
    except ValueError:
        return dict(state)


def build_frozen_encoder(config: str,
                         checkpoint: Optional[str] = None,
                         device: Device = 'cpu',
                         pool: str = 'avg',
                         seed: int = 0,
                         trusted: bool = False
                         ) -> Tuple[FrozenEncoder, Dict[str, object]]:
    """Build the frozen backbone of a pretraining config.

    Only ``model.backbone`` and the data preprocessor
    (``model.data_preprocessor`` or the top-level ``data_preprocessor``)
    are built, so algorithms with targets that need extra weights still
    work. With ``checkpoint`` None or ``'none'`` the backbone gets its own
    ``init_weights()`` after ``torch.manual_seed(seed)`` (the random-init
    baseline); otherwise every backbone parameter must be found in the
    checkpoint.

    Args:
        config (str): Pretraining config path.
        checkpoint (str, optional): Checkpoint path or ``'none'``.
        device (str | torch.device): Where the encoder runs.
            Defaults to ``'cpu'``.
        pool (str): Pooling of :meth:`FrozenEncoder.forward`.
            Defaults to ``'avg'``.
        seed (int): Seed of the random init. Defaults to 0.
        trusted (bool): See :func:`load_backbone_state`. Defaults to False.

    Returns:
        tuple: The encoder (eval mode, no grads) and a dict of facts
        (``backbone`` type, ``embed_dims``, ``img_size``, ``patch_size``,
        ``checkpoint_loaded``, ``unexpected_keys``).
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS

    import mmsiameseim  # noqa: F401  registers our modules

    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmpretrain'))
    model_cfg = cfg.get('model')
    if model_cfg is None or 'backbone' not in model_cfg:
        raise ValueError(f'{config} has no model.backbone')
    torch.manual_seed(seed)
    backbone = MODELS.build(copy.deepcopy(model_cfg['backbone']))
    dp_cfg = model_cfg.get('data_preprocessor') or cfg.get(
        'data_preprocessor')
    if dp_cfg is None:
        dp_cfg = dict(
            type='SelfSupDataPreprocessor',
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375])
    data_preprocessor = MODELS.build(copy.deepcopy(dp_cfg))
    info: Dict[str, object] = dict(backbone=type(backbone).__name__)
    if checkpoint is None or str(checkpoint).lower() == 'none':
        _quiet_init_weights(backbone)
        info.update(checkpoint_loaded=False, unexpected_keys=0)
    else:
        state = load_backbone_state(checkpoint, trusted=trusted)
        result = backbone.load_state_dict(state, strict=False)
        params = {name for name, _ in backbone.named_parameters()}
        missing = sorted(set(result.missing_keys) & params)
        if missing:
            raise ValueError(
                f'{checkpoint} lacks {len(missing)} backbone parameters of '
                f'{info["backbone"]} (e.g. {missing[:3]}): wrong config or '
                'not an mmpretrain checkpoint')
        info.update(
            checkpoint_loaded=True,
            unexpected_keys=len(result.unexpected_keys))
    if hasattr(backbone, 'with_cp'):
        backbone.with_cp = False  # inference only; keeps pos-embed resizing
    encoder = FrozenEncoder(backbone, data_preprocessor, pool=pool)
    encoder.to(device)
    info['embed_dims'] = getattr(backbone, 'embed_dims', None)
    img_size = getattr(backbone, 'img_size', None)
    info['img_size'] = int(img_size[0]) if isinstance(
        img_size, (tuple, list)) else img_size
    patch = getattr(getattr(backbone, 'patch_embed', None), 'projection',
                    None)
    info['patch_size'] = int(patch.stride[0]) if patch is not None else None
    return encoder, info


# --------------------------------------------------------------------------
# Linear probe
# --------------------------------------------------------------------------
class LARS(torch.optim.Optimizer):
    """Layer-wise adaptive rate scaling (SGD with a trust ratio).

    For every tensor with more than one dimension the update ``g`` (the
    gradient plus ``weight_decay * p``) is rescaled by
    ``trust_coefficient * ||p|| / ||g||`` (1 if either norm is 0); 1-D
    tensors (biases) are neither decayed nor rescaled. Then heavy-ball
    momentum: ``buf = momentum * buf + g``, ``p -= lr * buf``.

    Args:
        params (Iterable): Parameters or parameter groups.
        lr (float): Learning rate.
        weight_decay (float): Weight decay. Defaults to 0.
        momentum (float): Momentum. Defaults to 0.9.
        trust_coefficient (float): Trust coefficient. Defaults to 0.001.
    """

    def __init__(self,
                 params: Iterable,
                 lr: float,
                 weight_decay: float = 0.,
                 momentum: float = 0.9,
                 trust_coefficient: float = 0.001) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                weight_decay=weight_decay,
                momentum=momentum,
                trust_coefficient=trust_coefficient))

    @torch.no_grad()
    def step(self, closure=None):
        """Perform one update."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group['params']:
                if p.grad is None:
                    continue
                update = p.grad
                if p.ndim > 1:
                    update = update.add(p, alpha=group['weight_decay'])
                    p_norm = p.norm()
                    u_norm = update.norm()
                    one = torch.ones_like(p_norm)
                    ratio = torch.where(
                        (p_norm > 0) & (u_norm > 0),
                        group['trust_coefficient'] * p_norm / u_norm, one)
                    update = update * ratio
                state = self.state[p]
                if 'momentum_buffer' not in state:
                    state['momentum_buffer'] = torch.zeros_like(p)
                buf = state['momentum_buffer']
                buf.mul_(group['momentum']).add_(update)
                p.add_(buf, alpha=-group['lr'])
        return loss


class LinearProbeHead(nn.Module):
    """Parameter-free LN, non-affine BatchNorm, then Linear (spec 7.2).

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


def warmup_cosine(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up for ``warmup`` steps, then half-cosine to 0."""
    if warmup > 0 and step < warmup:
        return base * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1. + math.cos(math.pi * min(1., progress)))


def _num_batches(n: int, batch_size: int) -> int:
    """Number of batches :func:`_batches` yields per epoch."""
    full, rest = divmod(n, batch_size)
    return full + int(rest > 1 or (n == 1))


def _batches(n: int, batch_size: int, generator: torch.Generator):
    """Shuffled index batches; a trailing batch of one row is dropped."""
    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        if len(idx) > 1 or n == 1:
            yield idx


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
    0.001, no decay on 1-D tensors) at the recipe's learning rate 6.4,
    per-iteration linear warm-up then cosine to 0, cross-entropy, no
    augmentation (features are computed once). BN statistics are the
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
    optimizer = LARS(
        head.parameters(), lr=lr, weight_decay=weight_decay)
    x_train = train_feats.float().to(device)
    y_train = train_labels.long().to(device)
    steps_per_epoch = _num_batches(len(x_train), batch_size)
    total = max(1, epochs * steps_per_epoch)
    warmup = min(warmup_epochs, epochs) * steps_per_epoch
    generator = torch.Generator().manual_seed(seed)
    step = 0
    head.train()
    for _ in range(epochs):
        for idx in _batches(len(x_train), batch_size, generator):
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


# --------------------------------------------------------------------------
# Dense probe and mIoU
# --------------------------------------------------------------------------
def confusion_matrix(pred: Tensor,
                     target: Tensor,
                     num_classes: int,
                     ignore_index: Optional[int] = 255) -> Tensor:
    """``(K, K)`` int64 counts, rows = ground truth, columns = prediction.

    Args:
        pred (Tensor): Predicted labels, any shape.
        target (Tensor): Ground-truth labels, the same shape.
        num_classes (int): ``K``.
        ignore_index (int, optional): Ground-truth value to skip.
            Defaults to 255.

    Returns:
        Tensor: The confusion matrix.
    """
    if pred.shape != target.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} differ in shape')
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).long()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    for name, t in (('pred', pred), ('target', target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f'{name} labels must lie in [0, {num_classes})')
    flat = target * num_classes + pred
    return torch.bincount(
        flat.cpu(), minlength=num_classes**2).reshape(num_classes,
                                                      num_classes)


def miou_from_confusion(cm: Tensor) -> Dict[str, object]:
    """Dataset-level IoU per class, mIoU and pixel accuracy.

    ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, accumulated over the whole
    dataset. Classes with an empty union (neither in the ground truth nor
    predicted) have IoU NaN (``None`` in the output) and are left out of
    the mean.

    Args:
        cm (Tensor): ``(K, K)`` confusion matrix (rows = ground truth).

    Returns:
        dict: ``miou`` and ``aacc`` (percent), ``iou`` (list of percent or
        None) and ``num_classes_present``.
    """
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    if not present.any():
        raise ValueError('empty confusion matrix')
    iou = torch.where(present, tp / union.clamp(min=1), torch.nan)
    return dict(
        miou=iou[present].mean().item() * 100.,
        aacc=(tp.sum() / cm.sum()).item() * 100.,
        iou=[None if math.isnan(v) else v * 100. for v in iou.tolist()],
        num_classes_present=int(present.sum()))


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
    steps_per_epoch = _num_batches(len(masks), batch_size)
    total = max(1, epochs * steps_per_epoch)
    generator = torch.Generator().manual_seed(seed)
    step = 0
    head.train()
    for _ in range(epochs):
        for idx in _batches(len(masks), batch_size, generator):
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
def predict_dense(head: DenseProbeHead,
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


# --------------------------------------------------------------------------
# Fashion-MNIST features and the command line shared by the tools
# --------------------------------------------------------------------------
class _PooledEncoder(nn.Module):
    """Hides ``.backbone`` so :func:`extract_features` calls the encoder."""

    def __init__(self, encoder: FrozenEncoder) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)


def extract_split_features(encoder: FrozenEncoder,
                           data_root: str,
                           split: str,
                           size: Optional[int],
                           img_size: int,
                           batch_size: int = 256,
                           num_workers: int = 0) -> Tuple[Tensor, Tensor]:
    """Pooled features and labels of the first ``size`` images of a split.

    Images go through ``Resize(img_size, bicubic)`` and ``PackInputs`` (the
    demo's evaluation pipeline), the encoder's data preprocessor, the
    backbone and the encoder's pooling (:func:`extract_features` of
    ``knn.py``).

    Args:
        encoder (FrozenEncoder): The frozen encoder.
        data_root (str): Fashion-MNIST folder.
        split (str): ``'train'`` or ``'test'``.
        size (int, optional): Number of images (the first ones of the
            split). None means all.
        img_size (int): Input side length.
        batch_size (int): Defaults to 256.
        num_workers (int): Dataloader workers. Defaults to 0.

    Returns:
        tuple[Tensor, Tensor]: ``(N, C)`` float32 features and ``(N, )``
        labels on CPU.
    """
    from mmengine.dataset import default_collate
    from torch.utils.data import DataLoader

    from ..datasets import FashionMNISTIDX
    from .knn import extract_features

    pipeline = [
        dict(
            type='Resize',
            scale=(img_size, img_size),
            interpolation='bicubic'),
        dict(type='PackInputs'),
    ]
    dataset = FashionMNISTIDX(
        data_root=data_root,
        split=split,
        indices=size,
        pipeline=pipeline,
        test_mode=True)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=default_collate)
    return extract_features(
        _PooledEncoder(encoder),
        loader,
        pool='avg',
        device=encoder.device,
        data_preprocessor=encoder.data_preprocessor)


def add_common_args(parser, train_help: str = 'images',
                    default_sizes: Tuple[Optional[int],
                                         Optional[int]] = (None, None)):
    """Add the command-line arguments every benchmark tool shares.

    Args:
        parser (argparse.ArgumentParser): The parser.
        train_help (str): What ``--train-size`` counts.
        default_sizes (tuple): Defaults of ``--train-size`` and
            ``--test-size`` (None: the whole split).

    Returns:
        argparse.ArgumentParser: The parser.
    """
    parser.add_argument('config', help='pretraining config')
    parser.add_argument(
        'checkpoint', help="checkpoint, or 'none' for the random init")
    parser.add_argument('--data-root', default='data/fashion-mnist')
    parser.add_argument(
        '--device',
        default=None,
        help='cpu or cuda. Defaults to cuda when available')
    parser.add_argument(
        '--train-size',
        type=int,
        default=default_sizes[0],
        help=f'number of train {train_help} (default: '
        f'{default_sizes[0] or "all"})')
    parser.add_argument(
        '--test-size',
        type=int,
        default=default_sizes[1],
        help=f'number of test {train_help} (default: '
        f'{default_sizes[1] or "all"})')
    parser.add_argument(
        '--img-size',
        type=int,
        default=None,
        help="input size (default: the backbone's img_size)")
    parser.add_argument(
        '--out', default=None, help='append the JSON record to this file')
    parser.add_argument('--pool', choices=POOLS, default='avg')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=256,
        help='images per forward when extracting features')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--trusted-checkpoint',
        action='store_true',
        help='the checkpoint was written by your own run: allow full '
        'pickle (automatic next to an mmengine last_checkpoint file)')
    return parser


def resolve_device(device: Optional[str]) -> str:
    """``device`` or, if None, ``'cuda'`` when available else ``'cpu'``."""
    if device is None:
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        raise RuntimeError('--device cuda requested but CUDA is unavailable')
    return device


def check_sizes(args) -> None:
    """Reject non-positive ``--train-size`` / ``--test-size``."""
    for name in ('train_size', 'test_size', 'img_size'):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f'--{name.replace("_", "-")} must be >= 1')


def base_record(tool: str, args, info: dict, **fields) -> dict:
    """The fields every tool writes, followed by ``fields``."""
    record = dict(
        tool=tool,
        config=args.config,
        checkpoint=args.checkpoint,
        backbone=info.get('backbone'),
        checkpoint_loaded=info.get('checkpoint_loaded'))
    record.update(fields)
    return record


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------
def append_jsonl(path: Optional[str], record: dict) -> str:
    """Print ``record`` as one JSON line and append it to ``path``.

    Args:
        path (str, optional): ``.jsonl`` file (parent folders are created);
            None only prints.
        record (dict): JSON-serialisable record.

    Returns:
        str: The line written (without newline).
    """
    line = json.dumps(record, sort_keys=False)
    if path:
        parent = osp.dirname(osp.abspath(path))
        os.makedirs(parent, exist_ok=True)
        with open(path, 'a') as f:
            f.write(line + '\n')
    print(line, flush=True)
    return line


def encoder_from_args(args, device: str) -> tuple:
    """The frozen encoder the common CLI describes, and its input size.

    Args:
        args (argparse.Namespace): Parsed by :func:`add_common_args`.
        device (str): From :func:`resolve_device`.

    Returns:
        tuple: ``(encoder, info, img_size)``.
    """
    encoder, info = build_frozen_encoder(
        args.config,
        args.checkpoint,
        device=device,
        pool=args.pool,
        seed=args.seed,
        trusted=args.trusted_checkpoint)
    return encoder, info, args.img_size or info['img_size'] or 32


def encode_classification_splits(encoder: FrozenEncoder, args,
                                 img_size: int) -> tuple:
    """Pooled features and labels of the CLI's train and test subsets.

    Returns:
        tuple: ``(train_feats, train_labels, test_feats, test_labels)``.
    """
    common = dict(img_size=img_size, batch_size=args.batch_size)
    train = extract_split_features(encoder, args.data_root, 'train',
                                   args.train_size, **common)
    test = extract_split_features(encoder, args.data_root, 'test',
                                  args.test_size, **common)
    return (*train, *test)
