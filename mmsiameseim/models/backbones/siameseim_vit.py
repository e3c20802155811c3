"""ViT backbone for SiameseIM pretraining."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn as nn
import torch.utils.checkpoint as cp
from mmpretrain.models import VisionTransformer
from mmpretrain.models.utils import build_2d_sincos_position_embedding
from mmpretrain.registry import MODELS

from ..utils.drop_path import float_drop_path_rates
from ..utils.token_index import unmasked_index
from ..utils.weight_init import xavier_init_linears


@MODELS.register_module()
class SiameseIMViT(VisionTransformer):
    """Vision Transformer with the masked forward of SiameseIM.

    A subclass of mmpretrain's :class:`VisionTransformer`, so parameter names
    stay ``layers.{i}.ln1``, ``layers.{i}.attn.qkv``, ... and checkpoints load
    into stock mmpretrain / mmseg configs. Differences to the parent:

    - the absolute position embedding is the fixed 2-D sin-cos table (cls row
      zero) and never trained;
    - the patch embedding is frozen at its random (xavier) init by default,
      as in SiameseIM pretraining (docs/method.md §3);
    - ``forward(x, mask)`` embeds all patches, adds the table, then keeps the
      visible tokens in raster order and prepends the cls token;
    - no final norm by default (``final_norm=False``, docs/method.md §6);
    - frozen stages stay in eval mode through ``train()`` (the linear
      probe: ``frozen_stages=num_layers`` freezes every parameter and keeps
      the whole backbone in eval mode).

    Fine-tuning and linear probing use it too (``out_type='avg_featmap'``,
    ``freeze_patch_embed=False``): the fixed sin-cos table then stays fixed,
    as in the original fine-tuning, while mmpretrain's ``VisionTransformer``
    would train it.

    Args:
        arch (str | dict): ViT architecture. Defaults to ``'b'``.
        img_size (int): Input size. Defaults to 224.
        patch_size (int): Patch size. Defaults to 16.
        out_indices (int | Sequence[int]): Output layers for the unmasked
            forward. Defaults to -1.
        drop_rate (float): Dropout rate. Defaults to 0.
        drop_path_rate (float): Stochastic depth rate. Defaults to 0.
        norm_cfg (dict): Norm layer config. Defaults to LN with eps 1e-6.
        final_norm (bool): Add a final LN. Defaults to False.
        out_type (str): Output type of the unmasked forward. Defaults to
            ``'raw'`` (cls + patch tokens), which the momentum branch uses.
        freeze_patch_embed (bool): Keep the patch embedding fixed. Defaults
            to True.
        with_cp (bool): Activation checkpointing of every layer (saves
            memory for ViT-L). Defaults to False.
        frozen_stages (int): Freeze the patch embedding, the cls token and
            the first ``frozen_stages`` layers (and the final norms when
            all layers are frozen), keeping them in eval mode. -1 freezes
            nothing. Defaults to -1.
        patch_cfg (dict): Extra patch-embedding config. Defaults to ``{}``.
        layer_cfgs (dict | Sequence[dict]): Extra layer configs.
            Defaults to ``{}``.
        num_masked (int, optional): The fixed number of masked patches per
            image (118 for SiameseIM's ViT-B recipe). When given, the masked
            forward gathers the visible tokens without any host sync even if
            the mask lives on the GPU (it is only checked when the mask is on
            the CPU, outside ``torch.compile``). ``None`` (default) reads the
            count from the mask, which costs one device-to-host sync for a
            GPU mask (and a graph break under ``torch.compile``).
        init_cfg (dict | list, optional): Initialisation config.
    """

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: int = 224,
                 patch_size: int = 16,
                 out_indices: Union[int, Sequence[int]] = -1,
                 drop_rate: float = 0.,
                 drop_path_rate: float = 0.,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 final_norm: bool = False,
                 out_type: str = 'raw',
                 freeze_patch_embed: bool = True,
                 with_cp: bool = False,
                 patch_cfg: dict = dict(),
                 layer_cfgs: Union[dict, Sequence[dict]] = dict(),
                 num_masked: Optional[int] = None,
                 frozen_stages: int = -1,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(
            arch=arch,
            img_size=img_size,
            patch_size=patch_size,
            out_indices=out_indices,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            norm_cfg=norm_cfg,
            final_norm=final_norm,
            out_type=out_type,
            with_cls_token=True,
            frozen_stages=frozen_stages,
            patch_cfg=patch_cfg,
            layer_cfgs=layer_cfgs,
            init_cfg=init_cfg)
        self.pos_embed.requires_grad = False
        float_drop_path_rates(self)  # no graph break per block
        self.freeze_patch_embed = freeze_patch_embed
        if freeze_patch_embed:
            self.patch_embed.requires_grad_(False)
        self.with_cp = with_cp
        self.num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        if num_masked is not None and (
                not isinstance(num_masked, int)
                or isinstance(num_masked, bool)
                or not 0 <= num_masked < self.num_patches):
            raise ValueError('SiameseIMViT: `num_masked` must be an int in '
                             f'[0, {self.num_patches}), got {num_masked!r}')
        self.num_masked = num_masked

    def train(self, mode: bool = True) -> 'SiameseIMViT':
        """Set the mode; frozen stages stay in eval mode (all of the
        backbone when every layer is frozen)."""
        if mode and self.frozen_stages >= self.num_layers:
            return super().train(False)
        super().train(mode)
        if mode and self.frozen_stages > 0:
            self._freeze_stages()
        return self

    def init_weights(self) -> None:
        """Fixed sin-cos table, xavier linears and patch embedding."""
        super().init_weights()
        if (isinstance(self.init_cfg, dict)
                and self.init_cfg.get('type') == 'Pretrained'):
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

    def forward(self,
                x: torch.Tensor,
                mask: Optional[torch.Tensor] = None
                ) -> Union[torch.Tensor, tuple]:
        """Encode images, optionally keeping only visible patches.

        Args:
            x (Tensor): Images ``(B, 3, H, W)``.
            mask (Tensor, optional): ``(B, h, w)`` or ``(B, h*w)`` bool, True
                for masked patches, the same count in every row. ``None``
                runs the parent's full forward.

        Returns:
            Tensor | tuple: With a mask, tokens ``(B, 1 + visible, C)`` (cls
            first, visible patches in raster order); without, the parent's
            tuple of outputs.
        """
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
        """Raster-order indices of the visible patches of every image.

        Args:
            mask (Tensor): ``(B, h, w)`` or ``(B, h*w)``, True = masked.
            batch (int): B.

        Returns:
            Tensor: ``(B, V)`` int64 on ``mask``'s device.
        """
        mask = mask.reshape(batch, -1).to(torch.bool)
        if mask.shape[1] != self.num_patches:
            raise ValueError(f'SiameseIMViT: mask has {mask.shape[1]} '
                             f'patches, the grid has {self.num_patches}')
        check = self.num_masked is None or (
            mask.device.type == 'cpu'
            and not torch.compiler.is_compiling())
        if check:
            # One host sync for an accelerator mask; free on the CPU.
            counts = mask.sum(1).tolist()
            if len(set(counts)) != 1 or (self.num_masked is not None and
                                         counts[0] != self.num_masked):
                want = '' if self.num_masked is None else \
                    f', expected {self.num_masked}'
                raise ValueError(
                    'every mask row must hide the same number of patches '
                    '(use an exact-count mask generator); got '
                    f'{min(counts)} to {max(counts)}{want}')
            num_masked = counts[0]
        else:
            num_masked = self.num_masked
        return unmasked_index(mask, self.num_patches - num_masked)

    def _forward_full_cp(self, x: torch.Tensor) -> tuple:
        """Full forward with activation checkpointing (last output only)."""
        B = x.shape[0]
        tokens, hw = self.patch_embed(x)
        cls = self.cls_token.expand(B, -1, -1)
        tokens = torch.cat([cls, tokens], dim=1) + self.pos_embed
        tokens = self.pre_norm(self.drop_after_pos(tokens))
        return (self._format_output(self._run_layers(tokens), hw), )
