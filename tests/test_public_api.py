"""The public namespace of ``batchkit``: ``__all__`` and light imports."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import batchkit

ROOT = Path(__file__).resolve().parents[1]


def public_names():
    """Names in ``dir(batchkit)`` that are public and not submodules."""
    return {
        name
        for name in dir(batchkit)
        if not name.startswith("_") and not isinstance(getattr(batchkit, name), types.ModuleType)
    }


def test_all_names_exist():
    """Every name listed in ``batchkit.__all__`` is an attribute of the package."""
    missing = [name for name in batchkit.__all__ if not hasattr(batchkit, name)]
    assert missing == []


def test_all_has_no_duplicates():
    """``batchkit.__all__`` lists each name once."""
    assert len(batchkit.__all__) == len(set(batchkit.__all__))


def test_all_lists_no_submodules_or_private_names():
    """``batchkit.__all__`` names no submodule and no underscore name."""
    bad = [
        name
        for name in batchkit.__all__
        if name.startswith("_") or isinstance(getattr(batchkit, name, None), types.ModuleType)
    ]
    assert bad == []


def test_every_public_name_is_in_all():
    """Every public non-module name of the package is listed in ``__all__`` (nothing leaks)."""
    assert public_names() - set(batchkit.__all__) == set()


def test_import_does_not_load_numba_or_joblib():
    """``import batchkit`` in a fresh interpreter imports neither numba nor joblib."""
    script = (
        "import json, sys, batchkit; "
        "print(json.dumps(sorted(m for m in ('numba', 'joblib') if m in sys.modules)))"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_import_does_not_load_dask():
    """``import batchkit`` in a fresh interpreter imports neither dask nor dask.distributed."""
    script = (
        "import json, sys, batchkit; "
        "print(json.dumps(sorted(m for m in ('dask', 'distributed') if m in sys.modules)))"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_import_leaves_the_heavier_dependencies_until_used():
    """``import batchkit`` loads no progress bars, DataFrames, pickler, thread caps or plots."""
    heavy = ("tqdm", "pandas", "cloudpickle", "threadpoolctl", "matplotlib")
    found = f"sorted(m for m in {heavy!r} if m in sys.modules)"
    script = f"import json, sys, batchkit; print(json.dumps({found}))"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
