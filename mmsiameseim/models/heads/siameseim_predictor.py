"""Predictor (head) of SiameseIM, and the loss's choice of tokens."""
from typing import NamedTuple, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from ..necks.siameseim_projector import build_blocks
from ..utils.relative_position import RelPos, relative_sincos_embedding
from ..utils.token_index import unmasked_index
from ..utils.weight_init import xavier_init_linears

LOSS_TYPES = ('dense', 'global')
LOSS_TOKENS = ('all', 'masked')


class SiameseIMPrediction(NamedTuple):
    """What :meth:`SiameseIM.predict_dense` returns for a batch.

    The raw outputs of both branches, before the loss picks its tokens
    (:meth:`SiameseIMPredictor.select_tokens`) and normalises them
    (:meth:`UniGradDenseLoss.normalise`).

    Attributes:
        pred (Tensor): Dense predictions for every view-2 patch
            ``(B, L, O)``, raster order.
        target (Tensor): Dense targets of view 2 ``(B, L, O)``: the EMA
            branch's patch tokens, or the patch pixels for a pixel target.
        cls_pred (Tensor): Predictor output at the cls position
            ``(B, 1, O)``.
        cls_target (Tensor | None): The EMA branch's cls token
            ``(B, 1, O)``; None for a pixel target.
        mask (Tensor): ``(B, L)`` bool, True = masked view-1 patch.
        rel_pos (Tensor): ``(B, 6)`` :class:`RelPos` records of view 2
            relative to view 1 (named columns: :attr:`geometry`).
        num_masked (int): Masked patches per row of ``mask`` (the same in
            every row), known on the host.
    """
    pred: torch.Tensor
    target: torch.Tensor
    cls_pred: torch.Tensor
    cls_target: Optional[torch.Tensor]
    mask: torch.Tensor
    rel_pos: torch.Tensor
    num_masked: int

    @property
    def geometry(self) -> RelPos:
        """:attr:`rel_pos` with named ``(B,)`` columns."""
        return RelPos.unpack(self.rel_pos, 'SiameseIMPrediction')


@MODELS.register_module()
class SiameseIMPredictor(BaseModule):
    """Predict view-2 features from the visible tokens of view 1.

    Input sequence (docs/method.md §3): the projected cls token (plus the
    zero cls row of the fixed table), the projected visible view-1 tokens
    plus the fixed sin-cos table at their own grid positions, and one shared
    mask token per view-2 patch plus ``Linear(relative sin-cos code)``
    placed by the two crops' relative geometry. Then ``depth`` transformer
    blocks and an output Linear; the outputs at the view-2 positions are the
    dense predictions, the output at the cls position serves the
    global-loss rows.

    The head also owns which outputs the loss compares with which targets
    (:meth:`select_tokens`, as mmpretrain's MAE head owns its masked loss),
    and the loss module owns their normalisation.

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
        loss_type (str): ``'dense'``: the loss compares the view-2 patch
            predictions with their targets; ``'global'``: the cls outputs
            (ablation row (k) of the paper's Table 3). Defaults to
            ``'dense'``.
        loss_tokens (str): ``'all'`` view-2 patches, or only the
            ``'masked'`` ones (meaningful for same-view rows, MAE-like).
            Defaults to ``'all'``.
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
        for name, value, allowed in (('loss_type', loss_type, LOSS_TYPES),
                                     ('loss_tokens', loss_tokens,
                                      LOSS_TOKENS)):
            if value not in allowed:
                raise ValueError(f'SiameseIMPredictor: {name} must be one of '
                                 f'{allowed}, got {value!r}')
        if loss_type == 'global' and loss_tokens == 'masked':
            raise ValueError("SiameseIMPredictor: loss_tokens='masked' needs "
                             "loss_type='dense'")
        self.loss_type = loss_type
        self.loss_tokens = loss_tokens
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

    def select_tokens(self, prediction: SiameseIMPrediction
                      ) -> Tuple[torch.Tensor, torch.Tensor]:
        """The predictions and targets the loss compares.

        Args:
            prediction (SiameseIMPrediction): Both branches' outputs.

        Returns:
            tuple[Tensor, Tensor]: ``(pred, target)`` of the same shape: the
            cls outputs ``(B, 1, O)`` for ``loss_type='global'``, else the
            dense ones ``(B, L, O)``, or ``(B, num_masked, O)`` for
            ``loss_tokens='masked'``.
        """
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
        """The loss of one batch: :meth:`select_tokens`, then the loss.

        Args:
            prediction (SiameseIMPrediction): Both branches' outputs.

        Returns:
            Tensor: Scalar loss.
        """
        return self.loss_module(*self.select_tokens(prediction))
