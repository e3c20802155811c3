"""mmsiameseim: Siamese Image Modeling as an mmpretrain plugin.

Importing this package registers its datasets, transforms, models, hooks
and metrics into mmpretrain's registries. It needs only mmengine,
mmpretrain and mmcv (lite or full): modules that need mmseg or mmdet live in
separate modules that only their configs import.
"""
from . import datasets, engine, evaluation, models, utils  # noqa: F401
from .version import __version__

__all__ = ['__version__']
