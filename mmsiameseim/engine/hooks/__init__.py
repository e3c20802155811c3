"""Hooks of mmsiameseim."""
from .knn_monitor import KNNMonitorHook
from .pretrained_load_check import PretrainedLoadCheckHook

__all__ = ['KNNMonitorHook', 'PretrainedLoadCheckHook']
