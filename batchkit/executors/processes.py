"""The ``mpc`` target: chunks of calls run in joblib's reusable loky process pool.

What crosses to a worker, per chunk: the worker function (pickled once per call with
cloudpickle, so lambdas, closures and functions of ``__main__`` work) and that chunk's entries
and action arguments. Never the batch. Results come back pickled per chunk; a value or an
exception that cannot be pickled fails its own item only.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import threading
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, wait

from .._calls import Calls, Outcomes
from .._cpus import default_process_workers
from ..errors import RemoteTraceback, WorkerError
from ._base import Executor, RunOptions, chunk_bounds
from ._timing import ItemTimes, fan_out

__all__ = ["ProcessExecutor"]

#: at most this many chunks per worker process: enough for a fast worker to take over from a
#: slow one; each chunk costs a pipe round trip (~0.1-0.3 ms)
MAX_CHUNKS_PER_WORKER = 8
#: chunks per worker while a function's item time is unknown
FIRST_CHUNKS_PER_WORKER = 2
#: once item times are known, a chunk holds at least this much work
MIN_CHUNK_SECONDS = 2e-3

# Set in worker processes: an mpc action called from an item runs inline there instead of
# starting a pool inside the pool.
_IN_PROCESS_WORKER = False


def _cloudpickle():
    import cloudpickle  # joblib's own dependency, and the pickler its loky pool uses

    return cloudpickle


def _dumps(obj) -> bytes:
    """Pickle with the fast C pickler; fall back to cloudpickle for lambdas, closures and the like."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return _cloudpickle().dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def _dumps_or_none(obj) -> bytes | None:
    try:
        return _dumps(obj)
    except Exception:  # the caller then finds the culprit item by item
        return None


def _portable_error(exc: BaseException) -> tuple[BaseException, str]:
    """The exception (or a stand-in that pickles) and its traceback text, ready to send back."""
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(_dumps(exc))
    except Exception as why:
        exc = WorkerError(
            f"{type(exc).__name__}: {exc} (the original exception could not be sent back "
            f"from the worker process: {why})"
        )
    return exc, text


def _dump_values(values: list, failures: dict) -> bytes:
    """Pickle the chunk's values; a value that does not pickle fails its own item."""
    blob = _dumps_or_none(values)
    if blob is not None:
        return blob
    for i, value in enumerate(values):
        try:
            _dumps(value)
        except Exception as why:
            failures[i] = _portable_error(
                WorkerError(f"the item's result {type(value).__name__} cannot be pickled: {why}")
            )
            values[i] = None
    return _dumps(values)


_last_function: tuple[bytes, object] = (b"", None)


def _load_function(fn_blob: bytes):
    """Unpickle the worker function, reusing the last one: a call sends it with every chunk."""
    global _last_function
    if _last_function[0] != fn_blob:
        _last_function = (fn_blob, pickle.loads(fn_blob))
    return _last_function[1]


def _run_chunk(fn_blob: bytes, calls_blob: bytes):
    """Runs in a worker process: one chunk of calls, returning pickled values and failures."""
    global _IN_PROCESS_WORKER
    _IN_PROCESS_WORKER = True
    fn = _load_function(fn_blob)
    calls: Calls = pickle.loads(calls_blob)
    outcomes = Outcomes(len(calls))
    start = time.perf_counter()
    calls.run_range(fn, 0, len(calls), outcomes)
    elapsed = time.perf_counter() - start
    failures = {i: _portable_error(outcomes.values[i]) for i in outcomes.failed}
    for i in failures:
        outcomes.values[i] = None
    return _dump_values(outcomes.values, failures), failures, elapsed


def _exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: end this worker soon after the process that started it is gone.

    Without it, a caller killed hard (SIGKILL, OOM) would leave its workers running their items
    and then idling for the pool's timeout. Polling the parent's pid costs nothing measurable.
    """

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="batchkit-parent-watch", daemon=True).start()


def _dump_function(fn) -> bytes:
    try:
        return _cloudpickle().dumps(fn)
    except Exception as why:
        raise TypeError(
            f"target='mpc' needs a worker function that can be pickled, and {fn!r} cannot: {why}. "
            "Return a module-level function or a functools.partial of one."
        ) from why


def _tapering_bounds(n_items: int, n_chunks: int, n_workers: int) -> list[tuple[int, int]]:
    """Chunks that shrink towards the end, so the workers finish together.

    Equal chunks leave a worker idle while another runs the last one; here each chunk takes a
    share of what is left (guided self-scheduling), down to the smallest chunk ``n_chunks``
    equal chunks would have, so the count of chunks (each a pipe round trip) stays about the same.

    Examples
    --------
    >>> _tapering_bounds(64, 16, 2)
    [(0, 16), (16, 28), (28, 37), (37, 44), (44, 49), (49, 53), (53, 57), (57, 61), (61, 64)]
    """
    smallest = max(1, n_items // n_chunks)
    bounds, lo = [], 0
    while lo < n_items:
        size = max(smallest, -(-(n_items - lo) // (2 * n_workers)))
        bounds.append((lo, min(n_items, lo + size)))
        lo += size
    return bounds


class _Chunk:
    """The parent's record of one chunk: which positions it covers and its pickled calls."""

    __slots__ = ("blob", "positions")

    def __init__(self, positions: list[int], blob: bytes):
        self.positions = positions
        self.blob = blob


def _pack_chunk(calls: Calls, lo: int, hi: int, outcomes: Outcomes) -> _Chunk | None:
    """Pickle calls ``lo..hi``; an entry that does not pickle fails its own item only."""
    blob = _dumps_or_none(calls.slice(lo, hi))
    if blob is not None:
        return _Chunk(list(range(lo, hi)), blob)
    good = []
    for i in range(lo, hi):
        try:
            _dumps(calls.slice(i, i + 1))
            good.append(i)
        except Exception as why:
            error = WorkerError(f"the arguments of this item cannot be pickled for target='mpc': {why}")
            error.__cause__ = why
            outcomes.fail(i, error)
    if not good:
        return None
    return _Chunk(good, _dumps(calls.pick(good)))


def _store(chunk: _Chunk, future, outcomes: Outcomes) -> float:
    """Put one finished chunk's values and failures into ``outcomes``; return its run time."""
    try:
        values_blob, failures, elapsed = future.result()
    except Exception as why:  # the chunk itself failed: a dead worker, a broken pool
        for position in chunk.positions:
            error = WorkerError(f"the worker process running this item failed: {why!r}")
            error.__cause__ = why
            outcomes.fail(position, error)
        return 0.0
    values = pickle.loads(values_blob)
    for k, position in enumerate(chunk.positions):
        if k in failures:
            error, text = failures[k]
            error.__cause__ = RemoteTraceback(text)
            outcomes.fail(position, error)
        else:
            outcomes.values[position] = values[k]
    return elapsed


class ProcessExecutor(Executor):
    """Runs calls in worker processes of joblib's reusable loky pool (``target="mpc"``).

    The pool starts on the first call and is kept for later ones (a process costs about 0.3 s
    to start). It grows to the largest ``n_workers`` asked for; a call with fewer workers keeps
    only that many chunks in flight.

    The decorated method is called once, in the caller, and returns the function that runs
    in the workers (see `inbatch_parallel`).
    """

    name = "mpc"
    runs_worker_function = True

    def __init__(self, max_workers: int | None = None):
        self.default_workers = max_workers or default_process_workers()
        self._size = self.default_workers
        self._lock = threading.Lock()
        self._executor = None
        self._times = ItemTimes()

    def _pool(self, n_workers: int):
        """The pool, started (or restarted, after it broke or must grow) when needed.

        batchkit keeps a loky pool of its own rather than loky's process-wide reusable one:
        joblib's ``Parallel`` configures that one for itself, and sharing it breaks both.
        """
        from joblib.externals.loky import ProcessPoolExecutor
        from joblib.externals.loky.process_executor import ShutdownExecutorError

        with self._lock:
            executor = self._executor
            broken = executor is not None and (executor._flags.broken is not None or executor._flags.shutdown)
            if executor is None or broken or n_workers > self._size:
                self._size = max(self._size, n_workers)
                if executor is not None:
                    with contextlib.suppress(ShutdownExecutorError):
                        executor.shutdown(wait=False)
                # Idle workers exit after 5 minutes; the pool starts new ones when work comes.
                self._executor = ProcessPoolExecutor(
                    max_workers=self._size,
                    timeout=300,
                    initializer=_exit_with_parent,
                    initargs=(os.getpid(),),
                )
            return self._executor

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        n_calls = len(calls)
        outcomes = Outcomes(n_calls)
        if n_calls == 0:
            return outcomes
        if _IN_PROCESS_WORKER:
            calls.run_range(fn, 0, n_calls, outcomes)
            return outcomes
        n_workers = options.n_workers or self.default_workers
        fn_blob = _dump_function(fn)
        n_chunks = fan_out(
            n_calls,
            n_workers,
            self._times.estimate(fn),
            unknown=n_workers * FIRST_CHUNKS_PER_WORKER,
            most=n_workers * MAX_CHUNKS_PER_WORKER,
            min_seconds=MIN_CHUNK_SECONDS,
        )
        bounds = (
            chunk_bounds(n_calls, n_chunks)
            if n_chunks <= n_workers
            else _tapering_bounds(n_calls, n_chunks, n_workers)
        )
        pending = [chunk for lo, hi in bounds if (chunk := _pack_chunk(calls, lo, hi, outcomes)) is not None]
        pool = self._pool(n_workers)
        # Queue a second chunk per worker to hide the pipe round trip, unless the pool has more
        # workers than this call may use: then in-flight chunks are what caps the call.
        window = n_workers * 2 if n_workers >= self._size else n_workers
        pending.reverse()
        in_flight = {}
        busy = 0.0
        try:
            while pending or in_flight:
                while pending and len(in_flight) < window:
                    chunk = pending.pop()
                    pool = self._submit(pool, n_workers, chunk, fn_blob, in_flight, outcomes)
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = in_flight.pop(future)
                    busy += _store(chunk, future, outcomes)
                    if calls.progress is not None:
                        calls.progress(len(chunk.positions))
        except BaseException:
            for future in in_flight:
                future.cancel()
            if any(not f.done() for f in in_flight):
                # Ctrl-C while items run: stop the workers rather than leave them busy.
                pool.shutdown(wait=False, kill_workers=True)
            raise
        outcomes.failed.sort()
        self._times.record(fn, busy, n_calls)
        return outcomes

    def _submit(self, pool, n_workers, chunk, fn_blob, in_flight, outcomes):
        """Submit one chunk; if the pool broke (a worker died), once more on a fresh pool."""
        from joblib.externals.loky.process_executor import BrokenProcessPool

        for attempt in range(2):
            try:
                in_flight[pool.submit(_run_chunk, fn_blob, chunk.blob)] = chunk
                return pool
            except (BrokenProcessPool, RuntimeError) as why:
                if attempt:
                    for position in chunk.positions:
                        error = WorkerError(f"no worker process could take this item: {why!r}")
                        error.__cause__ = why
                        outcomes.fail(position, error)
                    return pool
                pool = self._pool(n_workers)
        return pool

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
