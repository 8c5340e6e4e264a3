"""The dask client in force, and the local cluster batchkit starts when there is none.

The client is chosen in this order: the one passed explicitly (``pipeline.run(client=...)``),
the one set by `batchkit.config`, dask's current default client (a ``Client(...)`` the
application made), and last a ``LocalCluster`` that batchkit starts on first use: worker
processes on 127.0.0.1 only (nothing listens on another interface unless the user brings a
cluster), one single-threaded worker per core, reused by every later call and closed at exit.

dask is imported here only, on first use, so that ``import batchkit`` never imports it.
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import sys
import threading

from .._config import configured_client
from .._cpus import available_cpus
from ..errors import TargetError

__all__ = ["close_own_cluster", "import_distributed", "resolve_client", "total_threads"]

_LOCK = threading.Lock()
#: (pid, cluster, client) of the cluster batchkit started, or None
_OWN = None


def import_distributed():
    """``dask.distributed``, or a `TargetError` saying how to install it."""
    try:
        import distributed
    except ImportError as why:
        raise TargetError(
            "target='dask' and pipelines on a cluster need dask.distributed, which is not installed: "
            "pip install 'batchkit-parallel[dask]' (or pip install 'dask[distributed]')"
        ) from why
    return distributed


def _default_client():
    """dask's current default client (one the application made), or None."""
    distributed = import_distributed()
    try:
        return distributed.default_client()
    except ValueError:  # no client made yet
        return None


def _start_own_client():
    """Start the local cluster batchkit owns, and say where its dashboard is."""
    global _OWN
    distributed = import_distributed()
    n_workers = available_cpus()
    # the dashboard needs bokeh; without it dask would warn at every start
    dashboard = "127.0.0.1:0" if importlib.util.find_spec("bokeh") is not None else None
    try:
        cluster = distributed.LocalCluster(
            host="127.0.0.1",
            processes=True,
            n_workers=n_workers,
            threads_per_worker=1,
            dashboard_address=dashboard,
        )
    except Exception as why:
        # the usual cause: dask spawns its workers, which import the script's main module and
        # so run its top-level code again, starting a cluster from inside a worker's start-up
        raise RuntimeError(
            "batchkit could not start a dask LocalCluster for target='dask' or client=True "
            f"({type(why).__name__}: {why}). In a script, keep the work under "
            "`if __name__ == '__main__':`: dask's worker processes import the script's main module."
        ) from why
    client = distributed.Client(cluster, set_as_default=False)  # the application's dask stays its own
    where = client.dashboard_link if dashboard is not None else "none (install bokeh to have one)"
    print(
        f"batchkit: started a dask LocalCluster of {n_workers} worker processes on 127.0.0.1 "
        f"(scheduler {cluster.scheduler_address}); dashboard: {where}",
        file=sys.stderr,
    )
    _OWN = (os.getpid(), cluster, client)
    atexit.register(close_own_cluster)
    return client


def _own_client():
    with _LOCK:
        if _OWN is not None:
            pid, _, client = _OWN
            if pid == os.getpid() and client.status == "running":  # not a fork's copy, not closed
                return client
        return _start_own_client()


def resolve_client(explicit=None):
    """The client to run on: ``explicit`` (a Client; None or True for the one in force)."""
    if explicit is not None and explicit is not True:
        return explicit
    client = configured_client()
    if client is not None:
        return client
    return _default_client() or _own_client()


def total_threads(client) -> int:
    """How many tasks the cluster runs at once (at least 1, so that work waits for workers)."""
    return max(1, sum(client.nthreads().values()))


def close_own_cluster() -> None:
    """Close the cluster batchkit started, if any; a later call starts a new one."""
    global _OWN
    with _LOCK:
        own, _OWN = _OWN, None
    if own is None or own[0] != os.getpid():
        return
    _, cluster, client = own
    try:
        client.close()
    finally:
        cluster.close()
