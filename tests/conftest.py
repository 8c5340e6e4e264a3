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

TARGETS = tuple(batchkit.target_names())


@pytest.fixture(params=TARGETS, ids=TARGETS)
def target(request):
    """The name of one registered target (for, threads, async, mpc)."""
    return request.param
