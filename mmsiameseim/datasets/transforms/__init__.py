"""Image loading, two-view transforms, colour ops and mask generators."""
from .color import (SimColorJitter, SimGaussianBlur, SimRandomGrayscale,
                    SimSolarize)
from .gray_to_rgb import GrayToRGB
from .loading import BadImageError, RobustLoadImageFromFile
from .masking import BlockwiseMaskGenerator, RandomPatchMaskGenerator
from .siamese_views import SiameseIMViews

__all__ = [
    'BadImageError', 'BlockwiseMaskGenerator', 'GrayToRGB',
    'RandomPatchMaskGenerator', 'RobustLoadImageFromFile', 'SiameseIMViews',
    'SimColorJitter', 'SimGaussianBlur', 'SimRandomGrayscale', 'SimSolarize'
]
