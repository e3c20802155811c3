"""Sync-free gathers of the tokens a fixed-count mask selects."""
import torch


def unmasked_index(mask: torch.Tensor, count: int) -> torch.Tensor:
    """``(B, count)`` raster-order positions of the ``count`` False entries
    of each row of a ``(B, L)`` bool ``mask``.

    ``x.gather(1, index)`` equals ``x[~mask].reshape(B, count, ...)``
    without boolean indexing's host sync: sorting ``mask * L + position``
    puts the False positions first (docs/design.md).
    """
    length = mask.shape[1]
    pos = torch.arange(length, device=mask.device)
    keys = mask.to(torch.long) * length + pos
    return keys.argsort(dim=1)[:, :count]
