"""Hooks of mmsiameseim."""
from .knn_monitor import KNNMonitorHook

__all__ = ['KNNMonitorHook']
