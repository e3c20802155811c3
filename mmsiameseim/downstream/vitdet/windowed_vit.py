"""ViTDet's plain ViT backbone for mmdet 3.x (its wheel has none): the
``ViTSAM`` layer and what it lacks (docs/downstream.md, Detection)."""
from typing import Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn.bricks import DropPath
from mmcv.cnn.bricks.transformer import PatchEmbed
from mmdet.registry import MODELS
from mmengine.model import BaseModule, ModuleList
from mmengine.model.weight_init import trunc_normal_
from mmpretrain.models.backbones.vit_sam import (TransformerEncoderLayer,
                                                 ViTSAM, window_partition,
                                                 window_unpartition)
from mmpretrain.models.utils import resize_pos_embed

from ...checkpoints import (BackboneLoadSpec, pretrained_init,
                            register_load_spec)

#: Backbone keys no pretrained encoder sets.
VITDET_FRESH = (r'layers\.\d+\.attn\.rel_pos_[hw]', )


class WindowedBlock(TransformerEncoderLayer):
    """ViTSAM's encoder layer (the same arguments and parameter names) with
    stochastic depth ``drop_path_rate`` on both residual branches."""

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

    Window attention outside ``global_attn_indexes``, decomposed relative
    position bias (zero init) in every block, the pretraining encoder's
    ``pos_embed`` resized to the input's grid at every forward (another
    shape in a file stops the load), no cls token, no final norm;
    mmpretrain's parameter names (``--layout vitdet`` files load as is).

    Args:
        arch (str | dict): A name of ``ViTSAM.arch_zoo`` (``'base'``,
            ``'large'``, ...) or a dict with the keys of ``_ARCH_KEYS``.
            Defaults to ``'base'``.
        img_size (int | tuple): Input size of the global blocks' relative
            tables. Defaults to 1024.
        patch_size (int): Patch size. Defaults to 16.
        pretrain_img_size (int): The pretraining image size. Defaults to 224.
        pretrain_use_cls_token (bool): The table has a cls row. Defaults to
            True.
        in_channels (int): Input channels. Defaults to 3.
        window_size (int): Window side in patches. Defaults to 14.
        use_rel_pos (bool): Relative position bias. Defaults to True.
        drop_path_rate (float): Stochastic depth of the last block (linear
            from 0). Defaults to 0.1.
        qkv_bias (bool): Bias in the qkv projection. Defaults to True.
        norm_cfg (dict): Norm of the blocks. Defaults to LN, eps 1e-6.
        out_indices (Sequence[int] | int): Blocks returned. Defaults to -1.
        init_cfg (dict | list, optional): A ``Pretrained`` entry loads an
            encoder; else ViTDet's random init. Defaults to None.
    """

    _ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads',
                  'feedforward_channels', 'global_attn_indexes')
    arch_zoo = ViTSAM.arch_zoo  # ViTDet's sizes

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
        elif not (isinstance(arch, dict)
                  and set(self._ARCH_KEYS) <= set(arch)):
            raise ValueError(f'a custom arch needs the keys '
                             f'{sorted(self._ARCH_KEYS)}, got {arch!r}')
        self.embed_dims = arch['embed_dims']
        self.num_layers = arch['num_layers']
        self.global_attn_indexes = tuple(i % self.num_layers
                                         for i in arch['global_attn_indexes'])
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

    def init_weights(self) -> None:
        """Load the ``Pretrained`` file, or ViTDet's random init (the relative
        position tables start at zero either way)."""
        super().init_weights()
        if pretrained_init(self.init_cfg):
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
        """Refuse a position table of another shape, naming both shapes
        (mmengine's non-strict load would only log it)."""
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
        """The table on the input's ``h x w`` patch grid, ``(1, h, w, C)``:
        detectron2's ``get_abs_pos`` (mmpretrain's bicubic resize, the cls
        row dropped)."""
        n, extra = self.pretrain_grid, int(self.pretrain_use_cls_token)
        table = resize_pos_embed(self.pos_embed, (n, n), tuple(hw), 'bicubic',
                                 extra)
        return table[:, extra:].reshape(1, *hw, self.embed_dims)

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

    def get_layer_depth(self,
                        param_name: str,
                        prefix: str = '') -> Tuple[int, int]:
        """``(depth, num_layers + 2)`` of a parameter, for layer-wise lr decay.

        Depth 0 is the stem (``patch_embed``, ``pos_embed``), block ``i`` has
        depth ``i + 1``, everything outside the backbone (``prefix``) the last
        depth: ViTDet's rule ``rate ** (num_layers + 1 - depth)``.
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


@register_load_spec('WindowedViT')
def windowed_vit_load_spec(backbone) -> BackboneLoadSpec:
    """Fresh keys of ``WindowedViT``; every file tensor compared as is."""
    return BackboneLoadSpec(expected_fresh=VITDET_FRESH, source_prefix='')
