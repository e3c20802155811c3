"""UniGrad loss on dense (per-token) predictions, as used by SiameseIM."""
from typing import Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.registry import MODELS

_NORMS = ('ln', 'l2', 'none')


def _normalise(x: torch.Tensor, kind: str, eps: float) -> torch.Tensor:
    if kind == 'ln':
        return F.layer_norm(x, x.shape[-1:], eps=eps)
    if kind == 'l2':
        return F.normalize(x, dim=-1)
    return x


def global_second_moment(y: torch.Tensor) -> torch.Tensor:
    """Uncentred second moment ``C = mean_n y_n y_n^T`` over all ranks.

    Args:
        y (Tensor): ``(M, D)`` fp32 targets (no gradient needed).

    Returns:
        Tensor: ``(D, D)``; under ``torch.distributed`` the sum of every
        rank's ``Y^T Y`` divided by the total token count, so that it equals
        the single-process value on the concatenated batch.
    """
    moment = y.t() @ y
    count = y.new_full((1, ), float(y.shape[0]))  # no host sync
    if dist.is_available() and dist.is_initialized() \
            and dist.get_world_size() > 1:
        dist.all_reduce(moment)
        dist.all_reduce(count)
    return moment / count


@MODELS.register_module()
class UniGradDenseLoss(nn.Module):
    r"""SiameseIM's UniGrad loss on dense predictions.

    .. math::
        L = \frac{1}{D}\Big(\frac{1}{N}\sum_n \|p_n - \hat y_n\|^2
            + \lambda \frac{1}{N}\sum_n p_n^\top C p_n\Big),\quad
        C = \frac{1}{N_{all}}\sum_{m} \hat y_m \hat y_m^\top

    where :math:`\hat y` is the normalised target and :math:`C` is taken over
    all tokens of the global batch (all-reduced under DDP). The quadratic
    form is evaluated row-wise, ``sum((P @ C) * P)``, never as the diagonal
    of an ``N x N`` matrix (docs/method.md §4). Everything runs in fp32 with
    autocast off; gradients flow only into ``pred``.

    Args:
        lambda_neg (float): Weight of the negative (decorrelation) term;
            0 gives the plain L2 loss of ablation row (j). Defaults to 0.02.
        target_norm (str): ``'ln'`` (non-affine LayerNorm, SiameseIM's
            "MAE-like" choice), ``'l2'`` ("MoCo-like") or ``'none'``.
            Defaults to ``'ln'``.
        pred_norm (str): The same choices for the predictions. Defaults to
            ``'none'``.
        eps (float): LayerNorm epsilon. Defaults to 1e-5.
        loss_weight (float): Multiplier of the loss. Defaults to 1.
    """

    def __init__(self,
                 lambda_neg: float = 0.02,
                 target_norm: str = 'ln',
                 pred_norm: str = 'none',
                 eps: float = 1e-5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        for name, value in (('target_norm', target_norm), ('pred_norm',
                                                           pred_norm)):
            if value not in _NORMS:
                raise ValueError(f'UniGradDenseLoss: {name} must be one of '
                                 f'{_NORMS}, got {value!r}')
        if lambda_neg < 0:
            raise ValueError(f'UniGradDenseLoss: lambda_neg must be >= 0, '
                             f'got {lambda_neg}')
        self.lambda_neg = lambda_neg
        self.target_norm = target_norm
        self.pred_norm = pred_norm
        self.eps = eps
        self.loss_weight = loss_weight

    def normalise(self, pred: torch.Tensor, target: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predictions and targets as the loss compares them.

        ``pred_norm`` / ``target_norm`` over the last dimension, in fp32
        with autocast off; the target is detached.

        Args:
            pred (Tensor): Predictions ``(..., D)``.
            target (Tensor): Targets ``(..., D)``.

        Returns:
            tuple[Tensor, Tensor]: The normalised ``(pred, target)``.
        """
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return (_normalise(pred.float(), self.pred_norm, self.eps),
                    _normalise(target.detach().float(), self.target_norm,
                               self.eps))

    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Predictions ``(B, N, D)`` or ``(B, D)``.
            target (Tensor): Targets of the same shape (detached here).

        Returns:
            Tensor: Scalar loss.
        """
        if pred.shape != target.shape:
            raise ValueError(f'UniGradDenseLoss: pred {tuple(pred.shape)} and '
                             f'target {tuple(target.shape)} differ in shape')
        dims = pred.shape[-1]
        with torch.autocast(device_type=pred.device.type, enabled=False):
            p, y = self.normalise(pred, target)
            p = p.reshape(-1, dims)
            y = y.reshape(-1, dims)
            loss = (p - y).pow(2).sum(-1).mean()
            if self.lambda_neg > 0:
                moment = global_second_moment(y)
                neg = ((p @ moment) * p).sum(-1).mean()
                loss = loss + self.lambda_neg * neg
        return loss * (self.loss_weight / dims)
