"""UniGrad loss on dense (per-token) predictions, as used by SiameseIM."""
from typing import Tuple

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from mmengine.dist import get_world_size
from mmpretrain.registry import MODELS

from ...arg_checks import check_choice, check_real

_NORMS = ('ln', 'l2', 'none')


def _normalise(x: torch.Tensor, kind: str, eps: float) -> torch.Tensor:
    if kind == 'ln':
        return F.layer_norm(x, x.shape[-1:], eps=eps)
    if kind == 'l2':
        return F.normalize(x, dim=-1)
    return x


def global_second_moment(y: torch.Tensor) -> torch.Tensor:
    """Uncentred second moment ``C = mean_n y_n y_n^T`` ``(D, D)`` of
    ``(M, D)`` fp32 targets over all ranks (the concatenated batch's)."""
    moment = y.t() @ y
    count = y.new_full((1, ), float(y.shape[0]))  # no host sync
    if get_world_size() > 1:
        dist.all_reduce(moment)
        dist.all_reduce(count)
    return moment / count


@MODELS.register_module()
class UniGradDenseLoss(nn.Module):
    """SiameseIM's UniGrad loss on dense predictions (docs/method.md §4),
    in fp32, gradients only into ``pred``.

    Args:
        lambda_neg (float): Weight of the decorrelation term (0: the plain
            L2 loss of ablation row (j)). Defaults to 0.02.
        target_norm (str): ``'ln'`` (non-affine LayerNorm), ``'l2'`` or
            ``'none'``. Defaults to ``'ln'``.
        pred_norm (str): The same for the predictions. Defaults to ``'none'``.
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
            check_choice(value, f'UniGradDenseLoss: {name}', _NORMS)
        self.lambda_neg = check_real(lambda_neg,
                                     'UniGradDenseLoss: lambda_neg', 0)
        self.target_norm = target_norm
        self.pred_norm = pred_norm
        self.eps = eps
        self.loss_weight = loss_weight

    def normalise(self, pred: torch.Tensor,
                  target: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``(pred, target)`` ``(..., D)`` as the loss compares them (fp32,
        the target detached)."""
        with torch.autocast(device_type=pred.device.type, enabled=False):
            return (_normalise(pred.float(), self.pred_norm, self.eps),
                    _normalise(target.detach().float(), self.target_norm,
                               self.eps))

    def forward(self, pred: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """Scalar loss of predictions and targets ``(B, [N,] D)``."""
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
