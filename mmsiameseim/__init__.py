"""mmsiameseim: Siamese Image Modeling as an mmpretrain plugin. Importing
it registers its modules (mmseg / mmdet parts: :mod:`.downstream`) and lets
mmengine resolve ``mmsiameseim::`` config paths."""
from . import checkpoints, datasets, engine, evaluation, models  # noqa: F401
from .config_scope import register_config_scope
from .version import __version__

register_config_scope()

__all__ = ['__version__']
