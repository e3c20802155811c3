"""The plain ViT backbone of ViTDet (Li et al., ECCV 2022) for mmdet 3.x.

mmdet's wheel has no ViT backbone (ViTDet lives in its source tree's
``projects/``), and mmpretrain's ``ViTSAM``, which has the same design
(window attention with decomposed relative position bias), refuses the
``(1, 1 + L, C)`` position table of a pretrained ViT and applies stochastic
depth to the FFN branch only. This module reuses ViTSAM's layer (window
partition with padding, ``Attention`` with decomposed relative position)
and writes only what is missing: stochastic depth on both residual
branches, the pretraining-size ``(1, [1 +] L, C)`` position table resized to
the input's grid at every forward (detectron2's ``get_abs_pos``), and the
layer depth for layer-wise lr decay.
"""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vit_sam import (TransformerEncoderLayer,
                                                 window_partition,
                                                 window_unpartition)


class WindowedBlock(TransformerEncoderLayer):
    """ViTSAM's encoder layer with stochastic depth on both branches.

    mmpretrain's layer drops only the FFN branch (through mmcv's ``FFN``);
    ViTDet drops the attention branch too. Parameter names are unchanged
    (``ln1``, ``attn.{qkv,proj,rel_pos_h,rel_pos_w}``, ``ln2``,
    ``ffn.layers.{0.0,1}``), i.e. mmpretrain ``VisionTransformer`` names plus
    the relative position tables.

    Args:
        drop_path_rate (float): Stochastic depth rate of both branches.
            Defaults to 0.
        **kwargs: Other arguments of mmpretrain's ViTSAM
            ``TransformerEncoderLayer`` (``embed_dims``, ``num_heads``,
            ``feedforward_channels``, ``window_size``, ``input_size``,
            ``use_rel_pos``, ``norm_cfg``, ...).
    """

    def __init__(self, drop_path_rate: float = 0., **kwargs) -> None:
        super().__init__(drop_path_rate=drop_path_rate, **kwargs)
        self.drop_path = DropPath(
            drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        shortcut = x
        x = self.ln1(x)
        if self.window_size > 0:
            hw = x.shape[1:3]
            x, pad_hw = window_partition(x, self.window_size)
        x = self.attn(x)
        if self.window_size > 0:
            x = window_unpartition(x, self.window_size, pad_hw, hw)
        x = shortcut + self.drop_path(x)
        # mmcv's FFN adds its own DropPath(drop_path_rate) before `identity`
        return self.ffn(self.ln2(x), identity=x)


@MODELS.register_module()
class WindowedViT(BaseModule):
    """Plain ViT with window attention, as ViTDet's detection backbone.

    Blocks not in ``global_attn_indexes`` attend within non-overlapping
    ``window_size x window_size`` windows (the grid is zero-padded to a
    multiple of the window); the others attend globally. Every block adds a
    decomposed relative position bias (zero-initialised: no pretrained
    encoder has it).

    The absolute position table is the pretraining encoder's, as in
    detectron2's ViTDet: a ``(1, [1 +] n*n, C)`` parameter for the
    ``pretrain_img_size`` grid (``n = pretrain_img_size / patch_size``, 14
    for ViT-B/16 at 224 px), with a cls row when ``pretrain_use_cls_token``
    (the row is kept in the parameter and never used). At every forward the
    ``n x n`` grid is resized bicubically (``align_corners`` False, no
    antialias) to the input's patch grid, so fine-tuning trains the ``n*n``
    pretraining positions through the interpolation, whatever the input
    size. A pretrained file must hold a table of exactly the parameter's
    shape: loading one of another shape stops with an error naming both.

    There is no cls token and no final norm: the simple feature pyramid
    reads the last block's output. Parameter names are mmpretrain's
    ``VisionTransformer`` names (``patch_embed.projection``, ``pos_embed``,
    ``layers.{i}.ln1``, ...), so a converted encoder loads without renaming
    (``tools/model_converters/siameseim_to_backbone.py --layout vitdet``).

    Args:
        arch (str | dict): ``'base'`` / ``'b'``, ``'large'`` / ``'l'`` or a
            dict with ``embed_dims``, ``num_layers``, ``num_heads``,
            ``feedforward_channels`` and ``global_attn_indexes``.
            Defaults to ``'base'`` (768 wide, 12 blocks, 12 heads, global
            attention in blocks 2, 5, 8, 11).
        img_size (int | tuple): Input size the global blocks' relative
            tables are built for. Defaults to 1024.
        patch_size (int): Patch size. Defaults to 16.
        pretrain_img_size (int): Image size of the pretraining encoder,
            which fixes the position table's grid. Defaults to 224.
        pretrain_use_cls_token (bool): Whether the pretraining table has a
            cls row first (a ViT with a cls token). Defaults to True.
        in_channels (int): Input channels. Defaults to 3.
        window_size (int): Window side of the windowed blocks, in patches.
            Defaults to 14 (the 224 px pretraining grid at patch 16).
        use_rel_pos (bool): Add decomposed relative position bias.
            Defaults to True.
        drop_path_rate (float): Stochastic depth, rising linearly from 0 in
            the first block to this value in the last. Defaults to 0.1.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        norm_cfg (dict): Norm of the blocks. Defaults to LN with eps 1e-6
            (as the pretraining encoder).
        out_indices (Sequence[int] | int): Blocks whose output is returned
            as ``(B, C, H, W)``. Defaults to -1 (the last).
        init_cfg (dict | list, optional): mmengine init config; a
            ``Pretrained`` entry loads an encoder file. Without it the
            weights get ViTDet's random init (truncated normal, std 0.02,
            for Linear layers and the position table). Defaults to None.
    """

    arch_zoo = {
        **dict.fromkeys(
            ['b', 'base'], {
                'embed_dims': 768,
                'num_layers': 12,
                'num_heads': 12,
                'feedforward_channels': 3072,
                'global_attn_indexes': (2, 5, 8, 11)
            }),
        **dict.fromkeys(
            ['l', 'large'], {
                'embed_dims': 1024,
                'num_layers': 24,
                'num_heads': 16,
                'feedforward_channels': 4096,
                'global_attn_indexes': (5, 11, 17, 23)
            }),
    }
    _ARCH_KEYS = {
        'embed_dims', 'num_layers', 'num_heads', 'feedforward_channels',
        'global_attn_indexes'
    }

    def __init__(self,
                 arch: Union[str, dict] = 'base',
                 img_size: Union[int, Tuple[int, int]] = 1024,
                 patch_size: int = 16,
                 pretrain_img_size: int = 224,
                 pretrain_use_cls_token: bool = True,
                 in_channels: int = 3,
                 window_size: int = 14,
                 use_rel_pos: bool = True,
                 drop_path_rate: float = 0.1,
                 qkv_bias: bool = True,
                 norm_cfg: dict = dict(type='LN', eps=1e-6),
                 out_indices: Union[Sequence[int], int] = -1,
                 init_cfg: Optional[Union[dict, list]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, str):
            if arch.lower() not in self.arch_zoo:
                raise ValueError(f'arch {arch!r} is not one of '
                                 f'{sorted(self.arch_zoo)}')
            arch = self.arch_zoo[arch.lower()]
        elif not (isinstance(arch, dict) and self._ARCH_KEYS <= set(arch)):
            raise ValueError(f'a custom arch needs the keys '
                             f'{sorted(self._ARCH_KEYS)}, got {arch!r}')
        self.embed_dims = arch['embed_dims']
        self.num_layers = arch['num_layers']
        self.global_attn_indexes = tuple(
            i % self.num_layers for i in arch['global_attn_indexes'])
        self.window_size = window_size

        self.patch_embed = PatchEmbed(
            in_channels=in_channels,
            input_size=img_size,
            embed_dims=self.embed_dims,
            conv_type='Conv2d',
            kernel_size=patch_size,
            stride=patch_size)
        self.patch_resolution = tuple(self.patch_embed.init_out_size)
        if pretrain_img_size % patch_size:
            raise ValueError(
                f'pretrain_img_size {pretrain_img_size} is not a multiple of '
                f'patch_size {patch_size}')
        self.pretrain_grid = pretrain_img_size // patch_size
        self.pretrain_use_cls_token = pretrain_use_cls_token
        num_positions = self.pretrain_grid**2 + int(pretrain_use_cls_token)
        self.pos_embed = nn.Parameter(
            torch.zeros(1, num_positions, self.embed_dims))
        self._register_load_state_dict_pre_hook(self._check_pos_embed_shape)

        rates = torch.linspace(0, drop_path_rate, self.num_layers).tolist()
        self.layers = ModuleList()
        for i in range(self.num_layers):
            is_global = i in self.global_attn_indexes
            self.layers.append(
                WindowedBlock(
                    embed_dims=self.embed_dims,
                    num_heads=arch['num_heads'],
                    feedforward_channels=arch['feedforward_channels'],
                    drop_path_rate=rates[i],
                    qkv_bias=qkv_bias,
                    norm_cfg=norm_cfg,
                    use_rel_pos=use_rel_pos,
                    window_size=0 if is_global else window_size,
                    input_size=self.patch_resolution))

        if isinstance(out_indices, int):
            out_indices = [out_indices]
        self.out_indices = tuple(i % self.num_layers for i in out_indices)

    # ------------------------------------------------------------------
    def _pretrained(self) -> bool:
        cfgs = self.init_cfg if isinstance(self.init_cfg, list) else [
            self.init_cfg
        ]
        return any(
            isinstance(c, dict) and c.get('type') == 'Pretrained'
            for c in cfgs)

    def init_weights(self) -> None:
        """Load the ``Pretrained`` file, or ViTDet's random init.

        The relative position tables start at zero either way (ViTSAM's
        ``Attention`` creates them so; no pretrained encoder has them).
        """
        super().init_weights()
        if self._pretrained():
            return
        trunc_normal_(self.pos_embed, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _check_pos_embed_shape(self, state_dict, prefix, *args, **kwargs):
        """Refuse a position table of another shape, naming both shapes.

        mmengine's non-strict load would only log the size mismatch and keep
        the random table.
        """
        table = state_dict.get(prefix + 'pos_embed')
        if table is None or tuple(table.shape) == tuple(self.pos_embed.shape):
            return
        cls_row = ' plus a cls row' if self.pretrain_use_cls_token else ''
        raise ValueError(
            f'pos_embed of shape {tuple(table.shape)} in the file does not '
            f"fit this backbone's {tuple(self.pos_embed.shape)} (the table "
            f'of a {self.pretrain_grid} x {self.pretrain_grid} pretraining '
            f'grid{cls_row}): set pretrain_img_size / '
            "pretrain_use_cls_token to the encoder's pretraining, or convert "
            'the encoder with tools/model_converters/siameseim_to_backbone.py'
            ' --layout vitdet')

    def abs_pos_embed(self, hw: Tuple[int, int]) -> torch.Tensor:
        """The position table on an ``h x w`` patch grid: ``(1, h, w, C)``.

        detectron2's ``get_abs_pos``: the cls row (if any) is dropped and
        the pretraining grid resized bicubically (``align_corners`` False,
        no antialias) when its size differs from ``hw``.

        Args:
            hw (tuple[int, int]): The input's patch grid.

        Returns:
            torch.Tensor: The table to add to the patch tokens.
        """
        n = self.pretrain_grid
        grid = self.pos_embed[:, int(self.pretrain_use_cls_token):]
        grid = grid.reshape(1, n, n, self.embed_dims)
        if tuple(hw) == (n, n):
            return grid
        resized = F.interpolate(
            grid.permute(0, 3, 1, 2),
            size=tuple(hw),
            mode='bicubic',
            align_corners=False)
        return resized.permute(0, 2, 3, 1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """``(B, 3, H, W)`` -> one ``(B, C, H/p, W/p)`` map per out index."""
        x, hw = self.patch_embed(x)
        x = x.view(x.shape[0], *hw, self.embed_dims)
        x = x + self.abs_pos_embed(hw)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x.permute(0, 3, 1, 2).contiguous())
        return tuple(outs)

    def get_layer_depth(self, param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """Layer depth of a parameter, for layer-wise lr decay.

        Depth 0 is the stem (``patch_embed``, ``pos_embed``), block ``i``
        has depth ``i + 1`` and everything outside the backbone (neck,
        heads) the last depth ``num_layers + 1``; with decay rate ``r`` the
        lr scale is ``r ** (num_layers + 1 - depth)`` (ViTDet's rule).

        Args:
            param_name (str): Parameter name in the whole model.
            prefix (str): Prefix of the backbone's parameters (e.g.
                ``'backbone.'``). Defaults to ''.

        Returns:
            tuple[int, int]: The depth and the number of depths
            (``num_layers + 2``).
        """
        num_depths = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num_depths - 1, num_depths
        name = param_name[len(prefix):]
        if name == 'pos_embed' or name.startswith('patch_embed.'):
            return 0, num_depths
        if name.startswith('layers.'):
            return int(name.split('.')[1]) + 1, num_depths
        return num_depths - 1, num_depths
