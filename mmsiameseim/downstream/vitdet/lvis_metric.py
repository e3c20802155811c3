"""mmdet's LVIS metric on NumPy >= 1.24: PyPI's ``lvis`` 0.5.3 calls
``np.float``, so :class:`NumPy2LVISMetric` provides the alias while it
evaluates."""
import contextlib
from typing import Iterator

import numpy as np
from mmdet.evaluation import LVISMetric
from mmdet.registry import METRICS


@contextlib.contextmanager
def numpy_float_alias() -> Iterator[None]:
    """Provide ``np.float`` (= ``float``) while the block runs, if absent."""
    added = not hasattr(np, 'float')
    if added:
        np.float = float
    try:
        yield
    finally:
        if added:
            del np.float


@METRICS.register_module()
class NumPy2LVISMetric(LVISMetric):
    """mmdet's ``LVISMetric`` (same arguments and results), usable with
    PyPI's ``lvis`` on NumPy 2."""

    def compute_metrics(self, results: list) -> dict:
        """Evaluate with ``np.float`` available (see the module doc)."""
        with numpy_float_alias():
            return super().compute_metrics(results)
