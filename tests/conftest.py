"""Shared fixtures: the ``target`` fixture runs a test once per registered target."""

import sys
from pathlib import Path

import pytest

import batchkit

# ``helpers`` holds the module-level workers that mpc pickles by reference: make it importable
# whatever pytest's import mode, here and (through the inherited sys.path) in worker processes.
_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

# "dask" needs a cluster: test_dask_target.py runs the crossed suites on it, with one cluster
TARGETS = tuple(name for name in batchkit.target_names() if name != "dask")


@pytest.fixture(params=TARGETS, ids=TARGETS)
def target(request):
    """The name of one registered target (for, threads, async, mpc)."""
    return request.param
