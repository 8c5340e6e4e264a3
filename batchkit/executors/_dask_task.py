"""The worker's side of ``target="dask"``: one dask task runs one chunk of an action's calls.

A task receives the call's shared part (the pickled worker function and the action's own
arguments: one object per call, scattered to the cluster once when it is large) and its
chunk's entries, runs the items one after another with `Calls.run_range` (the loop every
target shares), and returns one reply, pickled: the values, each failed item's exception with
its traceback text, and the seconds the items took. An item's exception never fails the task:
dask sees a task fail only when the chunk could not run at all, or when its worker died.

While a task runs, its thread is marked as running inside a cluster task (`in_remote_task`):
an action called there whose target runs a worker function (``mpc``, ``dask``) runs its items
in that thread instead, since a dask worker process may not start processes of its own and the
cluster already has a worker per core.

This module imports nothing of dask: the executor registry reads `in_remote_task`.
"""

from __future__ import annotations

import contextlib
import pickle
import threading
import time

from .._calls import NOT_RUN, Calls, Outcomes
from ..errors import WorkerError
from . import _inner_threads
from ._daemon_pool import DaemonThreadPool
from ._mpc_pickle import dump_values, dumps, portable_error
from ._supervised import run_supervised

__all__ = ["in_remote_task", "remote_task", "run_chunk"]

_local = threading.local()
_pool_lock = threading.Lock()
_pool: DaemonThreadPool | None = None


def in_remote_task() -> bool:
    """Whether this thread runs a batchkit task on a dask worker right now."""
    return getattr(_local, "depth", 0) > 0


@contextlib.contextmanager
def remote_task():
    """Mark this thread as running a batchkit task on a dask worker (for nested actions)."""
    _local.depth = getattr(_local, "depth", 0) + 1
    try:
        yield
    finally:
        _local.depth -= 1


def _helpers() -> DaemonThreadPool:
    """The worker's threads for items under a timeout (daemons: a stuck item never blocks exit)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = DaemonThreadPool("batchkit-dask")
        return _pool


def _run_all(fn, calls: Calls, outcomes: Outcomes, timeout: float | None) -> None:
    if timeout is None:
        calls.run_range(fn, 0, len(calls), outcomes)
    else:
        # one item at a time, watched: an item past the limit fails alone with ItemTimeout and
        # its thread finishes it in the background (a thread cannot be interrupted)
        run_supervised(_helpers(), fn, calls, outcomes, 1, timeout, "dask")


def _run_from(fn, calls: Calls, outcomes: Outcomes, lo: int, timeout: float | None) -> None:
    """Run the items from ``lo`` on into ``outcomes`` (what ran is kept if one raises)."""
    if lo == 0:
        _run_all(fn, calls, outcomes, timeout)
        return
    rest = Outcomes(len(calls) - lo)
    try:
        _run_all(fn, calls.slice(lo, len(calls)), rest, timeout)
    finally:
        outcomes.values[lo:] = rest.values
        outcomes.failed.extend(position + lo for position in rest.failed)


def _run(fn, calls: Calls, outcomes: Outcomes, timeout: float | None) -> None:
    """Run every item; one that raises a ``BaseException`` (``SystemExit``) fails alone.

    Such an exception cannot travel back as the task's result without failing its whole chunk
    (or stopping the worker), so, as on ``mpc``, its item gets a `WorkerError` and the items
    after it run.
    """
    values, lo = outcomes.values, 0
    with remote_task():
        while lo < len(calls):
            try:
                _run_from(fn, calls, outcomes, lo, timeout)
                return
            except BaseException as exc:
                # items run in order: the culprit is the first one not done (by identity: a
                # value may be an array, whose == is elementwise)
                culprit = next(i for i in range(lo, len(values)) if values[i] is NOT_RUN)
                error = WorkerError(f"the item raised {type(exc).__name__}: {exc}")
                error.__cause__ = exc
                outcomes.fail(culprit, error)
                if calls.fail_fast:
                    return
                lo = culprit + 1


def run_chunk(shared, calls_blob: bytes, timeout: float | None, inner_threads: int | None = None) -> bytes:
    """Run one chunk; return ``(values_blob, failures_blob, seconds)`` pickled.

    ``shared`` is ``(fn_blob, args, kwargs)``. ``failures`` maps a position in the chunk to
    ``(exception, traceback text)``; a failed item's value slot holds None, and an item never
    started (``fail_fast`` stopped the chunk) keeps `NOT_RUN`, which the caller counts as
    cancelled.
    """
    start = time.perf_counter()
    try:
        fn_blob, args, kwargs = shared
        fn = pickle.loads(fn_blob)
        calls = pickle.loads(calls_blob)
        calls.args, calls.kwargs = args, kwargs
    except Exception as exc:  # every item of the chunk fails with the reason
        error = WorkerError(f"the dask worker could not load this chunk: {type(exc).__name__}: {exc}")
        error.__cause__ = exc
        return dumps((None, dumps(portable_error(error)), time.perf_counter() - start))
    outcomes = Outcomes(len(calls))
    if inner_threads is not None:  # the worker's thread pools, for this and later chunks
        _inner_threads.apply(inner_threads)
    _run(fn, calls, outcomes, timeout)
    if inner_threads is not None:
        _inner_threads.apply(inner_threads)  # numba imported by an item: capped from now on
    seconds = time.perf_counter() - start
    values = outcomes.values
    failures = {i: portable_error(values[i]) for i in outcomes.failed}
    for i in failures:
        values[i] = None
    values_blob = dump_values(values, failures)  # a value that does not pickle fails its own item
    return dumps((values_blob, dumps(failures) if failures else None, seconds))
