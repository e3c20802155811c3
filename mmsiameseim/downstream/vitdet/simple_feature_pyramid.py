"""ViTDet's simple feature pyramid as an mmdet neck.

mmdet 3.3's wheel has none (ViTDet's ``SimpleFPN`` is in its source tree's
``projects/``), and the stock ``FPN`` is the wrong tool: fed four maps of
one stride (a plain ViT's blocks), it keeps that stride on every level
while the anchor generator and the RoI extractors assume strides 4 to 64,
and training runs with a silently zero RPN box loss. mmseg's
``Feature2Pyramid`` rescales by the same factors but has no output
projection and uses BatchNorm. This neck follows ViTDet (Li et al., ECCV
2022): from the *last* block's map alone, a stride-``s`` ViT gives maps at
strides ``s / f`` for each scale factor ``f`` (deconvolutions up, max
pooling down), each projected to ``out_channels`` by a 1x1 and a 3x3
convolution with a channel LayerNorm after each; extra levels are
max-pooled (kernel 1, stride 2) from the coarsest one, as mmdet's ``FPN``
and detectron2's ``LastLevelMaxPool`` do.
"""
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
    """Multi-scale maps from one ViT feature map (ViTDet).

    Args:
        in_channels (int): Channels of the backbone map. Defaults to 768.
        out_channels (int): Channels of every output level. Defaults to
            256.
        scale_factors (Sequence[float]): Powers of two, finest first: ``f``
            > 1 upsamples by ``log2 f`` stride-2 deconvolutions (each
            halving the channels, with norm and activation between two of
            them); ``f`` < 1 max-pools by ``1 / f``. Defaults to
            ``(4, 2, 1, 0.5)``: strides 4, 8, 16, 32 from a stride-16 ViT.
        num_outs (int): Output levels; those beyond ``scale_factors`` are
            max-pooled (kernel 1, stride 2) from the previous level.
            Defaults to 5 (adds stride 64).
        norm_cfg (dict): Norm after the deconvolutions and each projection
            conv. Defaults to a channel LayerNorm (``mmpretrain.LN2d``).
        act_cfg (dict): Activation between deconvolutions. Defaults to GELU.
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
        """Pyramid from the last of ``inputs`` (the backbone's last block).

        Args:
            inputs (Sequence[torch.Tensor]): Backbone maps ``(B, C, h, w)``;
                only the last is used.

        Returns:
            tuple[torch.Tensor]: ``num_outs`` maps, finest first.
        """
        x = inputs[-1]
        outs = [stage(x) for stage in self.stages]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], kernel_size=1, stride=2))
        return tuple(outs)
