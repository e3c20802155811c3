"""Predictor (head) of SiameseIM."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from ..necks.siameseim_projector import build_blocks
from ..utils.relative_position import relative_sincos_embedding
from ..utils.token_index import unmasked_index
from ..utils.weight_init import xavier_init_linears


@MODELS.register_module()
class SiameseIMPredictor(BaseModule):
    """Predict view-2 features from the visible tokens of view 1.

    Input sequence (docs/method.md §3): the projected cls token (plus the
    zero cls row of the fixed table), the projected visible view-1 tokens
    plus the fixed sin-cos table at their own grid positions, and one shared
    mask token per view-2 patch plus ``Linear(relative sin-cos code)`` placed
    by the two crops' relative geometry. Then ``depth`` transformer blocks and
    an output Linear; the outputs at the view-2 positions are the dense
    predictions, the output at the cls position serves the global-loss rows.

    Args:
        embed_dims (int): Width. Defaults to 768.
        depth (int): Number of blocks. Defaults to 4.
        num_heads (int): Attention heads. Defaults to 16.
        mlp_ratio (float): MLP hidden ratio. Defaults to 4.
        norm_cfg (dict): Norm in the blocks. Defaults to ``TokenBN``.
        grid_size (int): Patch grid side of view 2. Defaults to 14.
        out_channels (int, optional): Output width; defaults to
            ``embed_dims`` (feature targets). Pixel targets use
            ``patch_size**2 * 3``.
        loss (dict): Loss config. Defaults to ``UniGradDenseLoss``.
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
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if embed_dims % 4:
            raise ValueError(f'SiameseIMPredictor: embed_dims ({embed_dims}) '
                             'must be divisible by 4 for the sin-cos codes')
        self.embed_dims = embed_dims
        self.grid_size = grid_size
        self.mask_token = nn.Parameter(torch.zeros(1, 1, embed_dims))
        # Fixed (never trained) table at view-1 positions; kept as a frozen
        # parameter so that it is saved in checkpoints, as upstream does.
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
        if not (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
            xavier_init_linears(self)
            nn.init.normal_(self.mask_token, std=.02)

    def forward(self, latent: torch.Tensor, mask: torch.Tensor,
                rel_pos: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """Predict.

        Args:
            latent (Tensor): Projected online tokens ``(B, 1 + V, C)``.
            mask (Tensor): ``(B, L)`` bool, True = masked view-1 patch.
            rel_pos (Tensor): ``(B, 6)`` relative geometry of view 2.

        Returns:
            tuple[Tensor, Tensor]: Output at the cls position ``(B, 1, O)``
            and dense predictions for all view-2 patches ``(B, L, O)``.
        """
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

    def loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Loss between predictions and targets of the same shape."""
        return self.loss_module(pred, target)
