"""Batching and the learning-rate curve of the probes trained on cached
features (the linear probe tool and the dense probe).

The Runner configs (``configs/siameseim/benchmarks/``) use mmengine's
samplers and schedulers instead; these helpers only serve the loops that
train a head on features held in memory, where a Runner would re-encode
every image at every step.
"""
import math
from typing import Iterator

import torch


def warmup_cosine(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warm-up from 0 for ``warmup`` steps, then half-cosine to 0.

    Args:
        step (int): The current step (0-based).
        total (int): Number of steps.
        warmup (int): Warm-up steps.
        base (float): Peak value.

    Returns:
        float: The value at ``step``.
    """
    if warmup > 0 and step < warmup:
        return base * step / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1. + math.cos(math.pi * min(1., progress)))


def num_batches(n: int, batch_size: int) -> int:
    """Number of batches :func:`shuffled_batches` yields per epoch."""
    full, rest = divmod(n, batch_size)
    return full + int(rest > 1 or (n == 1))


def shuffled_batches(n: int, batch_size: int,
                     generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Shuffled index batches; a trailing batch of one row is dropped.

    (BatchNorm in train mode cannot normalise a single row.)

    Args:
        n (int): Number of rows.
        batch_size (int): Rows per batch.
        generator (torch.Generator): Source of the permutation.

    Yields:
        Tensor: int64 row indices.
    """
    perm = torch.randperm(n, generator=generator)
    for start in range(0, n, batch_size):
        idx = perm[start:start + batch_size]
        if len(idx) > 1 or n == 1:
            yield idx
