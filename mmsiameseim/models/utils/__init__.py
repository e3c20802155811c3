"""Model utilities."""
from .drop_path import float_drop_path_rates
from .relative_position import (RelPos, relative_patch_coords,
                                relative_sincos_embedding, sincos_1d)
from .token_batch_norm import TokenBatchNorm
from .token_index import unmasked_index
from .weight_init import xavier_init_linears

__all__ = [
    'RelPos', 'TokenBatchNorm', 'float_drop_path_rates',
    'relative_patch_coords',
    'relative_sincos_embedding', 'sincos_1d', 'unmasked_index',
    'xavier_init_linears'
]
