"""Predictor (head) of SiameseIM, and the loss's choice of tokens."""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from ...arg_checks import check_choice
from ...checkpoints.load_specs import pretrained_init
from ..necks.siameseim_projector import build_blocks
from ..utils.relative_position import relative_sincos_embedding
from ..utils.token_index import unmasked_index
from ..utils.weight_init import xavier_init_linears

LOSS_TYPES = ('dense', 'global')
LOSS_TOKENS = ('all', 'masked')


class SiameseIMPrediction(NamedTuple):
    """Both branches' raw outputs for a batch (``SiameseIM.predict_dense``).

    Attributes:
        pred (Tensor): Predictions of the view-2 patches ``(B, L, O)``.
        target (Tensor): Their targets: EMA patch tokens or patch pixels.
        cls_pred (Tensor): Output at the cls position ``(B, 1, O)``.
        cls_target (Tensor | None): The EMA cls token; None for pixels.
        mask (Tensor): ``(B, L)`` bool, True = masked view-1 patch.
        rel_pos (Tensor): ``(B, 6)`` :class:`RelPos` records of view 2.
        num_masked (int): Masked patches per row of ``mask``.
    """
    pred: torch.Tensor
    target: torch.Tensor
    cls_pred: torch.Tensor
    cls_target: Optional[torch.Tensor]
    mask: torch.Tensor
    rel_pos: torch.Tensor
    num_masked: int


@MODELS.register_module()
class SiameseIMPredictor(BaseModule):
    """Predict view-2 features from the visible tokens of view 1
    (docs/method.md §3); it also picks the tokens the loss compares.

    Args:
        embed_dims (int): Width. Defaults to 768.
        depth (int): Number of blocks. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 16.
        mlp_ratio (float): MLP hidden ratio. Defaults to 4.
        norm_cfg (dict): Norm in the blocks. Defaults to ``TokenBN``.
        grid_size (int): Patch grid side of view 2. Defaults to 14.
        out_channels (int, optional): Output width. Defaults to
            ``embed_dims`` (pixel targets: ``patch_size**2 * 3``).
        loss (dict): Loss config. Defaults to ``UniGradDenseLoss``.
        loss_type (str): ``'dense'`` or ``'global'`` (cls outputs).
            Defaults to ``'dense'``.
        loss_tokens (str): ``'all'`` view-2 patches or the ``'masked'``
            ones. Defaults to ``'all'``.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 embed_dims: int = 768,
                 depth: int = 4,
                 num_heads: int = 16,
                 mlp_ratio: float = 4.,
                 norm_cfg: dict = dict(type='TokenBN'),
                 grid_size: int = 14,
                 out_channels: Optional[int] = None,
                 loss: dict = dict(type='UniGradDenseLoss'),
                 loss_type: str = 'dense',
                 loss_tokens: str = 'all',
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.loss_type = check_choice(loss_type,
                                      'SiameseIMPredictor: loss_type',
                                      LOSS_TYPES)
        self.loss_tokens = check_choice(loss_tokens,
                                        'SiameseIMPredictor: loss_tokens',
                                        LOSS_TOKENS)
        if loss_type == 'global' and loss_tokens == 'masked':
            raise ValueError("SiameseIMPredictor: loss_tokens='masked' needs "
                             "loss_type='dense'")
        if embed_dims % 4:
            raise ValueError(f'SiameseIMPredictor: embed_dims ({embed_dims}) '
                             'must be divisible by 4 for the sin-cos codes')
        self.embed_dims = embed_dims
        self.grid_size = grid_size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        # The fixed table at view-1 positions, a frozen parameter so that
        # checkpoints hold it, as upstream's do.
        self.pos_embed = nn.Parameter(
            torch.zeros(1, grid_size**2 + 1, embed_dims), requires_grad=False)
        self.rel_pos_mlp = nn.Linear(2 * embed_dims, embed_dims)
        self.blocks = build_blocks(depth, embed_dims, num_heads, mlp_ratio,
                                   norm_cfg)
        self.out_proj = nn.Linear(embed_dims, out_channels or embed_dims)
        self.loss_module = MODELS.build(loss)

    def init_weights(self) -> None:
        super().init_weights()
        self.pos_embed.data.copy_(
            build_2d_sincos_position_embedding(
                self.grid_size, self.embed_dims, cls_token=True).float())
        if not pretrained_init(self.init_cfg):
            xavier_init_linears(self)
            nn.init.normal_(self.mask_token, std=.02)

    def forward(self, latent: torch.Tensor, mask: torch.Tensor,
                rel_pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The outputs at the cls position ``(B, 1, O)`` and at all view-2
        patches ``(B, L, O)`` from projected tokens ``(B, 1 + V, C)``, the
        ``(B, L)`` view-1 mask and the ``(B, 6)`` geometry."""
        B, num_tokens, C = latent.shape
        mask = mask.reshape(B, -1).to(device=latent.device, dtype=torch.bool)
        if mask.shape[1] != self.grid_size**2:
            raise ValueError(f'SiameseIMPredictor: mask has {mask.shape[1]}'
                             f' patches, grid_size {self.grid_size} needs '
                             f'{self.grid_size**2}')
        table = self.pos_embed.to(latent.dtype)
        # The visible count is known from ``latent``: gather without a sync.
        vis_pe = table[0, 1:][unmasked_index(mask, num_tokens - 1)]
        rel_code = relative_sincos_embedding(rel_pos.float(), self.grid_size,
                                             self.embed_dims)
        queries = self.mask_token + self.rel_pos_mlp(rel_code)
        z = torch.cat(
            [latent[:, :1] + table[:, :1], latent[:, 1:] + vis_pe, queries],
            dim=1)
        for block in self.blocks:
            z = block(z)
        z = self.out_proj(z)
        return z[:, :1], z[:, num_tokens:]

    def select_tokens(
            self, prediction: SiameseIMPrediction
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The ``(pred, target)`` pair the loss compares: cls ``(B, 1, O)``
        (global), dense ``(B, L, O)`` or masked ``(B, num_masked, O)``."""
        if self.loss_type == 'global':
            if prediction.cls_target is None:
                raise ValueError("SiameseIMPredictor: loss_type='global' "
                                 'needs a cls target (a feature target)')
            return prediction.cls_pred, prediction.cls_target
        pred, target = prediction.pred, prediction.target
        if self.loss_tokens == 'masked':
            # == x[mask] per row, without a host sync: every row masks
            # ``num_masked`` patches.
            index = unmasked_index(~prediction.mask,
                                   prediction.num_masked)[..., None]
            pred = pred.gather(1, index.expand(-1, -1, pred.shape[-1]))
            target = target.gather(1, index.expand(-1, -1, target.shape[-1]))
        return pred, target

    def loss(self, prediction: SiameseIMPrediction) -> torch.Tensor:
        """Scalar loss of a batch: :meth:`select_tokens`, then the loss."""
        return self.loss_module(*self.select_tokens(prediction))
