"""Evaluation utilities of mmsiameseim: weighted kNN and collapse signals."""
from .knn import (collapse_signal, extract_features, knn_accuracy,
                  pool_features, weighted_knn_predict)
from .probes import (LARS, DenseProbeHead, FrozenEncoder, LinearProbeHead,
                     build_frozen_encoder, confusion_matrix,
                     extract_patch_features, miou_from_confusion,
                     predict_dense, train_dense_probe, train_linear_probe)

__all__ = [
    'weighted_knn_predict', 'knn_accuracy', 'extract_features',
    'pool_features', 'collapse_signal', 'FrozenEncoder',
    'build_frozen_encoder', 'LARS', 'LinearProbeHead', 'train_linear_probe',
    'DenseProbeHead', 'extract_patch_features', 'train_dense_probe',
    'predict_dense', 'confusion_matrix', 'miou_from_confusion'
]
