"""Hooks of mmsiameseim."""
from .knn_monitor import KNNMonitorHook
from .numerics_guard import NumericsGuardHook
from .pretrained_load_check import PretrainedLoadCheckHook

__all__ = ['KNNMonitorHook', 'NumericsGuardHook', 'PretrainedLoadCheckHook']
