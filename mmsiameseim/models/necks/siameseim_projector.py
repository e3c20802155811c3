"""Projector (neck) of SiameseIM."""
from typing import Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule, ModuleList
from mmpretrain.models.backbones.vision_transformer import \
    TransformerEncoderLayer
from mmpretrain.registry import MODELS

from ...checkpoints.load_specs import pretrained_init
from ..utils.weight_init import xavier_init_linears


def build_blocks(depth: int, embed_dims: int, num_heads: int, mlp_ratio: float,
                 norm_cfg: dict) -> ModuleList:
    """Pre-norm transformer blocks (mmpretrain's layer) with ``norm_cfg``."""
    return ModuleList([
        TransformerEncoderLayer(
            embed_dims=embed_dims,
            num_heads=num_heads,
            feedforward_channels=int(embed_dims * mlp_ratio),
            qkv_bias=True,
            norm_cfg=norm_cfg) for _ in range(depth)
    ])


@MODELS.register_module()
class SiameseIMProjector(BaseModule):
    """Linear projection and transformer blocks on the encoder's tokens.

    Args:
        in_channels (int): Encoder width. Defaults to 768.
        embed_dims (int): Projector width. Defaults to 768.
        depth (int): Number of blocks. Defaults to 2.
        num_heads (int): Attention heads. Defaults to 16.
        mlp_ratio (float): MLP hidden ratio. Defaults to 4.
        norm_cfg (dict): Norm in the blocks. Defaults to ``TokenBN``
            (``dict(type='LN')``: the LN ablation).
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 in_channels: int = 768,
                 embed_dims: int = 768,
                 depth: int = 2,
                 num_heads: int = 16,
                 mlp_ratio: float = 4.,
                 norm_cfg: dict = dict(type='TokenBN'),
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.proj = nn.Linear(in_channels, embed_dims)
        self.blocks = build_blocks(depth, embed_dims, num_heads, mlp_ratio,
                                   norm_cfg)

    def init_weights(self) -> None:
        super().init_weights()
        if not pretrained_init(self.init_cfg):
            xavier_init_linears(self)

    def forward(
            self, x: Union[torch.Tensor,
                           Sequence[torch.Tensor]]) -> torch.Tensor:
        """Project tokens ``(B, N, C)`` (a backbone tuple: its last item)."""
        if isinstance(x, (tuple, list)):
            x = x[-1]
        x = self.proj(x)
        for block in self.blocks:
            x = block(x)
        return x
