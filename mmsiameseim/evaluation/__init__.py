"""Evaluation parts the plugin's configs and hooks use: the weighted kNN
and collapse signal of the kNN monitor, the one feature extractor and the
robustness metrics of ``configs/siameseim/benchmarks/``. Offline probes are
in the study bench (``projects/study_bench/``)."""
from .features import (POOL_TYPES, backbone_tokens, extract_features,
                       pool_features)
from .knn import collapse_signal, knn_accuracy, weighted_knn_predict
from .metrics import ClassSubsetAccuracy, CorruptionError, corruption_errors

__all__ = [
    'POOL_TYPES', 'backbone_tokens', 'extract_features', 'pool_features',
    'collapse_signal', 'knn_accuracy', 'weighted_knn_predict',
    'ClassSubsetAccuracy', 'CorruptionError', 'corruption_errors'
]
