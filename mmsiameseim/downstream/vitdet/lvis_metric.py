"""mmdet's LVIS metric on NumPy >= 1.24 with the ``lvis`` of PyPI.

mmdet's ``LVISMetric`` runs ``lvis.LVISEval``. The newest ``lvis`` on PyPI
(0.5.3, 2020) calls ``np.float`` in ``LVISEval.accumulate``; NumPy 1.24
removed that alias, so with this stack's NumPy 2 the evaluation fails with
an ``AttributeError`` after the whole training run (the fix is only in the
lvis-api repository, not in a release). :class:`NumPy2LVISMetric` is
mmdet's metric with the alias present during its own evaluation only.
"""
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
    """mmdet's ``LVISMetric``, usable with PyPI's ``lvis`` on NumPy 2.

    Same arguments and results as ``mmdet.evaluation.LVISMetric``.
    """

    def compute_metrics(self, results: list) -> dict:
        """Evaluate with ``np.float`` available (see the module doc)."""
        with numpy_float_alias():
            return super().compute_metrics(results)
