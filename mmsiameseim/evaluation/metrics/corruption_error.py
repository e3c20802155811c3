"""ImageNet-C: ``CE_c = mean_s E_{s,c} / ALEXNET_MEAN_ERRORS[c]`` and mCE,
their mean (configs/siameseim/benchmarks/README.md); the AlexNet errors are
``ALEXNET_ERR`` of https://github.com/google-research/augmix."""
from collections import defaultdict
from typing import Dict, List, Mapping, Sequence, Tuple

from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpretrain.registry import METRICS

from ...datasets.imagenet_classes import IMAGENET_C_CORRUPTIONS

#: AlexNet's top-1 error on each ImageNet-C corruption, averaged over the
#: five severities (fractions).
ALEXNET_MEAN_ERRORS: Dict[str, float] = dict(
    zip(IMAGENET_C_CORRUPTIONS,
        (0.886428, 0.894468, 0.922640, 0.819880, 0.826268, 0.785948, 0.798360,
         0.866816, 0.826572, 0.819324, 0.564592, 0.853204, 0.646056, 0.717840,
         0.606500)))

SEVERITIES = (1, 2, 3, 4, 5)


def corruption_errors(
        errors: Mapping[Tuple[str, int], float],
        reference: Mapping[str,
                           float] = ALEXNET_MEAN_ERRORS) -> Dict[str, object]:
    """``ce`` (per corruption measured at all severities), ``mce`` (None
    unless every reference corruption has one) and ``incomplete`` from
    ``{(corruption, severity): top-1 error}`` and the ``reference`` mean
    errors (a ``ValueError`` for a corruption without one)."""
    by_corruption: Dict[str, Dict[int, float]] = defaultdict(dict)
    for (corruption, severity), err in errors.items():
        if corruption not in reference:
            raise ValueError(f'no reference error for corruption '
                             f'{corruption!r}')
        by_corruption[corruption][int(severity)] = float(err)
    ce, incomplete = {}, []
    for corruption, per_severity in by_corruption.items():
        if sorted(per_severity) != list(SEVERITIES):
            incomplete.append(corruption)
            continue
        mean_error = sum(per_severity.values()) / len(SEVERITIES)
        ce[corruption] = mean_error / reference[corruption]
    mce = None
    if set(ce) == set(reference):
        mce = sum(ce.values()) / len(ce)
    return dict(ce=ce, mce=mce, incomplete=sorted(incomplete))


@METRICS.register_module()
class CorruptionError(BaseMetric):
    """ImageNet-C (``corruption`` / ``severity`` in the metainfo): ``mCE``,
    ``1-mCE``, ``CE/<c>``, ``error/<c>``, ``error/<c>/<severity>`` (%).

    Args:
        collect_device (str): Defaults to ``'cpu'``.
        prefix (str, optional): Defaults to ``'imagenet-c'``.
    """

    default_prefix = 'imagenet-c'

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Record whether each top-1 prediction is right."""
        for sample in data_samples:
            for key in ('corruption', 'severity'):
                if key not in sample:
                    raise KeyError(
                        f'CorruptionError needs {key!r} in the metainfo '
                        "(PackInputs(meta_keys=(..., 'corruption', "
                        "'severity')) with the ImageNetC dataset)")
            if 'pred_score' in sample:
                pred = int(sample['pred_score'].argmax())
            else:
                pred = int(sample['pred_label'].reshape(-1)[0])
            gt = int(sample['gt_label'].reshape(-1)[0])
            self.results.append(
                (sample['corruption'], int(sample['severity']), pred == gt))

    def compute_metrics(self, results: List[tuple]) -> dict:
        """Top-1 errors per (corruption, severity), CE and mCE."""
        counts: Dict[Tuple[str, int], List[int]] = defaultdict(lambda: [0, 0])
        for corruption, severity, correct in results:
            counts[(corruption, severity)][0] += int(not correct)
            counts[(corruption, severity)][1] += 1
        errors = {key: wrong / total for key, (wrong, total) in counts.items()}
        summary = corruption_errors(errors)
        metrics = {}
        for (corruption, severity), err in sorted(errors.items()):
            metrics[f'error/{corruption}/{severity}'] = err * 100.
        for corruption, ce in summary['ce'].items():
            metrics[f'CE/{corruption}'] = ce * 100.
            metrics[f'error/{corruption}'] = sum(
                errors[(corruption, s)]
                for s in SEVERITIES) / len(SEVERITIES) * 100.
        if summary['mce'] is not None:
            metrics['mCE'] = summary['mce'] * 100.
            metrics['1-mCE'] = 100. - summary['mce'] * 100.
        else:
            MMLogger.get_current_instance().warning(
                'ImageNet-C: mCE needs all 15 corruptions at severities 1-5; '
                f'measured CE for {len(summary["ce"])} corruptions, '
                f'incomplete: {summary["incomplete"] or "none"}')
        return metrics
