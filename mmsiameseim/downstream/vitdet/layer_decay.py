"""Layer-wise lr decay for a detector whose backbone is a plain ViT.

mmdet 3.3's ``LearningRateDecayOptimizerConstructor`` only knows ConvNeXt;
mmseg's ``LayerDecayOptimizerConstructor`` only backbones named BEiT / MAE /
ConvNeXt; mmpretrain's ``LearningRateDecayOptimWrapperConstructor`` does the
right thing (lr scale ``rate ** (max_depth - depth)``, mmengine's weight
decay rules, ``custom_keys``) but asks the *top-level* model for
``get_layer_depth``, which a detector does not have. This subclass only
takes the depth from ``model.backbone.get_layer_depth`` (see
:meth:`WindowedViT.get_layer_depth`): ViTDet's rule, with the neck and the
heads at full lr.
"""
from functools import partial
from typing import Callable, List, Optional

from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.model import is_model_wrapper
from mmpretrain.engine.optimizers import \
    LearningRateDecayOptimWrapperConstructor
from torch import nn


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class ViTLayerDecayOptimWrapperConstructor(
        LearningRateDecayOptimWrapperConstructor):
    """mmpretrain's layer-decay constructor with the backbone's depths.

    ``paramwise_cfg`` is mmpretrain's: ``layer_decay_rate``,
    ``norm_decay_mult``, ``bias_decay_mult``, ``flat_decay_mult`` and
    ``custom_keys`` (``decay_mult`` only). ViTDet's setting::

        paramwise_cfg=dict(
            layer_decay_rate=0.7,
            norm_decay_mult=0.,
            custom_keys={'pos_embed': dict(decay_mult=0.)})
    """

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """Add ``module``'s parameters, depths from its backbone.

        Args:
            params (list[dict]): Parameter groups, extended in place.
            module (nn.Module): The detector (possibly wrapped by DDP).
            prefix (str): Name prefix of ``module``. Defaults to ''.
            get_layer_depth (Callable, optional): ``name -> (depth,
                num_depths)``. Defaults to the backbone's
                ``get_layer_depth`` with prefix ``backbone.``.
        """
        if get_layer_depth is None:
            model, names = module, prefix
            if is_model_wrapper(model):
                model, names = model.module, names + 'module.'
            backbone = getattr(model, 'backbone', None)
            if not hasattr(backbone, 'get_layer_depth'):
                raise TypeError(
                    f'{type(self).__name__} needs a model whose backbone '
                    'has get_layer_depth (e.g. WindowedViT), got backbone '
                    f'{type(backbone).__name__}')
            get_layer_depth = partial(
                backbone.get_layer_depth, prefix=names + 'backbone.')
        super().add_params(
            params, module, prefix, get_layer_depth=get_layer_depth, **kwargs)
