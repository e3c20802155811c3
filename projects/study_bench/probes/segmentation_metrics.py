"""Segmentation metrics of the dense probe: confusion matrix and mIoU.

Dataset-level counts, the mmseg definition of IoU (mean over the classes
present in the ground truth or the prediction).
"""
import math
from typing import Dict, Optional

import torch
from torch import Tensor


def confusion_matrix(pred: Tensor,
                     target: Tensor,
                     num_classes: int,
                     ignore_index: Optional[int] = 255) -> Tensor:
    """``(K, K)`` int64 counts, rows = ground truth, columns = prediction.

    Args:
        pred (Tensor): Predicted labels, any shape.
        target (Tensor): Ground-truth labels, the same shape.
        num_classes (int): ``K``.
        ignore_index (int, optional): Ground-truth value to skip.
            Defaults to 255.

    Returns:
        Tensor: The confusion matrix.
    """
    if pred.shape != target.shape:
        raise ValueError(f'pred {tuple(pred.shape)} and target '
                         f'{tuple(target.shape)} differ in shape')
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).long()
    if ignore_index is not None:
        keep = target != ignore_index
        pred, target = pred[keep], target[keep]
    for name, t in (('pred', pred), ('target', target)):
        if t.numel() and (t.min() < 0 or t.max() >= num_classes):
            raise ValueError(f'{name} labels must lie in [0, {num_classes})')
    flat = target * num_classes + pred
    return torch.bincount(
        flat.cpu(), minlength=num_classes**2).reshape(num_classes,
                                                      num_classes)


def miou_from_confusion(cm: Tensor) -> Dict[str, object]:
    """Dataset-level IoU per class, mIoU and pixel accuracy.

    ``IoU_c = TP_c / (TP_c + FP_c + FN_c)``, accumulated over the whole
    dataset. Classes with an empty union (neither in the ground truth nor
    predicted) have IoU NaN (``None`` in the output) and are left out of
    the mean.

    Args:
        cm (Tensor): ``(K, K)`` confusion matrix (rows = ground truth).

    Returns:
        dict: ``miou`` and ``aacc`` (percent), ``iou`` (list of percent or
        None) and ``num_classes_present``.
    """
    cm = cm.double()
    tp = cm.diag()
    union = cm.sum(0) + cm.sum(1) - tp
    present = union > 0
    if not present.any():
        raise ValueError('empty confusion matrix')
    iou = torch.where(present, tp / union.clamp(min=1), torch.nan)
    return dict(
        miou=iou[present].mean().item() * 100.,
        aacc=(tp.sum() / cm.sum()).item() * 100.,
        iou=[None if math.isnan(v) else v * 100. for v in iou.tolist()],
        num_classes_present=int(present.sum()))
