"""Two-view transforms, colour ops and mask generators of SiameseIM."""
from .color import (SimColorJitter, SimGaussianBlur, SimRandomGrayscale,
                    SimSolarize)
from .masking import BlockwiseMaskGenerator, RandomPatchMaskGenerator
from .siamese_views import SiameseIMViews

__all__ = [
    'BlockwiseMaskGenerator', 'RandomPatchMaskGenerator', 'SiameseIMViews',
    'SimColorJitter', 'SimGaussianBlur', 'SimRandomGrayscale', 'SimSolarize'
]
