"""``python -m batchkit demo --dask``: the demo's pipeline on a LocalCluster, checked against the loop."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def demo():
    command = [sys.executable, "-m", "batchkit", "demo", "--images", "16", "--batch-size", "8"]
    command += ["--size", "32", "--no-bar", "--dask"]
    return subprocess.run(command, capture_output=True, text=True, timeout=110)


@pytest.mark.timeout(120)
def test_demo_on_dask_matches_the_plain_loop(demo):
    """The dask run's output equals the plain loop's, and the demo exits 0 with its verdict."""
    lines = demo.stdout.strip().splitlines()
    dask_line = next(line for line in lines if line.startswith("dask:"))
    assert (demo.returncode, dask_line.endswith("output equal to the plain loop's"), lines[-1][:3]) == (
        0,
        True,
        "OK:",
    )


@pytest.mark.timeout(120)
def test_demo_on_dask_announces_its_cluster(demo):
    """The LocalCluster the demo starts is announced on stderr, on 127.0.0.1."""
    assert "started a dask LocalCluster" in demo.stderr and "127.0.0.1" in demo.stderr
