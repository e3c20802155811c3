"""SiameseIM's encoder: mmpretrain's ViT with a masked forward."""
from typing import Optional, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from ...arg_checks import check_int
from ...checkpoints.load_specs import pretrained_init
from ..utils.drop_path import float_drop_path_rates
from ..utils.token_index import unmasked_index
from ..utils.weight_init import xavier_init_linears


@MODELS.register_module()
class SiameseIMViT(VisionTransformer):
    """mmpretrain's Vision Transformer (its names) with SiameseIM's masked
    forward ``forward(x, mask)``, a fixed sin-cos table, a frozen patch
    embedding and no final norm (docs/method.md §3, docs/design.md).

    Args:
        arch (str | dict): ViT architecture. Defaults to ``'b'``.
        final_norm (bool): Add a final LN. Defaults to False.
        out_type (str): Output of the unmasked forward. Defaults to
            ``'raw'`` (cls + patch tokens).
        freeze_patch_embed (bool): Keep the patch embedding fixed. Defaults
            to True.
        with_cp (bool): Activation checkpointing. Defaults to False.
        num_masked (int, optional): Masked patches per image; when given,
            the masked forward needs no host sync. Defaults to None.
        **kwargs: Other arguments of mmpretrain's ``VisionTransformer``.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 final_norm: bool = False,
                 out_type: str = 'raw',
                 freeze_patch_embed: bool = True,
                 with_cp: bool = False,
                 num_masked: Optional[int] = None,
                 **kwargs) -> None:
        img, patch = kwargs.get('img_size', 224), kwargs.get('patch_size', 16)
        if any(side % patch for side in
               (img if isinstance(img, (tuple, list)) else (img, img))):
            # mmcv's PatchEmbed would pad the image and train on it
            raise ValueError(
                f'SiameseIMViT: img_size={img} is not a multiple of '
                f'patch_size={patch}; choose sizes that divide')
        super().__init__(
            arch=arch,
            final_norm=final_norm,
            out_type=out_type,
            with_cls_token=True,
            **kwargs)
        self.pos_embed.requires_grad = False
        float_drop_path_rates(self)  # no graph break per block
        self.freeze_patch_embed = freeze_patch_embed
        if freeze_patch_embed:
            self.patch_embed.requires_grad_(False)
        self.with_cp = with_cp
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        if num_masked is not None:
            check_int(num_masked, 'SiameseIMViT: `num_masked`', 0,
                      self.num_patches)
        self.num_masked = num_masked

    def train(self, mode: bool = True) -> 'SiameseIMViT':
        """Set the mode; frozen stages (all: the backbone) stay in eval."""
        if mode and self.frozen_stages >= self.num_layers:
            return super().train(False)
        super().train(mode)
        if mode and self.frozen_stages > 0:
            self._freeze_stages()
        return self

    def init_weights(self) -> None:
        """Fixed sin-cos table, xavier linears and patch embedding."""
        super().init_weights()
        if pretrained_init(self.init_cfg):
            return
        table = build_2d_sincos_position_embedding(
            self.patch_resolution, self.embed_dims, cls_token=True)
        self.pos_embed.data.copy_(table.float())
        xavier_init_linears(self.layers)
        w = self.patch_embed.projection.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        if self.patch_embed.projection.bias is not None:
            nn.init.zeros_(self.patch_embed.projection.bias)
        nn.init.normal_(self.cls_token, std=.02)

    def _run_layers(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            if self.with_cp and x.requires_grad:
                x = cp.checkpoint(layer, x, use_reentrant=False)
            else:
                x = layer(x)
        if self.final_norm:
            x = self.ln1(x)
        return x

    def forward(
            self,
            x: torch.Tensor,
            mask: Optional[torch.Tensor] = None) -> Union[torch.Tensor, tuple]:
        """Encode images ``(B, 3, H, W)``: with a ``(B, h*w)`` bool ``mask``
        (True = masked, one count per row) tokens ``(B, 1 + visible, C)``,
        cls first; without, the parent's outputs."""
        if mask is None:
            if self.with_cp:
                return self._forward_full_cp(x)
            return super().forward(x)
        B = x.shape[0]
        tokens, hw = self.patch_embed(x)
        if tuple(hw) != tuple(self.patch_resolution):
            raise ValueError(f'masked forward needs {self.img_size} inputs '
                             f'(patch grid {self.patch_resolution}), got a '
                             f'{tuple(hw)} grid')
        tokens = tokens + self.pos_embed[:, 1:]
        index = self.visible_index(mask, B).to(x.device, non_blocking=True)
        tokens = tokens.gather(
            1, index[..., None].expand(-1, -1, self.embed_dims))
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(B, -1, -1)
        tokens = self.drop_after_pos(torch.cat([cls, tokens], dim=1))
        tokens = self.pre_norm(tokens)
        return self._run_layers(tokens)

    def visible_index(self, mask: torch.Tensor, batch: int) -> torch.Tensor:
        """``(B, V)`` raster-order indices of the visible patches of a
        ``(B, h, w)`` or ``(B, h*w)`` mask."""
        mask = mask.reshape(batch, -1).to(torch.bool)
        if mask.shape[1] != self.num_patches:
            raise ValueError(f'SiameseIMViT: mask has {mask.shape[1]} '
                             f'patches, the grid has {self.num_patches}')
        num_masked = self.num_masked
        if num_masked is None or (mask.device.type == 'cpu'
                                  and not torch.compiler.is_compiling()):
            # One host sync for an accelerator mask; free on the CPU.
            counts = mask.sum(1).tolist()
            if len(set(counts)) != 1 or num_masked not in (None, counts[0]):
                want = '' if num_masked is None else \
                    f', expected {num_masked}'
                raise ValueError(
                    'every mask row must hide the same number of patches '
                    '(use an exact-count mask generator); got '
                    f'{min(counts)} to {max(counts)}{want}')
            num_masked = counts[0]
        return unmasked_index(mask, self.num_patches - num_masked)

    def _forward_full_cp(self, x: torch.Tensor) -> tuple:
        """Full forward with activation checkpointing (last output only)."""
        B = x.shape[0]
        tokens, hw = self.patch_embed(x)
        cls = self.cls_token.expand(B, -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed
        tokens = self.pre_norm(self.drop_after_pos(tokens))
        return (self._format_output(self._run_layers(tokens), hw), )
