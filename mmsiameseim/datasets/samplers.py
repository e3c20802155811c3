"""A sampler that can restart mid-epoch and gives every sample its own seed
(what mmengine's ``DefaultSampler`` lacks: docs/operations.md §1)."""
from typing import Iterator, Optional, Sequence, Sized, Tuple, Union

import numpy as np
from mmengine.dataset import DefaultSampler
from mmpretrain.registry import DATA_SAMPLERS


def sample_seeds(seed: int, epoch: int, indices: Sequence[int],
                 dataset_size: int) -> np.ndarray:
    """The uint32 seeds of dataset ``indices`` in ``epoch``: one per dataset
    index from a generator seeded with ``(seed, epoch)``."""
    rng = np.random.default_rng([int(seed) % 2**63, int(epoch)])
    table = rng.integers(0, 2**32, size=dataset_size, dtype=np.uint32)
    return table[np.asarray(indices, dtype=np.int64)]


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` (the same order) with a resumable position and
    per-sample seeds.

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Shuffle every epoch. Defaults to True.
        seed (int, optional): Shuffling and per-sample seed. Defaults to
            None (drawn as DefaultSampler does, saved with the loop).
        round_up (bool): Pad to a multiple of the world size. Defaults to
            True.
        seed_samples (bool): Yield ``(index, seed)`` pairs. Defaults to True.
    """

    def __init__(self,
                 dataset: Sized,
                 shuffle: bool = True,
                 seed: Optional[int] = None,
                 round_up: bool = True,
                 seed_samples: bool = True) -> None:
        super().__init__(
            dataset=dataset, shuffle=shuffle, seed=seed, round_up=round_up)
        self.seed_samples = seed_samples
        self._start = 0

    def skip(self, num_samples: int) -> None:
        """Start the next pass (only) after this rank's first
        ``num_samples``; ``len(self)`` still counts the whole epoch."""
        if not 0 <= num_samples <= self.num_samples:
            raise ValueError(f'ResumableSampler: cannot skip {num_samples} '
                             f'samples of an epoch of {self.num_samples}')
        self._start = int(num_samples)

    def __iter__(self) -> Iterator[Union[int, Tuple[int, int]]]:
        """This rank's indices (with their seeds) from the start position."""
        indices = list(super().__iter__())[self._start:]
        self._start = 0
        if not self.seed_samples:
            return iter(indices)
        seeds = sample_seeds(self.seed, self.epoch, indices,
                             len(self.dataset)).tolist()
        return iter(zip(indices, seeds))

    def state_dict(self) -> dict:
        """What a resumed run needs to repeat this sampler's order."""
        return dict(
            seed=int(self.seed),
            epoch=int(self.epoch),
            shuffle=self.shuffle,
            round_up=self.round_up,
            seed_samples=self.seed_samples,
            world_size=self.world_size,
            num_samples=self.num_samples)

    def load_state_dict(self, state: dict) -> None:
        """Take over the seed and epoch of a saved sampler; a ``ValueError``
        if it split the data differently."""
        for key in ('shuffle', 'round_up', 'seed_samples', 'world_size',
                    'num_samples'):
            if key in state and state[key] != getattr(self, key):
                raise ValueError(
                    f'ResumableSampler: the checkpoint was written with '
                    f'{key}={state[key]!r}, this run has '
                    f'{key}={getattr(self, key)!r}; the data order cannot '
                    'be continued exactly')
        self.seed = int(state['seed'])
        self.epoch = int(state['epoch'])
