"""SiameseIM's data preprocessor: the device half of the colour route."""
from typing import Optional, Sequence

import numpy as np
import torch
from mmpretrain.models.utils import SelfSupDataPreprocessor
from mmpretrain.registry import MODELS

from ..utils.batch_colour import apply_colour_params_
from ..utils.colour_params import COLOUR_PARAMS_KEY, NUM_FIELDS


def gather_colour_params(data_samples: Optional[Sequence]
                         ) -> Optional[np.ndarray]:
    """The samples' ``colour_params`` records stacked on the host: float32
    ``(B, V, NUM_FIELDS)``, None when no sample carries any (the kNN
    monitor's batches), a ``KeyError`` when only some do."""
    if not data_samples:
        return None
    have = [COLOUR_PARAMS_KEY in s for s in data_samples]
    if not any(have):
        return None
    if not all(have):
        raise KeyError(f'{have.count(False)} of {len(have)} data samples '
                       f'have no `{COLOUR_PARAMS_KEY}`: a batch is either '
                       'on the device colour route or not')
    records = []
    for sample in data_samples:
        value = sample.get(COLOUR_PARAMS_KEY)
        if isinstance(value, torch.Tensor):
            value = value.cpu().numpy()
        records.append(np.asarray(value, dtype=np.float32))
    params = np.stack(records)
    if params.ndim != 3 or params.shape[2] != NUM_FIELDS:
        raise ValueError(f'`{COLOUR_PARAMS_KEY}` must be (views, '
                         f'{NUM_FIELDS}) per sample, got {params.shape[1:]}')
    return params


@MODELS.register_module()
class SiameseIMDataPreprocessor(SelfSupDataPreprocessor):
    """``SelfSupDataPreprocessor`` that also applies the views' colour ops.

    On the device colour route (docs/method.md §1) it applies the samples'
    ``colour_params`` records to the batch on the model's device, after
    the channel swap and before normalising, in training only; a batch
    without records goes through as in the parent. Arguments are the
    parent's.
    """

    #: ``check_data_pipeline`` asks for this before a device-route run.
    applies_colour_params = True

    def forward(self, data: dict, training: bool = False) -> dict:
        """Cast, swap channels, apply the colour records, normalise
        ``data['inputs']`` (a uint8 ``(B, 3, H, W)`` tensor or a list of
        them, one per view); the parent's arguments and result."""
        params = gather_colour_params(
            data.get('data_samples')) if training else None
        if params is None:
            return super().forward(data, training)
        data = self.cast_data(data)
        inputs = data['inputs']
        views = list(inputs) if isinstance(inputs, (list, tuple)) \
            else [inputs]
        if params.shape[1] != len(views):
            raise ValueError(f'{params.shape[1]} colour records per sample '
                             f'for {len(views)} views')
        out = self._colour(views, params)
        return dict(
            inputs=out if isinstance(inputs, (list, tuple)) else out[0],
            data_samples=data.get('data_samples'))

    def _colour(self, views: list, params: np.ndarray) -> list:
        """All views at once (one batch of ``V * B`` images, so one pass
        over the op groups): RGB float copy, colour, normalisation."""
        batch = torch.cat(views)
        if self._channel_conversion:
            batch = batch[:, [2, 1, 0], ...]
        batch = batch.to(torch.float32)
        # view-major records, as the views are concatenated
        records = params.transpose(1, 0, 2).reshape(-1, params.shape[2])
        apply_colour_params_(batch, records)
        if self._enable_normalize:
            batch = (batch - self.mean) / self.std
        return list(batch.split(len(params)))
