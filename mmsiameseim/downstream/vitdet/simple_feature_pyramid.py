"""ViTDet's simple feature pyramid as an mmdet neck: mmdet 3.3's wheel has
none, its ``FPN`` on maps of one stride trains with a zero RPN box loss and
mmseg's ``Feature2Pyramid`` lacks ViTDet's projections and norms."""
import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_activation_layer, build_norm_layer
from mmdet.registry import MODELS
from mmengine.model import BaseModule

#: Channel LayerNorm of ViTDet's pyramid and heads: mmpretrain's
#: ``LayerNorm2d`` (registered there as ``LN2d``), eps as in the backbone.
LN2D = dict(type='mmpretrain.LN2d', eps=1e-6)


@MODELS.register_module()
class SimpleFeaturePyramid(BaseModule):
    """Multi-scale maps from one ViT feature map (ViTDet): deconvolutions up
    or max pooling down per scale, a 1x1 and a 3x3 conv with channel
    LayerNorm each, extra levels max-pooled as mmdet's ``FPN``.

    Args:
        in_channels (int): Channels of the backbone map. Defaults to 768.
        out_channels (int): Channels of every level. Defaults to 256.
        scale_factors (Sequence[float]): Powers of two, finest first.
            Defaults to ``(4, 2, 1, 0.5)`` (strides 4 to 32 at stride 16).
        num_outs (int): Levels; the extra ones max-pooled. Defaults to 5.
        norm_cfg (dict): Defaults to a channel LayerNorm (``LN2d``).
        act_cfg (dict): Between deconvolutions. Defaults to GELU.
        init_cfg (dict | list, optional): Defaults to None.
    """

    def __init__(self,
                 in_channels: int = 768,
                 out_channels: int = 256,
                 scale_factors: Sequence[float] = (4., 2., 1., 0.5),
                 num_outs: int = 5,
                 norm_cfg: dict = LN2D,
                 act_cfg: dict = dict(type='GELU'),
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_outs < len(scale_factors):
            raise ValueError(f'num_outs ({num_outs}) must be at least the '
                             f'number of scale factors ({scale_factors})')
        self.scale_factors = tuple(float(f) for f in scale_factors)
        self.num_outs = num_outs
        self.stages = nn.ModuleList()
        for factor in self.scale_factors:
            steps = math.log2(factor)
            if steps != int(steps) or abs(steps) > 3:
                raise ValueError(f'scale factors must be powers of two in '
                                 f'[1/8, 8], got {factor}')
            layers: List[nn.Module] = []
            channels = in_channels
            for k in range(int(steps)):
                if k > 0:
                    layers += [
                        build_norm_layer(norm_cfg, channels)[1],
                        build_activation_layer(act_cfg)
                    ]
                layers.append(
                    nn.ConvTranspose2d(
                        channels, channels // 2, kernel_size=2, stride=2))
                channels //= 2
            if steps < 0:
                size = 2**int(-steps)
                layers.append(nn.MaxPool2d(kernel_size=size, stride=size))
            layers += [
                ConvModule(
                    channels, out_channels, 1, norm_cfg=norm_cfg,
                    act_cfg=None),
                ConvModule(
                    out_channels,
                    out_channels,
                    3,
                    padding=1,
                    norm_cfg=norm_cfg,
                    act_cfg=None)
            ]
            self.stages.append(nn.Sequential(*layers))

    def forward(self, inputs: Sequence[torch.Tensor]) -> Tuple[torch.Tensor]:
        """``num_outs`` maps, finest first, from the last of the backbone's
        ``(B, C, h, w)`` maps."""
        x = inputs[-1]
        outs = [stage(x) for stage in self.stages]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
