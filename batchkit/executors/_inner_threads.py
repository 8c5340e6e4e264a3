"""Caps on the thread pools inside worker processes (BLAS, OpenMP, numba), so workers x threads <= CPUs.

Each of N worker processes calling numpy's BLAS (or a numba ``parallel=True`` kernel) would
start one thread per CPU by default: N x CPUs busy threads on CPUs cores, which makes every
item slower than one process alone (oversubscription). A worker applies the cap of each
chunk it gets before running it:

* the libraries already loaded (numpy's BLAS is: the forkserver preloads numpy) through
  ``threadpoolctl``, which changes their thread count at run time;
* the environment variables those libraries read when they load, for one loaded later;
* numba: ``NUMBA_NUM_THREADS`` before numba is imported in the worker (so the first cap a
  worker gets is the most numba threads it will ever run), then ``set_num_threads`` once its
  threads have started. The cap is applied before the worker function is unpickled, since
  unpickling a function that uses numba imports it.

A cap is applied only when it changes, so a worker pays for it (about 1 ms) once per value.
"""

from __future__ import annotations

import os
import sys

__all__ = ["ENV_VARIABLES", "apply", "default_cap"]

#: the variables that thread pools read when their library loads
ENV_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
)
_applied = {"pools": None, "numba": None}


def default_cap(n_workers: int, cpus: int) -> int:
    """Inner threads per worker so that ``n_workers`` of them use at most ``cpus`` CPUs.

    Examples
    --------
    >>> default_cap(2, 16), default_cap(4, 2), default_cap(3, 8)
    (8, 1, 2)
    """
    return max(1, cpus // max(1, n_workers))


def apply(cap: int) -> None:
    """In a worker: cap the thread pools of this process at ``cap`` threads each."""
    if _applied["pools"] != cap:
        for name in ENV_VARIABLES:
            os.environ[name] = str(cap)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=cap)  # not a context: the limits stay for this process
        _applied["pools"] = cap
    if "numba" not in sys.modules:
        # read when numba loads: it then starts at most ``cap`` threads
        os.environ.setdefault("NUMBA_NUM_THREADS", str(cap))
        return
    launcher = sys.modules.get("numba.np.ufunc.parallel")
    # Only once numba's threads run: set_num_threads would start them, and numba's start-up
    # lock, a multiprocessing lock the worker never releases, is then reported as leaked at exit.
    if launcher is not None and launcher._is_initialized and _applied["numba"] != cap:
        numba = sys.modules["numba"]
        numba.set_num_threads(min(cap, numba.config.NUMBA_NUM_THREADS))
        _applied["numba"] = cap
