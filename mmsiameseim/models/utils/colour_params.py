"""The float32 colour-parameter record of one view on the device colour
route (its fields: docs/method.md §1, "Where the colour ops run")."""
from typing import Dict

import numpy as np

#: The ``results`` / data-sample key of the records.
COLOUR_PARAMS_KEY = 'colour_params'
#: The field names, in record order.
FIELDS = ('jitter', 'order_0', 'order_1', 'order_2', 'order_3', 'brightness',
          'contrast', 'saturation', 'hue', 'grayscale', 'blur', 'sigma',
          'solarize', 'threshold')
#: Field name -> position in the record.
INDEX: Dict[str, int] = {name: i for i, name in enumerate(FIELDS)}
NUM_FIELDS = len(FIELDS)
#: The jitter's ops, numbered as in ``order_k`` (torchvision's numbering).
JITTER_OPS = ('brightness', 'contrast', 'saturation', 'hue')
#: The value of each jitter factor that leaves the image unchanged.
JITTER_IDENTITY = (1., 1., 1., 0.)
#: The stage of each op kind: the device applies the stages in this order.
STAGES = ('jitter', 'grayscale', 'blur', 'solarize')
#: The stages after the jitter, with the field of their parameter.
AFTER_JITTER = dict(grayscale=None, blur='sigma', solarize='threshold')

_IDENTITY = np.array(
    [0., 0., 1., 2., 3., *JITTER_IDENTITY, 0., 0., 0., 0., 256.],
    dtype=np.float32)


def identity_record() -> np.ndarray:
    """A fresh float32 ``(NUM_FIELDS,)`` record that changes nothing."""
    return _IDENTITY.copy()


def describe_record(record: np.ndarray) -> list:
    """``(op,)`` or ``(op, value)`` of each op a ``(NUM_FIELDS,)`` record
    applies, in the device's order (jitter ops of identity factor left
    out), e.g. ``[('hue', -0.04), ('grayscale',), ('blur', 1.5)]``."""
    rec = np.asarray(record, dtype=np.float32)
    ops = []
    if rec[INDEX['jitter']]:
        for pos in range(4):
            k = int(rec[INDEX[f'order_{pos}']])
            value = rec[INDEX[JITTER_OPS[k]]]
            if value != JITTER_IDENTITY[k]:
                ops.append((JITTER_OPS[k], float(value)))
    for name, field in AFTER_JITTER.items():
        if rec[INDEX[name]]:
            value = () if field is None else (float(rec[INDEX[field]]), )
            ops.append((name, ) + value)
    return ops
