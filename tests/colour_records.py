"""Reading a device-route colour record back, for the colour tests."""
import numpy as np

from mmsiameseim.models.utils.colour_params import (AFTER_JITTER, INDEX,
                                                    JITTER_IDENTITY,
                                                    JITTER_OPS)


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
