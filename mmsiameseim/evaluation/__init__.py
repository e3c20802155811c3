"""Evaluation parts the plugin's configs and hooks use.

The weighted kNN classifier and the collapse signal of the kNN monitor,
the one feature extractor (:func:`extract_features`, tokens of any
mmpretrain backbone) and the robustness metrics the evaluation configs of
``configs/siameseim/benchmarks/`` register (ImageNet-A/-R class-subset
accuracy, ImageNet-C corruption error). Offline probes (linear, dense, the
1 % logistic regression) are in the study bench, ``projects/study_bench/``.
"""
from .features import (POOL_TYPES, backbone_tokens, extract_features,
                       pool_features)
from .knn import collapse_signal, knn_accuracy, weighted_knn_predict
from .metrics import ClassSubsetAccuracy, CorruptionError, corruption_errors

__all__ = [
    'POOL_TYPES', 'backbone_tokens', 'extract_features', 'pool_features',
    'collapse_signal', 'knn_accuracy', 'weighted_knn_predict',
    'ClassSubsetAccuracy', 'CorruptionError', 'corruption_errors'
]
