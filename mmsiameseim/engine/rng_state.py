"""Capture and restore the process-wide random number generators."""
import random

import numpy as np
import torch


def capture_rng_state() -> dict:
    """The states of ``random``, ``np.random``, torch's CPU and CUDA RNGs.

    Stored as tensors and plain values, so that the dict also loads with
    ``torch.load(weights_only=True)``.

    Returns:
        dict: Pass it to :func:`restore_rng_state`.
    """
    version, internal, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = dict(
        python=dict(
            version=version,
            internal=torch.tensor(internal, dtype=torch.int64),
            gauss=gauss),
        numpy=dict(
            kind=kind,
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached=float(cached)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict) -> None:
    """Put back the RNG states saved by :func:`capture_rng_state`.

    Args:
        state (dict): From :func:`capture_rng_state`.
    """
    py = state['python']
    random.setstate((py['version'], tuple(py['internal'].tolist()),
                     py['gauss']))
    npy = state['numpy']
    np.random.set_state((npy['kind'], npy['keys'].numpy().astype(np.uint32),
                         npy['pos'], npy['has_gauss'], npy['cached']))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        saved = state['cuda']
        if len(saved) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(saved)
