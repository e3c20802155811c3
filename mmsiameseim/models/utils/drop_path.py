"""Compile-friendly drop-path rates for mmpretrain's ViTs."""
import numpy as np
import torch.nn as nn


def float_drop_path_rates(model: nn.Module) -> None:
    """Turn NumPy-scalar ``drop_prob`` attributes into Python floats.

    mmpretrain keeps each layer's drop-path rate as a NumPy scalar
    (``np.linspace``); ``torch.compile`` treats those as tensor inputs and
    graph-breaks on ``if drop_prob == 0.`` in every block. The same value as
    a Python float compiles into one graph. Works in place on every
    submodule.

    Args:
        model (nn.Module): Any module, e.g. a ViT backbone or a whole
            algorithm.
    """
    for module in model.modules():
        if isinstance(getattr(module, 'drop_prob', None), np.generic):
            module.drop_prob = float(module.drop_prob)
