"""The ``for`` target: a plain loop in the calling thread, the reference for every other."""

from __future__ import annotations

import inspect
import threading

from .._calls import Calls, Outcomes
from ._base import Executor, RunOptions
from ._daemon_pool import DaemonThreadPool
from ._supervised import run_supervised

__all__ = ["SequentialExecutor"]


class SequentialExecutor(Executor):
    """Runs the calls one after another in the calling thread (``target="for"``).

    Useful for debugging (a breakpoint in the method just works) and for work too small to
    pay for any dispatch. Every other target must give the same outcomes.

    With a ``timeout``, the items still run one at a time, in order, but in a helper thread
    watched by the caller, so that an item past the limit fails with `ItemTimeout` and the
    call goes on: as on ``threads``, the stuck item cannot be interrupted and finishes in the
    background, its result discarded. Coroutine functions run one at a time on an event loop.
    """

    name = "for"
    runs_coroutines = True

    def __init__(self):
        self._lock = threading.Lock()
        self._pool: DaemonThreadPool | None = None
        self._loop_runner = None

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        if inspect.iscoroutinefunction(fn):
            return self._coroutines().run(fn, calls, options.updated(n_workers=1))
        outcomes = Outcomes(len(calls))
        if options.timeout is not None and len(calls):
            return run_supervised(self._helpers(), fn, calls, outcomes, 1, options.timeout, self.name)
        calls.run_range(fn, 0, len(calls), outcomes)
        return outcomes

    def _helpers(self) -> DaemonThreadPool:
        with self._lock:
            if self._pool is None:
                self._pool = DaemonThreadPool("batchkit-for")
            return self._pool

    def _coroutines(self):
        from .aio import AsyncExecutor  # a loop of its own, started only for coroutines

        with self._lock:
            if self._loop_runner is None:
                self._loop_runner = AsyncExecutor()
            return self._loop_runner

    def close(self) -> None:
        with self._lock:
            pool, runner = self._pool, self._loop_runner
            self._pool = self._loop_runner = None
        if pool is not None:
            pool.shutdown()
        if runner is not None:
            runner.close()
