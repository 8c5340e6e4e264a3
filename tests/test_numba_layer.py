"""Threads calling numba parallel=True kernels at once: never an abort (each case in a fresh interpreter)."""

import os
import subprocess
import sys
import textwrap

import pytest

from batchkit._numba_layer import _loadable

SCRIPT = textwrap.dedent(
    """
    import numba
    import numpy as np
    from batchkit import Batch, inbatch_parallel, mjit

    class Rows(Batch):
        components = ("rows",)

        @inbatch_parallel(init="rows", post="_keep", target="threads", n_workers=4)
        @mjit(parallel=True)
        def total(self, row):
            s = 0.0
            for i in numba.prange(row.size):
                s += row[i]
            return s

        def _keep(self, results, *args, **kwargs):
            return results

    batch = Rows.from_data(data={"rows": np.ones((32, 100_000))})
    for _ in range(5):
        results = batch.total()
    print(numba.threading_layer(), sorted(set(results)))
    """
)


def run(layer: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_THREADING_LAYER"}
    if layer is not None:
        env["NUMBA_THREADING_LAYER"] = layer
    command = [sys.executable, "-c", SCRIPT]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.timeout(150)
def test_on_the_workqueue_layer_parallel_kernels_are_serialised_instead_of_aborting():
    done = run("workqueue")
    assert done.returncode == 0, done.stderr  # without the lock: SIGABRT, "Concurrent access"
    assert done.stdout.split() == ["workqueue", "[100000.0]"]


@pytest.mark.timeout(150)
@pytest.mark.skipif(
    not any(_loadable(m) for m in ("numba.np.ufunc.omppool", "numba.np.ufunc.tbbpool")),
    reason="neither OpenMP nor TBB is loadable here",
)
def test_with_no_layer_chosen_a_threadsafe_one_is_picked():
    done = run(None)
    assert done.returncode == 0, done.stderr
    layer, result = done.stdout.split()
    assert layer in ("omp", "tbb") and result == "[100000.0]"
