"""Runner-side parts: the resumable train loop, hooks, RNG state."""
from .hooks import KNNMonitorHook, NumericsGuardHook, PretrainedLoadCheckHook
from .loops import ResumableEpochBasedTrainLoop
from .rng_state import capture_rng_state, restore_rng_state

__all__ = [
    'KNNMonitorHook', 'NumericsGuardHook', 'PretrainedLoadCheckHook',
    'ResumableEpochBasedTrainLoop', 'capture_rng_state', 'restore_rng_state'
]
