"""The ``threads`` target: one shared, lazily grown pool of daemon threads fed chunks of calls."""

from __future__ import annotations

import itertools
import sys
import time

from .._calls import Calls, Outcomes
from .._cpus import thread_workers
from .._numba_layer import prefer_threadsafe_layer
from ._base import Executor, RunOptions, chunk_bounds, in_worker, mark_worker
from ._daemon_pool import DaemonThreadPool
from ._supervised import run_supervised
from ._timing import ItemTimes, cpu_share, fan_out

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

    def work(self) -> tuple[float, float]:
        """Take and run chunks until none is left; return the wall and CPU seconds that took.

        The call's cancel is checked before every item (inside ``run_range``), so Ctrl-C or
        ``fail_fast`` stops the runners after the item each one is in. ``thread_time`` counts
        this thread's CPU seconds alone (~0.3 us a reading, two per runner, none per item).
        """
        bounds, n_chunks, run_range = self.bounds, len(self.bounds), self.calls.run_range
        cancel = self.calls.cancel
        start, cpu_start = time.perf_counter(), time.thread_time()
        with mark_worker():
            while not cancel.requested:
                k = self._next()
                if k >= n_chunks:
                    break
                lo, hi = bounds[k]
                run_range(self.fn, lo, hi, self.outcomes)
        return time.perf_counter() - start, time.thread_time() - cpu_start


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

    Without ``n_workers`` (or a ``max_workers`` given here) the thread count follows what a
    function's items did on earlier calls: items that kept a CPU busy get one thread per core,
    items that mostly waited get ``min(32, cpus + 4)``, and a function not yet seen starts at
    one per core (see `batchkit._cpus.thread_workers`).
    """

    name = "threads"

    def __init__(self, max_workers: int | None = None):
        #: a fixed default thread count; None: decided per function from its CPU share
        self.max_workers = max_workers
        self._pool = DaemonThreadPool("batchkit")
        self._times = ItemTimes()

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        n_calls = len(calls)
        outcomes = Outcomes(n_calls)
        if n_calls == 0:
            return outcomes
        if "numba" in sys.modules:  # items may launch prange kernels from several threads at once
            prefer_threadsafe_layer()
        per_item, share = self._times.lookup(fn)
        n_workers = options.n_workers or self.max_workers or thread_workers(share)
        if options.timeout is not None:
            return self._run_supervised(fn, calls, outcomes, n_workers, options.timeout)
        if in_worker():
            calls.run_range(fn, 0, n_calls, outcomes)
            return outcomes
        n_runners = fan_out(
            n_calls,
            n_workers,
            per_item,
            unknown=n_workers,
            most=n_workers,
            min_seconds=MIN_RUNNER_SECONDS,
        )
        job = _Job(fn, calls, chunk_bounds(n_calls, n_runners * CHUNKS_PER_RUNNER), outcomes)
        # The calling thread is one of the runners: it would only wait otherwise, and a call
        # small enough for one runner then costs no pool round trip at all.
        futures = [self._pool.submit(job.work) for _ in range(n_runners - 1)]
        try:
            busy, cpu = job.work()
            for future in futures:
                wall_seconds, cpu_seconds = future.result()
                busy += wall_seconds
                cpu += cpu_seconds
        except BaseException:
            # Ctrl-C here, or a BaseException raised by an item: every runner stops before its
            # next item, and nothing more is started.
            calls.cancel.request()
            raise
        if not calls.cancel.requested:  # a stopped call's time says nothing about its items
            self._times.record(fn, busy, n_calls, cpu_share(cpu, busy, n_runners))
        return outcomes

    def _run_supervised(self, fn, calls: Calls, outcomes: Outcomes, n_workers: int, timeout: float):
        """Run under a timeout, and learn the items' CPU share from the process's CPU time.

        The supervised runners are not timed one by one; the process's CPU seconds over the
        call (the supervisor itself sleeps) against its wall time on ``n_runners`` gives the
        same share, a little noisier when other threads of the process are busy meanwhile.
        """
        n_runners = min(n_workers, len(calls))
        start, cpu_start = time.perf_counter(), time.process_time()
        run_supervised(self._pool, fn, calls, outcomes, n_workers, timeout, self.name)
        if not calls.cancel.requested:
            wall = (time.perf_counter() - start) * n_runners
            share = cpu_share(time.process_time() - cpu_start, wall, n_runners)
            if share is not None:
                self._times.record_share(fn, share)
        return outcomes

    def close(self) -> None:
        self._pool.shutdown()
        self._pool = DaemonThreadPool("batchkit")
