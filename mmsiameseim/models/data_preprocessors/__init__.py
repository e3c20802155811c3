"""Data preprocessors of SiameseIM."""
from .siameseim_data_preprocessor import SiameseIMDataPreprocessor

__all__ = ['SiameseIMDataPreprocessor']
