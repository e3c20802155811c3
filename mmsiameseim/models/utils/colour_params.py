"""The colour-parameter record of one view (the device colour route).

With ``SiameseIMViews(colour_on='device')`` the dataloader worker draws
every colour parameter of a view (from NumPy's global RNG, in the order the
worker-side ops draw them) without touching the pixels, and writes them
into one float32 record of :data:`NUM_FIELDS` numbers per view; the two
records of a sample travel as ``results['colour_params']`` (``(2,
NUM_FIELDS)``, packed by ``PackInputs(algorithm_keys=[...,
'colour_params'])`` like ``rel_pos``). The data preprocessor
(:class:`~mmsiameseim.models.SiameseIMDataPreprocessor`) applies them to
the batch on the model's device with the ops of
:mod:`~mmsiameseim.models.utils.batch_colour`, in the fixed order jitter,
grayscale, blur, solarize (docs/method.md §1).

Fields (an op that is not applied keeps its identity value):

=============== ==========================================================
``jitter``      1 if the colour jitter is applied, else 0
``order_0..3``  the jitter's op at each of its 4 positions (0 brightness,
                1 contrast, 2 saturation, 3 hue), a permutation of 0..3
``brightness``  brightness factor (1: unchanged)
``contrast``    contrast factor (1: unchanged)
``saturation``  saturation factor (1: unchanged)
``hue``         hue shift in turns, in [-0.5, 0.5] (0: unchanged)
``grayscale``   1 if the view becomes grayscale
``blur``        1 if the view is blurred
``sigma``       the blur's sigma in pixels (PIL's ``radius``)
``solarize``    1 if the view is solarized
``threshold``   pixels ``>= threshold`` are inverted (256: none)
=============== ==========================================================
"""
from typing import Dict

import numpy as np

#: The ``results`` / data-sample key of the records.
COLOUR_PARAMS_KEY = 'colour_params'
#: The field names, in record order.
FIELDS = ('jitter', 'order_0', 'order_1', 'order_2', 'order_3',
          'brightness', 'contrast', 'saturation', 'hue', 'grayscale', 'blur',
          'sigma', 'solarize', 'threshold')
#: Field name -> position in the record.
INDEX: Dict[str, int] = {name: i for i, name in enumerate(FIELDS)}
NUM_FIELDS = len(FIELDS)
#: The jitter's ops, numbered as in ``order_k`` (torchvision's numbering).
JITTER_OPS = ('brightness', 'contrast', 'saturation', 'hue')
#: The value of each jitter factor that leaves the image unchanged.
JITTER_IDENTITY = (1., 1., 1., 0.)
#: The stage of each op kind: the device applies the stages in this order.
STAGES = ('jitter', 'grayscale', 'blur', 'solarize')

_IDENTITY = np.array(
    [0., 0., 1., 2., 3., *JITTER_IDENTITY, 0., 0., 0., 0., 256.],
    dtype=np.float32)


def identity_record() -> np.ndarray:
    """A fresh float32 record that changes nothing.

    Returns:
        np.ndarray: ``(NUM_FIELDS,)`` float32.
    """
    return _IDENTITY.copy()


def describe_record(record: np.ndarray) -> list:
    """The ops a record applies, in the order the device applies them.

    For tests and debugging: ``[('brightness', 1.23), ('hue', -0.04),
    ('grayscale',), ('blur', 1.5), ('solarize', 128.0)]``; jitter ops
    whose factor is the identity are left out.

    Args:
        record (np.ndarray): One ``(NUM_FIELDS,)`` record.

    Returns:
        list[tuple]: ``(op,)`` or ``(op, value)`` per applied op.
    """
    rec = np.asarray(record, dtype=np.float32)
    ops = []
    if rec[INDEX['jitter']]:
        for pos in range(4):
            k = int(rec[INDEX[f'order_{pos}']])
            value = rec[INDEX[JITTER_OPS[k]]]
            if value != JITTER_IDENTITY[k]:
                ops.append((JITTER_OPS[k], float(value)))
    if rec[INDEX['grayscale']]:
        ops.append(('grayscale', ))
    if rec[INDEX['blur']]:
        ops.append(('blur', float(rec[INDEX['sigma']])))
    if rec[INDEX['solarize']]:
        ops.append(('solarize', float(rec[INDEX['threshold']])))
    return ops
