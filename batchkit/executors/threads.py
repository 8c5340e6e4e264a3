"""The ``threads`` target: one shared, lazily created thread pool fed chunks of calls."""

from __future__ import annotations

import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from .._calls import Calls, Outcomes
from .._cpus import default_thread_workers
from ._base import Executor, RunOptions, chunk_bounds, in_worker, mark_worker
from ._timing import ItemTimes, fan_out

__all__ = ["ThreadExecutor"]

#: chunks per runner: small enough to balance uneven items, large enough that the cost of
#: taking a chunk (well under a microsecond) vanishes against the items in it
CHUNKS_PER_RUNNER = 4
#: a runner costs a pool round trip (~20 us); start one only for at least this much work
MIN_RUNNER_SECONDS = 100e-6


class _Job:
    """One action call shared by its runners: each runner takes chunks until none is left."""

    __slots__ = ("_next", "bounds", "calls", "cancelled", "fn", "outcomes")

    def __init__(self, fn, calls: Calls, bounds, outcomes: Outcomes):
        self.fn = fn
        self.calls = calls
        self.bounds = bounds
        self.outcomes = outcomes
        self.cancelled = False
        # next() on itertools.count is atomic under the GIL: no lock needed to hand out chunks
        self._next = itertools.count().__next__

    def work(self) -> float:
        """Take and run chunks until none is left; return the seconds spent running them."""
        bounds, n_chunks, run_range = self.bounds, len(self.bounds), self.calls.run_range
        start = time.perf_counter()
        with mark_worker():
            while not self.cancelled:
                k = self._next()
                if k >= n_chunks:
                    break
                lo, hi = bounds[k]
                run_range(self.fn, lo, hi, self.outcomes)
        return time.perf_counter() - start


class ThreadExecutor(Executor):
    """Runs calls on a thread pool shared by every action of the process (``target="threads"``).

    A call starts up to ``n_workers`` runners: the calling thread plus pool threads. The runners
    take chunks of calls until none is left, so a call costs one pool round trip per extra
    runner, not one per item, and ``n_workers`` caps how many items of this call run at once.
    Once a function's items are known to be tiny, fewer runners are started (a call whose
    items take microseconds in total runs in the calling thread alone). The pool is created on
    first use and grows (never shrinks) to the largest ``n_workers`` asked for.

    A call made from inside one of the pool's own workers runs inline in that worker: waiting
    for the pool from inside the pool could deadlock.

    Threads help only where the work releases the GIL: I/O, numpy, ``@mjit`` (``nogil``) kernels.
    """

    name = "threads"

    def __init__(self, max_workers: int | None = None):
        self.default_workers = max_workers or default_thread_workers()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._size = 0
        self._times = ItemTimes()

    def _pool_for(self, n_workers: int) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is not None and n_workers <= self._size:
            return pool
        with self._lock:
            if self._pool is None or n_workers > self._size:
                old = self._pool
                self._size = max(n_workers, self.default_workers)
                self._pool = ThreadPoolExecutor(self._size, thread_name_prefix="batchkit")
                if old is not None:
                    old.shutdown(wait=False)
            return self._pool

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        n_calls = len(calls)
        outcomes = Outcomes(n_calls)
        if n_calls == 0:
            return outcomes
        if in_worker():
            calls.run_range(fn, 0, n_calls, outcomes)
            return outcomes
        n_workers = options.n_workers or self.default_workers
        n_runners = fan_out(
            n_calls,
            n_workers,
            self._times.estimate(fn),
            unknown=n_workers,
            most=n_workers,
            min_seconds=MIN_RUNNER_SECONDS,
        )
        job = _Job(fn, calls, chunk_bounds(n_calls, n_runners * CHUNKS_PER_RUNNER), outcomes)
        # The calling thread is one of the runners: it would only wait otherwise, and a call
        # small enough for one runner then costs no pool round trip at all.
        futures = []
        if n_runners > 1:
            pool = self._pool_for(n_workers)
            futures = [pool.submit(job.work) for _ in range(n_runners - 1)]
        try:
            busy = job.work()
            busy += sum(future.result() for future in futures)
        except BaseException:
            # Ctrl-C here, or a BaseException raised by an item: the runners stop after the
            # chunk they are in, and nothing more is started.
            job.cancelled = True
            raise
        self._times.record(fn, busy, n_calls)
        return outcomes

    def close(self) -> None:
        with self._lock:
            pool, self._pool, self._size = self._pool, None, 0
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
