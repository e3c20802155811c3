"""Sync-free gathers of the tokens a fixed-count mask selects."""
import torch


def unmasked_index(mask: torch.Tensor, count: int) -> torch.Tensor:
    """Raster-order positions of the ``count`` False entries of each row.

    A replacement for ``x[~mask]`` (boolean indexing, which needs
    ``nonzero`` and therefore a device-to-host sync) when every row of
    ``mask`` holds the same, known number of False entries: sorting the
    unique keys ``mask * L + position`` puts the False positions first, in
    ascending order, without reading anything back to the host.
    ``x.gather(1, index)`` with the result equals
    ``x[~mask].reshape(B, count, ...)`` exactly.

    Args:
        mask (Tensor): ``(B, L)`` bool, True = masked.
        count (int): Number of False entries in every row.

    Returns:
        Tensor: ``(B, count)`` int64 indices on ``mask``'s device.
    """
    length = mask.shape[1]
    pos = torch.arange(length, device=mask.device)
    keys = mask.to(torch.long) * length + pos
    return keys.argsort(dim=1)[:, :count]
