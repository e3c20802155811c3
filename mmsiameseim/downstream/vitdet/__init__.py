"""ViTDet for an installed mmdet 3.x, registered into mmdet's registries
(docs/downstream.md, Detection). It imports mmdet, so only configs import
it: ``custom_imports = dict(imports=['mmsiameseim.downstream.vitdet'])``."""
from .layer_decay import ViTLayerDecayOptimWrapperConstructor
from .lvis_metric import NumPy2LVISMetric, numpy_float_alias
from .simple_feature_pyramid import LN2D, SimpleFeaturePyramid
from .windowed_vit import VITDET_FRESH, WindowedBlock, WindowedViT

__all__ = [
    'ViTLayerDecayOptimWrapperConstructor', 'VITDET_FRESH', 'NumPy2LVISMetric',
    'numpy_float_alias', 'LN2D', 'SimpleFeaturePyramid', 'WindowedBlock',
    'WindowedViT'
]
