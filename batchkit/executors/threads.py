"""The ``threads`` target: one shared, lazily grown pool of daemon threads fed chunks of calls."""

from __future__ import annotations

import itertools
import time

from .._calls import Calls, Outcomes
from .._cpus import default_thread_workers
from ._base import Executor, RunOptions, chunk_bounds, in_worker, mark_worker
from ._daemon_pool import DaemonThreadPool
from ._supervised import run_supervised
from ._timing import ItemTimes, fan_out

__all__ = ["ThreadExecutor"]

#: chunks per runner: small enough to balance uneven items, large enough that the cost of
#: taking a chunk (well under a microsecond) vanishes against the items in it
CHUNKS_PER_RUNNER = 4
#: a runner costs a pool round trip (~20 us); start one only for at least this much work
MIN_RUNNER_SECONDS = 100e-6


class _Job:
    """One action call shared by its runners: each runner takes chunks until none is left."""

    __slots__ = ("_next", "bounds", "calls", "fn", "outcomes")

    def __init__(self, fn, calls: Calls, bounds, outcomes: Outcomes):
        self.fn = fn
        self.calls = calls
        self.bounds = bounds
        self.outcomes = outcomes
        # next() on itertools.count is atomic under the GIL: no lock needed to hand out chunks
        self._next = itertools.count().__next__

    def work(self) -> float:
        """Take and run chunks until none is left; return the seconds spent running them.

        The call's cancel is checked before every item (inside ``run_range``), so Ctrl-C or
        ``fail_fast`` stops the runners after the item each one is in.
        """
        bounds, n_chunks, run_range = self.bounds, len(self.bounds), self.calls.run_range
        cancel = self.calls.cancel
        start = time.perf_counter()
        with mark_worker():
            while not cancel.requested:
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
    items take microseconds in total runs in the calling thread alone).

    With a ``timeout`` the calling thread supervises instead of running items: an item past
    the limit fails with `ItemTimeout`, a fresh runner takes over the rest of its chunk, and
    the item's thread is left to finish in the background (a thread cannot be interrupted);
    its late result is discarded.

    Ctrl-C (or ``fail_fast`` after a failure) stops every runner before its next item. The
    pool's threads are daemons, so an item still running never keeps the process from exiting.

    A call made from inside one of the pool's own workers runs inline in that worker: waiting
    for the pool from inside the pool could deadlock.

    Threads help only where the work releases the GIL: I/O, numpy, ``@mjit`` (``nogil``) kernels.
    """

    name = "threads"

    def __init__(self, max_workers: int | None = None):
        self.default_workers = max_workers or default_thread_workers()
        self._pool = DaemonThreadPool("batchkit")
        self._times = ItemTimes()

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        n_calls = len(calls)
        outcomes = Outcomes(n_calls)
        if n_calls == 0:
            return outcomes
        n_workers = options.n_workers or self.default_workers
        if options.timeout is not None:
            return run_supervised(self._pool, fn, calls, outcomes, n_workers, options.timeout, self.name)
        if in_worker():
            calls.run_range(fn, 0, n_calls, outcomes)
            return outcomes
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
        futures = [self._pool.submit(job.work) for _ in range(n_runners - 1)]
        try:
            busy = job.work()
            busy += sum(future.result() for future in futures)
        except BaseException:
            # Ctrl-C here, or a BaseException raised by an item: every runner stops before its
            # next item, and nothing more is started.
            calls.cancel.request()
            raise
        if not calls.cancel.requested:  # a stopped call's time says nothing about its items
            self._times.record(fn, busy, n_calls)
        return outcomes

    def close(self) -> None:
        self._pool.shutdown()
        self._pool = DaemonThreadPool("batchkit")
