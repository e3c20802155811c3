"""Top-k accuracy of a 1000-way classifier on a class subset: ImageNet-A
and -R keep their 200 classes' logits (their reference evaluation)."""
from typing import List, Sequence

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.evaluation import Accuracy
from mmpretrain.registry import METRICS

from ...datasets.imagenet_classes import class_subset_indices


@METRICS.register_module()
class ClassSubsetAccuracy(BaseMetric):
    """Accuracy of scores restricted to a class subset (labels: ImageNet-1k
    indices).

    Args:
        classes (str | Sequence[str]): ``'imagenet-a'``, ``'imagenet-r'``,
            a wnid file or wnids (``load_wnids``).
        topk (int | Sequence[int]): Defaults to ``(1, )``.
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'subset'``.
    """

    default_prefix = 'subset'

    def __init__(self,
                 classes,
                 topk=(1, ),
                 collect_device: str = 'cpu',
                 prefix=None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.indices = torch.tensor(class_subset_indices(classes))
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1 or \
                max(self.topk) > len(self.indices):
            raise ValueError(f'topk must lie in [1, {len(self.indices)}], '
                             f'got {self.topk}')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep the subset's scores and the label of every sample."""
        for sample in data_samples:
            if 'pred_score' not in sample:
                raise KeyError('ClassSubsetAccuracy needs pred_score (the '
                               '1000 class scores) in the predictions')
            scores = sample['pred_score'].cpu()
            if scores.numel() <= int(self.indices.max()):
                raise ValueError(f'{scores.numel()} class scores cannot be '
                                 'restricted to ImageNet-1k indices up to '
                                 f'{int(self.indices.max())}')
            self.results.append(
                dict(
                    score=scores[self.indices],
                    gt_label=int(sample['gt_label'].reshape(-1)[0])))

    def compute_metrics(self, results: List[dict]) -> dict:
        """``top{k}`` accuracies in percent."""
        position = {int(c): j for j, c in enumerate(self.indices.tolist())}
        labels = []
        for r in results:
            if r['gt_label'] not in position:
                raise ValueError(f'ground-truth class {r["gt_label"]} is not '
                                 'in the class subset of the metric')
            labels.append(position[r['gt_label']])
        accs = Accuracy.calculate(
            torch.stack([r['score'] for r in results]),
            torch.tensor(labels),
            topk=self.topk,
            thrs=(None, ))  # every prediction counts, whatever its score
        return {f'top{k}': acc[0].item() for k, acc in zip(self.topk, accs)}
