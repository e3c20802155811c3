"""mmsiameseim: Siamese Image Modeling as an mmpretrain plugin.

Importing this package registers its datasets, transforms, models, hooks,
runner and metrics into mmpretrain's registries. It needs only mmengine,
mmpretrain and mmcv (lite or full): modules that need mmseg or mmdet live
in :mod:`mmsiameseim.downstream`, which only their configs import. It also
lets mmengine resolve ``_base_ = ['mmsiameseim::...']`` config paths (see
:mod:`mmsiameseim.config_scope`).
"""
from . import checkpoints, datasets, engine, evaluation, models  # noqa: F401
from .config_scope import register_config_scope
from .version import __version__

register_config_scope()

__all__ = ['__version__']
