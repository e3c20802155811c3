"""Pins of behaviour (see :mod:`behaviour_pins`): equal to main's."""
import json

import pytest

from test_tools.behaviour_pins import PINS, compute_all


@pytest.fixture(scope='module')
def measured(tmp_path_factory):
    return compute_all(str(tmp_path_factory.mktemp('pins')))


with open(PINS) as f:
    EXPECTED = json.load(f)


@pytest.mark.parametrize('name', sorted(EXPECTED))
def test_pinned(name, measured):
    assert name in measured, f'{name} is no longer measured'
    assert json.loads(json.dumps(measured[name])) == EXPECTED[name]


def test_nothing_unpinned(measured):
    assert sorted(measured) == sorted(EXPECTED)
