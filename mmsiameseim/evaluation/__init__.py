"""Evaluation of pretrained encoders.

Offline probes on frozen features (weighted kNN, linear and dense probes,
the 1 % logistic regression) and the parts the evaluation configs of
``configs/siameseim/benchmarks/`` register: ImageNet variant datasets, the
class-subset accuracy of ImageNet-A/-R and the ImageNet-C corruption error.
"""
from . import classifier_load_spec  # noqa: F401  registers a load check
from .dense_probe import (DenseProbeHead, extract_patch_features,
                          predict_dense_labels, train_dense_probe)
from .frozen_encoder import FrozenEncoder, build_frozen_encoder
from .imagenet_classes import (IMAGENET_A_WNIDS, IMAGENET_C_CORRUPTIONS,
                               IMAGENET_R_WNIDS, IMAGENET_WNIDS,
                               class_subset_indices, load_wnids)
from .knn import (collapse_signal, extract_features, knn_accuracy,
                  pool_features, weighted_knn_predict)
from .linear_probe import (LinearProbeHead, build_lars, lars_param_groups,
                           train_linear_probe)
from .logistic_regression import (fit_logistic_regression,
                                  logistic_regression_accuracy,
                                  preprocess_rows)
from .metrics import ClassSubsetAccuracy, CorruptionError, corruption_errors
from .segmentation_metrics import confusion_matrix, miou_from_confusion
from .subset_list import check_subset_list, read_subset_list

__all__ = [
    'weighted_knn_predict', 'knn_accuracy', 'extract_features',
    'pool_features', 'collapse_signal', 'FrozenEncoder',
    'build_frozen_encoder', 'LinearProbeHead', 'lars_param_groups',
    'build_lars', 'train_linear_probe', 'DenseProbeHead',
    'extract_patch_features', 'train_dense_probe', 'predict_dense_labels',
    'confusion_matrix', 'miou_from_confusion', 'IMAGENET_WNIDS',
    'IMAGENET_A_WNIDS', 'IMAGENET_R_WNIDS', 'IMAGENET_C_CORRUPTIONS',
    'load_wnids', 'class_subset_indices', 'ClassSubsetAccuracy',
    'CorruptionError', 'corruption_errors', 'preprocess_rows',
    'fit_logistic_regression', 'logistic_regression_accuracy',
    'read_subset_list', 'check_subset_list'
]
