"""Losses."""
from .unigrad_dense_loss import UniGradDenseLoss, global_second_moment

__all__ = ['UniGradDenseLoss', 'global_second_moment']
