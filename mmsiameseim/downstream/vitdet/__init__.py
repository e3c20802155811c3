"""ViTDet for an installed mmdet 3.x (detection configs import this).

Registers into mmdet's registries: the ``WindowedViT`` backbone, the
``SimpleFeaturePyramid`` neck, the ``ViTLayerDecayOptimWrapperConstructor``
and the ``NumPy2LVISMetric``; and the pretrained-load check of
``WindowedViT`` (see :mod:`.load_check`). It imports mmdet, so
``import mmsiameseim`` never imports it; configs do, through
``custom_imports = dict(imports=['mmsiameseim.downstream.vitdet'])``.
"""
from .layer_decay import ViTLayerDecayOptimWrapperConstructor
from .load_check import VITDET_FRESH
from .lvis_metric import NumPy2LVISMetric, numpy_float_alias
from .simple_feature_pyramid import LN2D, SimpleFeaturePyramid
from .windowed_vit import WindowedBlock, WindowedViT

__all__ = [
    'ViTLayerDecayOptimWrapperConstructor', 'VITDET_FRESH',
    'NumPy2LVISMetric', 'numpy_float_alias', 'LN2D',
    'SimpleFeaturePyramid', 'WindowedBlock', 'WindowedViT'
]
