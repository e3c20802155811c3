"""Models of SiameseIM, registered into mmpretrain's ``MODELS``."""
from . import algorithms, backbones, heads, losses, necks, utils  # noqa: F401
