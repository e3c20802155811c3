"""Batch normalisation over (batch x tokens) for transformer heads."""
from typing import Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmpretrain.registry import MODELS
from torch.distributed.nn.functional import all_reduce as autograd_all_reduce


@MODELS.register_module(name='TokenBN')
class TokenBatchNorm(nn.Module):
    """BatchNorm over batch x tokens of ``(B, N, C)`` inputs, in fp32, with
    global-batch statistics (docs/design.md); not a ``_BatchNorm`` (so
    ``convert_sync_batchnorm`` skips it), ``nn.BatchNorm1d``'s tensor names.

    Args:
        num_features (int): Number of channels ``C``.
        eps (float): Added to the variance. Defaults to 1e-5.
        momentum (float): Running-statistics momentum. Defaults to 0.1.
        affine (bool): Learn a per-channel scale and shift. Defaults to True.
        sync (bool): Reduce statistics across processes. Defaults to True.
    """

    def __init__(self,
                 num_features: int,
                 eps: float = 1e-5,
                 momentum: float = 0.1,
                 affine: bool = True,
                 sync: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.sync = sync
        if affine:
            self.weight = nn.Parameter(torch.ones(num_features))
            self.bias = nn.Parameter(torch.zeros(num_features))
        else:
            self.register_parameter('weight', None)
            self.register_parameter('bias', None)
        self.register_buffer('running_mean', torch.zeros(num_features))
        self.register_buffer('running_var', torch.ones(num_features))
        self.register_buffer('num_batches_tracked',
                             torch.tensor(0, dtype=torch.long))

    def extra_repr(self) -> str:
        return (f'{self.num_features}, eps={self.eps}, '
                f'momentum={self.momentum}, affine={self.affine}, '
                f'sync={self.sync}')

    def _global_stats(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """Mean, biased variance and count over all ranks (differentiable)."""
        count = x.new_full((1, ), x.shape[0])
        local = torch.cat([x.sum(0), (x * x).sum(0), count])
        total = autograd_all_reduce(local)
        c = self.num_features
        n = total[2 * c]
        mean = total[:c] / n
        var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
        return mean, var, n

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` of shape ``(B, N, C)`` (or ``(M, C)``)."""
        if x.shape[-1] != self.num_features:
            raise ValueError(f'TokenBN expects {self.num_features} channels '
                             f'in the last dim, got shape {tuple(x.shape)}')
        shape, dtype = x.shape, x.dtype
        with torch.autocast(device_type=x.device.type, enabled=False):
            flat = x.reshape(-1, self.num_features).float()
            if self.training and self.sync and get_world_size() > 1:
                out = self._sync_forward(flat)
            else:
                if self.training:
                    self.num_batches_tracked.add_(1)
                out = F.batch_norm(flat, self.running_mean, self.running_var,
                                   self.weight, self.bias, self.training,
                                   self.momentum, self.eps)
        return out.reshape(shape).to(dtype)

    def _sync_forward(self, flat: torch.Tensor) -> torch.Tensor:
        mean, var, n = self._global_stats(flat)
        with torch.no_grad():
            unbiased = var * (n / (n - 1).clamp_min(1))
            self.running_mean.lerp_(mean.detach(), self.momentum)
            self.running_var.lerp_(unbiased.detach(), self.momentum)
            self.num_batches_tracked.add_(1)
        out = (flat - mean) * torch.rsqrt(var + self.eps)
        if self.affine:
            out = out * self.weight + self.bias
        return out
