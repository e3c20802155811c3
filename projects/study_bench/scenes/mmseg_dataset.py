"""The Fashion-MNIST scenes folder as an mmseg dataset.

:func:`projects.study_bench.scenes.mmseg.write_mmseg_scenes` (or
``tools/data/make_fashion_scenes_mmseg.py``) writes the folders; this
registers :class:`FashionScenesSegDataset` in mmseg's ``DATASETS``, mmseg's
``BaseSegDataset`` with the scenes' class names and palette, as mmseg's own
``ADE20KDataset`` is for ADE20k, and :class:`PerClassIoUMetric` in its
``METRICS``.
"""
from typing import Dict

from mmseg.datasets import BaseSegDataset
from mmseg.evaluation import IoUMetric
from mmseg.registry import DATASETS, METRICS

from .generate import SCENE_CLASSES, SCENE_PALETTE


@DATASETS.register_module()
class FashionScenesSegDataset(BaseSegDataset):
    """Fashion-MNIST scenes for mmseg: 11 classes, background included.

    Args:
        img_suffix (str): Defaults to ``'.png'``.
        seg_map_suffix (str): Defaults to ``'.png'``.
        reduce_zero_label (bool): Defaults to False: label 0 is the
            background class, not "ignore".
        **kwargs: Other arguments of ``BaseSegDataset`` (``data_root``,
            ``data_prefix``, ``pipeline``, ...).
    """

    METAINFO = dict(
        classes=SCENE_CLASSES, palette=[list(c) for c in SCENE_PALETTE])

    def __init__(self,
                 img_suffix: str = '.png',
                 seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = False,
                 **kwargs) -> None:
        super().__init__(
            img_suffix=img_suffix,
            seg_map_suffix=seg_map_suffix,
            reduce_zero_label=reduce_zero_label,
            **kwargs)


@METRICS.register_module()
class PerClassIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` that also returns each class's IoU.

    ``IoUMetric`` logs a per-class table but returns only the means. This
    adds ``IoU.<class name>`` (in %, ``nan`` for a class absent from both
    the ground truth and the predictions) to the returned metrics, so that
    benchmark records can keep them.
    """

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """The means of ``IoUMetric`` plus ``IoU.<class>`` entries.

        Args:
            results (list): Per-image ``(intersect, union, pred, label)``
                areas from :meth:`IoUMetric.process`.

        Returns:
            dict: The metrics.
        """
        metrics = super().compute_metrics(results)
        intersect = sum(r[0] for r in results).double()
        union = sum(r[1] for r in results).double()
        iou = (intersect / union).tolist()  # nan where the union is empty
        for name, value in zip(self.dataset_meta['classes'], iou):
            metrics[f'IoU.{name}'] = round(100. * value, 2)
        return metrics
