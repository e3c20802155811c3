"""Metrics of the robustness benchmarks (registered into mmpretrain)."""
from .class_subset_accuracy import ClassSubsetAccuracy
from .corruption_error import (ALEXNET_MEAN_ERRORS, CorruptionError,
                               corruption_errors)

__all__ = [
    'ClassSubsetAccuracy', 'CorruptionError', 'corruption_errors',
    'ALEXNET_MEAN_ERRORS'
]
