"""One small dask cluster per test module, on loopback only, set as batchkit's client.

Two single-threaded worker processes: enough for work to really spread over processes, small
enough for a 2-core machine. A module's fixture starts it once and closes it at the module's end.
"""

from __future__ import annotations

import contextlib

import batchkit


@contextlib.contextmanager
def local_cluster(n_workers: int = 2):
    """A ``Client`` on a ``LocalCluster`` of ``n_workers`` processes on 127.0.0.1, in force for batchkit."""
    from distributed import Client, LocalCluster

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
