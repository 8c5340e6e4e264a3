"""One small dask cluster per test module, on loopback only, set as batchkit's client.

Two single-threaded worker processes: enough for work to really spread over processes, small
enough for a 2-core machine. A module's fixture starts it once and closes it at the module's end.
"""

from __future__ import annotations

import contextlib

import batchkit


@contextlib.contextmanager
def local_cluster(n_workers: int = 2, allowed_failures: int = 1):
    """A ``Client`` on a ``LocalCluster`` of ``n_workers`` processes on 127.0.0.1, in force for batchkit.

    ``allowed_failures``: how many workers a task may kill before dask gives up on it with
    ``KilledWorker`` (dask's default is 3; 1 keeps a test of it to two worker restarts).
    """
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}):
        cluster = LocalCluster(
            host="127.0.0.1",
            processes=True,
            n_workers=n_workers,
            threads_per_worker=1,
            dashboard_address=None,
        )
    client = Client(cluster, set_as_default=False)
    try:
        with batchkit.config(client=client):
            yield client
    finally:
        client.close()
        cluster.close()
