"""Models of SiameseIM, registered into mmpretrain's ``MODELS``."""
from . import (algorithms, backbones, data_preprocessors, heads,  # noqa: F401
               losses, necks, utils)
from .data_preprocessors import SiameseIMDataPreprocessor  # noqa: F401
