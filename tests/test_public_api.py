"""The public namespace of ``batchkit``: ``__all__`` and light imports."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest

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


def _loaded_by_import(modules: tuple[str, ...]) -> list[str]:
    """Which of ``modules`` a fresh interpreter has loaded after ``import batchkit``."""
    found = f"sorted(m for m in {modules!r} if m in sys.modules)"
    script = f"import json, sys, batchkit; print(json.dumps({found}))"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize(
    "modules",
    [
        ("numba", "joblib"),  # the compiler and the process pool: only when an action needs them
        ("dask", "distributed"),  # the cluster engine: only for target="dask" or client=
        ("tqdm", "pandas", "cloudpickle", "threadpoolctl", "matplotlib"),  # bars, frames, pickling, plots
    ],
)
def test_import_leaves_heavier_dependencies_until_used(modules):
    """``import batchkit`` in a fresh interpreter loads none of these."""
    assert _loaded_by_import(modules) == []
