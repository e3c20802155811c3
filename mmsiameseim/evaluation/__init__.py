"""Evaluation utilities of mmsiameseim: weighted kNN and collapse signals."""
from .knn import (collapse_signal, extract_features, knn_accuracy,
                  pool_features, weighted_knn_predict)

__all__ = [
    'weighted_knn_predict', 'knn_accuracy', 'extract_features',
    'pool_features', 'collapse_signal'
]
