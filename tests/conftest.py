"""Shared pytest setup: import paths and the default registry scope."""
import os
import sys

import pytest

# One OpenMP thread per process unless the caller chose otherwise: the
# models here are tiny, several tests run 2-3 processes at once (torchrun,
# CLI subprocesses), and on the 2-core CI machine the whole suite measured
# 332 s with one thread against about 400 s with torch's default of two.
# Set before anything imports torch (its thread pool reads this once).
os.environ.setdefault('OMP_NUM_THREADS', '1')

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
TESTS = os.path.dirname(os.path.abspath(__file__))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)


@pytest.fixture(autouse=True)
def _mmpretrain_default_scope():
    """Build from mmpretrain's registries whatever an earlier test left.

    mmengine's Runner sets a process-wide default scope (``'mmengine'``
    for some configs), under which ``mmpretrain.registry.MODELS.build``
    looks in the wrong registry; every test starts from mmpretrain's scope,
    as a config with ``default_scope='mmpretrain'`` would.
    """
    from mmengine.registry import init_default_scope
    init_default_scope('mmpretrain')
    yield
    # again on teardown, so that module-scoped fixtures of the next test
    # (set up before this function-scoped fixture runs) see it too
    init_default_scope('mmpretrain')
