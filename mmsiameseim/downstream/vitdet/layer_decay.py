"""Layer-wise lr decay for a detector whose backbone is a plain ViT:
mmdet's and mmseg's constructors know only ConvNeXt / BEiT / MAE, and
mmpretrain's asks the top-level model (a detector has none) for
``get_layer_depth``."""
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
    """mmpretrain's layer-decay constructor (its ``paramwise_cfg``) with
    ``model.backbone.get_layer_depth``."""

    def add_params(self,
                   params: List[dict],
                   module: nn.Module,
                   prefix: str = '',
                   get_layer_depth: Optional[Callable] = None,
                   **kwargs) -> None:
        """mmpretrain's method; ``get_layer_depth`` defaults to the backbone's,
        with prefix ``backbone.`` (after an unwrapped DDP ``module.``)."""
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
