"""Runner-side parts: runner, resumable train loop, hooks, RNG state."""
from .hooks import KNNMonitorHook, NumericsGuardHook, PretrainedLoadCheckHook
from .loops import (ResumableEpochBasedTrainLoop, capture_rng_state,
                    restore_rng_state)
from .optim_constructor import QuietOptimWrapperConstructor
from .runner import SafeResumeRunner

__all__ = [
    'KNNMonitorHook', 'NumericsGuardHook', 'PretrainedLoadCheckHook',
    'QuietOptimWrapperConstructor', 'ResumableEpochBasedTrainLoop',
    'SafeResumeRunner', 'capture_rng_state',
    'restore_rng_state'
]
