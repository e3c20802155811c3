"""Compile-friendly drop-path rates for mmpretrain's ViTs."""
import numpy as np
import torch.nn as nn


def float_drop_path_rates(model: nn.Module) -> None:
    """Turn NumPy-scalar ``drop_prob`` attributes into Python floats.

    mmpretrain keeps them as NumPy scalars (``np.linspace``), on which
    ``torch.compile`` graph-breaks in every block. In place, on every
    submodule of ``model``.
    """
    for module in model.modules():
        if isinstance(getattr(module, 'drop_prob', None), np.generic):
            module.drop_prob = float(module.drop_prob)
