"""ResumableSampler: DefaultSampler's order, a start position, seeds."""
import pytest
from mmengine.dataset import DefaultSampler

from mmsiameseim.datasets import ResumableSampler, sample_seeds


def _pairs(sampler):
    return list(iter(sampler))


@pytest.mark.parametrize('shuffle', [True, False])
def test_order_is_default_samplers(shuffle):
    data = list(range(23))
    for epoch in (0, 3):
        ours = ResumableSampler(data, shuffle=shuffle, seed=7)
        theirs = DefaultSampler(data, shuffle=shuffle, seed=7)
        ours.set_epoch(epoch)
        theirs.set_epoch(epoch)
        assert [i for i, _ in _pairs(ours)] == list(theirs)
        plain = ResumableSampler(data, shuffle=shuffle, seed=7,
                                 seed_samples=False)
        plain.set_epoch(epoch)
        assert list(plain) == list(theirs)


def test_skip_starts_after_the_trained_samples_once():
    sampler = ResumableSampler(list(range(20)), seed=1)
    full = _pairs(sampler)
    sampler.skip(8)
    assert len(sampler) == 20  # the loader keeps a full epoch's length
    assert _pairs(sampler) == full[8:]
    assert _pairs(sampler) == full  # one-shot
    sampler.skip(20)
    assert _pairs(sampler) == []
    with pytest.raises(ValueError, match='cannot skip 21 samples'):
        sampler.skip(21)


def test_seeds_depend_on_seed_epoch_and_index_only():
    table = dict(_pairs(ResumableSampler(list(range(30)), seed=3)))
    assert len(set(table.values())) == 30
    # any subset / order of indices gets the same per-index seeds
    assert list(sample_seeds(3, 0, [29, 0, 5], 30)) == [
        table[29], table[0], table[5]
    ]
    # another epoch or sampler seed draws new ones
    assert list(sample_seeds(3, 1, [0, 5], 30)) != [table[0], table[5]]
    assert list(sample_seeds(4, 0, [0, 5], 30)) != [table[0], table[5]]


def test_state_round_trip_and_refusal():
    a = ResumableSampler(list(range(10)), seed=11)
    a.set_epoch(4)
    b = ResumableSampler(list(range(10)), seed=99)
    b.load_state_dict(a.state_dict())
    assert (b.seed, b.epoch) == (11, 4)
    assert _pairs(b) == _pairs(a)
    c = ResumableSampler(list(range(12)), seed=0)
    with pytest.raises(ValueError, match='num_samples=10.*num_samples=12'):
        c.load_state_dict(a.state_dict())
