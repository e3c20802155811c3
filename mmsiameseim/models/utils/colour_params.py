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
