"""A sampler that can restart mid-epoch and gives every sample its own seed.

Why not mmengine's ``DefaultSampler`` alone: on resume it restarts the epoch
from its first sample (mmengine 0.10.7's ``EpochBasedTrainLoop`` has no way
to skip what was already trained), and the random augmentations come from
each dataloader worker's RNG, whose state lives in the worker processes and
is lost with them (and, with ``persistent_workers=False``, mmengine's
``worker_init_fn`` starts every epoch's workers from the same RNG state,
so each epoch draws the same sequence of random parameters).
:class:`ResumableSampler` keeps DefaultSampler's order and adds a start
position and a seed per sample, which
:class:`~mmsiameseim.datasets.SampleSeededDataset` uses to seed the RNGs
before the pipeline runs: the augmentations of image ``i`` in epoch ``e``
then depend on ``(seed, e, i)`` only, not on the rank, the number of ranks
or workers, or where a run was resumed.
"""
from typing import Iterator, Optional, Sequence, Sized, Tuple, Union

import numpy as np
from mmengine.dataset import DefaultSampler
from mmpretrain.registry import DATA_SAMPLERS


def sample_seeds(seed: int, epoch: int, indices: Sequence[int],
                 dataset_size: int) -> np.ndarray:
    """The per-sample seeds of ``indices`` in ``epoch``.

    One uint32 per dataset index, drawn from a NumPy generator seeded with
    ``(seed, epoch)`` (a ``SeedSequence``), so the seed of an index does not
    depend on which other indices are asked for.

    Args:
        seed (int): The sampler's seed (the same on every rank).
        epoch (int): The epoch.
        indices (Sequence[int]): Dataset indices.
        dataset_size (int): Length of the dataset.

    Returns:
        np.ndarray: uint32 seeds, one per entry of ``indices``.
    """
    rng = np.random.default_rng([int(seed) % 2**63, int(epoch)])
    table = rng.integers(0, 2**32, size=dataset_size, dtype=np.uint32)
    return table[np.asarray(indices, dtype=np.int64)]


@DATA_SAMPLERS.register_module()
class ResumableSampler(DefaultSampler):
    """``DefaultSampler`` with a resumable position and per-sample seeds.

    The order of the indices is exactly DefaultSampler's (the same
    permutation for the same seed and epoch, the same split over ranks).

    Args:
        dataset (Sized): The dataset.
        shuffle (bool): Shuffle every epoch. Defaults to True.
        seed (int, optional): Shuffling and per-sample seed, the same on
            all ranks. None draws one on rank 0 and broadcasts it, as
            DefaultSampler does; it is saved in the train loop's state so
            that a resumed run uses the same one. Defaults to None.
        round_up (bool): Pad the index list to a multiple of the world size.
            Defaults to True.
        seed_samples (bool): Yield ``(index, sample_seed)`` pairs for
            :class:`~mmsiameseim.datasets.SampleSeededDataset` instead of
            bare indices. Defaults to True.
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
        """Start the next pass after this rank's first ``num_samples``.

        One-shot: the pass after the next one starts at the beginning again.
        ``len(self)`` still reports the whole epoch, so that the loader's
        length and the loop's batch numbering stay those of a full epoch.

        Args:
            num_samples (int): Samples of this rank already trained on in
                the current epoch, in ``[0, len(self)]``.
        """
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
        """Take over the seed and epoch of a saved sampler.

        Args:
            state (dict): From :meth:`state_dict`.

        Raises:
            ValueError: If the saved sampler split the data differently
                (another world size, dataset size or shuffle setting): the
                remaining samples of the epoch would not be the ones the
                saved run had left.
        """
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
