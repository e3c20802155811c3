"""Algorithms."""
from .siameseim import SiameseIM, patchify

__all__ = ['SiameseIM', 'patchify']
