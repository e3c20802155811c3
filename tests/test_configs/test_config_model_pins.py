"""Every config's model is the one pinned (see :mod:`config_pins`)."""
import json

import pytest

from test_configs.config_pins import PINS, model_pin, shipped_configs

with open(PINS) as f:
    EXPECTED = json.load(f)
CONFIGS = shipped_configs()


def test_every_config_has_a_pin():
    assert sorted(CONFIGS) == sorted(EXPECTED)


@pytest.mark.parametrize('stem', sorted(EXPECTED))
def test_model_pinned(stem):
    assert stem in CONFIGS, f'config {stem} is gone'
    assert list(model_pin(CONFIGS[stem])) == EXPECTED[stem]
