"""How ``python -m batchkit bench`` runs a workload: the plain loop, batchkit's targets, the others.

Every runner returns the results in item order, so the benchmark can check that each one
computed what the plain loop did. Each tool runs with the worker count a user gets by
default (batchkit's own choice, ``ThreadPoolExecutor()``, ``ProcessPoolExecutor()``, joblib's
``n_jobs=-1``). Pools are made once, before timing, and kept, as a user would keep them.
"""

from __future__ import annotations

import gc
import multiprocessing
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from .._cpus import available_cpus
from ._workloads import Workload

__all__ = ["Runners"]


def _loop(workload: Workload) -> list:
    fn = workload.fn
    return [fn(item) for item in workload.items]


class Runners:
    """The runners, by name, in the order the table shows them; None where one does not apply."""

    def __init__(self):
        self._threads = ThreadPoolExecutor()
        # spawn: a plain fork of a process running threads can deadlock, and a second user of
        # batchkit's forkserver leaves the resource tracker warning at exit. Made before joblib
        # (and loky) is imported: loky renames multiprocessing's semaphores, and the tracker then reports
        # the pool's as leaked at exit.
        self._processes = ProcessPoolExecutor(mp_context=multiprocessing.get_context("spawn"))
        self.cpus = available_cpus()  # joblib's loky counts them
        from joblib import Parallel

        self._joblib = Parallel(n_jobs=-1, backend="loky")

    def names(self) -> list[str]:
        return [
            "loop",
            "batchkit for",
            "batchkit threads",
            "batchkit async",
            "batchkit mpc",
            "futures threads",
            "futures processes",
            "joblib",
        ]

    def runner(self, name: str, workload: Workload):
        """A no-argument callable running ``workload`` once with ``name``, or None if n/a."""
        if name == "loop":
            return lambda: _loop(workload)
        if name.startswith("batchkit "):
            target = name.split(" ", 1)[1]
            fn = workload.fn
            if target == "async":
                if workload.coroutine is None:
                    return None
                fn = workload.coroutine
            return lambda: self._batchkit(fn, workload.items, target)
        if name == "futures threads":
            return lambda: list(self._threads.map(workload.fn, workload.items))
        if name == "futures processes":
            chunksize = max(1, len(workload.items) // (4 * self.cpus))  # as a careful user sets it
            return lambda: list(self._processes.map(workload.fn, workload.items, chunksize=chunksize))
        if name == "joblib":
            from joblib import delayed

            return lambda: self._joblib(delayed(workload.fn)(item) for item in workload.items)
        raise ValueError(f"unknown runner {name!r}")

    def _batchkit(self, fn, items, target):
        from .._map import map as batch_map

        return batch_map(fn, items, target=target, progress=False)

    def close(self) -> None:
        self._threads.shutdown()
        self._processes.shutdown()
        # its queues' semaphores are released when they are collected: now, not at exit, where
        # the resource tracker would report them as leaked
        self._processes = self._threads = None
        gc.collect()
