"""Runner-side parts: runner, resumable train loop, hooks, RNG state."""
from .hooks import KNNMonitorHook, NumericsGuardHook, PretrainedLoadCheckHook
from .loops import ResumableEpochBasedTrainLoop
from .optim_constructor import QuietOptimWrapperConstructor
from .rng_state import capture_rng_state, restore_rng_state
from .runner import SafeResumeRunner

__all__ = [
    'KNNMonitorHook', 'NumericsGuardHook', 'PretrainedLoadCheckHook',
    'QuietOptimWrapperConstructor', 'ResumableEpochBasedTrainLoop',
    'SafeResumeRunner', 'capture_rng_state',
    'restore_rng_state'
]
