"""Heads."""
from .siameseim_predictor import SiameseIMPredictor

__all__ = ['SiameseIMPredictor']
