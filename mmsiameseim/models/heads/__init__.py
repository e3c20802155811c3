"""Heads."""
from .siameseim_predictor import SiameseIMPrediction, SiameseIMPredictor

__all__ = ['SiameseIMPrediction', 'SiameseIMPredictor']
