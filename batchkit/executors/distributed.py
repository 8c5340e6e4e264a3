"""The ``dask`` target: chunks of an action's calls as tasks on a dask.distributed cluster.

The contract is the ``mpc`` one: the decorated method is called once in the caller and returns
the function the workers run; it crosses by cloudpickle, with the action's own arguments, and
the batch itself never does (unless the function is a bound method of it).

What crosses the network, per call: the worker function and the action's arguments, once (as
part of every task while they are small; scattered once and copied to every worker peer to
peer when they hold `SCATTER_BYTES` or more: a large numpy argument); per task,
its chunk's entries going out and its values and failures coming back.

A dask task costs about 1-2 ms of scheduling besides the network, so items go in chunks that
hold at least `MIN_CHUNK_SECONDS` of work once a function's item time is known (as on mpc,
from earlier calls), in a count that is a multiple of the workers, so they finish together. A
call keeps at most ``n_workers`` tasks in flight (by default two per cluster thread: one
running, one waiting), feeding a new chunk as each one comes back (dask itself has no such bound).

Failures: an item's exception fails that item alone and comes back with its remote traceback
as ``__cause__``. A worker that dies mid-task makes dask run the task again elsewhere; a task
that killed several workers (dask's ``KilledWorker``) fails its chunk's items with
`WorkerDied`. ``timeout`` is enforced on the worker, one item at a time (see `_dask_task`).
``fail_fast`` stops feeding chunks after the first failure; the tasks already running finish.
"""

from __future__ import annotations

import pickle
import uuid

from .._calls import Calls, Outcomes
from ..errors import RemoteTraceback, WorkerDied, WorkerError
from ._base import Executor, RunOptions, chunk_bounds
from ._dask_client import close_own_cluster, import_distributed, resolve_client, total_threads
from ._dask_task import in_remote_task, run_chunk
from ._timing import ItemTimes, fan_out

__all__ = ["DaskExecutor"]

#: once item times are known, a task holds at least this much work: its ~1-2 ms of scheduling
#: (more over a real network) then costs under 1%
MIN_CHUNK_SECONDS = 0.2
#: chunks per cluster thread while a function's item time is unknown
FIRST_CHUNKS_PER_THREAD = 2
#: at most this many chunks per thread: enough for a fast worker to take over from a slow one
MAX_CHUNKS_PER_THREAD = 4
#: tasks in flight per cluster thread when ``n_workers`` is not given: one running, one queued
QUEUED_PER_THREAD = 2
#: the worker function and the action's arguments are scattered once when they hold this many
#: bytes or more, instead of travelling inside every task
SCATTER_BYTES = 1 << 20


def dumps(obj) -> bytes:
    """Pickle as dask does: the C pickler, and cloudpickle (by value) for what it cannot do or
    for what refers to ``__main__``, which the workers cannot import.
    """
    try:
        blob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        if b"__main__" not in blob:
            return blob
    except Exception:
        pass
    import cloudpickle

    return cloudpickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def dumps_or_none(obj) -> bytes | None:
    try:
        return dumps(obj)
    except Exception:  # the caller then finds the culprit item by item
        return None


def balanced_chunks(n_chunks: int, window: int, n_items: int) -> int:
    """``n_chunks`` rounded to the nearest multiple of ``window`` (the tasks run at once).

    Equal chunks in a count that is not a multiple leave all but a few workers idle while the
    last ones run: 5 chunks on 2 workers take 3 rounds, 6 take 3 rounds of shorter chunks.

    Examples
    --------
    >>> balanced_chunks(5, 2, 1000), balanced_chunks(4, 2, 1000), balanced_chunks(3, 8, 1000)
    (6, 4, 3)
    >>> balanced_chunks(9, 4, 1000), balanced_chunks(5, 2, 5)
    (8, 5)
    """
    if n_chunks <= window:
        return n_chunks
    rounds = int(n_chunks / window + 0.5)
    return max(1, min(n_items, rounds * window))


def _shared_size(fn_blob: bytes, calls: Calls) -> int:
    from dask.sizeof import sizeof  # dask's own estimate: numpy arrays by nbytes, containers summed

    return len(fn_blob) + sizeof((calls.args, calls.kwargs))


def dump_worker_function(fn) -> bytes:
    """The worker function pickled by cloudpickle, or a TypeError saying what to return instead."""
    import cloudpickle

    try:
        # always cloudpickle: plain pickle sends a bound method as getattr(batch, name), which on
        # the worker would find the decorated action instead of the method
        return cloudpickle.dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as why:
        raise TypeError(
            f"target='dask' needs a worker function that can be pickled, and {fn!r} cannot: {why}. "
            "Return a module-level function or a functools.partial of one."
        ) from why


def _pack(calls: Calls, positions, outcomes: Outcomes):
    """The chunk at ``positions`` pickled without the action's arguments (they are shared).

    An entry that does not pickle fails its own item only. Returns ``(positions, blob)``; the
    blob is None when no item of the chunk made it.
    """
    part = calls.slice(positions.start, positions.stop)
    part.args, part.kwargs = (), {}
    blob = dumps_or_none(part)
    if blob is not None:
        return positions, blob
    good = []
    for i in positions:
        one = calls.slice(i, i + 1)
        one.args, one.kwargs = (), {}
        try:
            dumps(one)
            good.append(i)
        except Exception as why:
            error = WorkerError(f"the arguments of this item cannot be pickled for target='dask': {why}")
            error.__cause__ = why
            outcomes.fail(i, error)
    if not good:
        return good, None
    part = calls.pick(good)
    part.args, part.kwargs = (), {}
    return good, dumps(part)


def _task_error(exc: BaseException, distributed) -> WorkerError:
    """The error each item of a chunk gets when its dask task itself failed."""
    if isinstance(exc, distributed.KilledWorker):
        return WorkerDied(
            f"the dask task running this item's chunk killed the workers it ran on, and dask gave up: {exc}"
        )
    error = WorkerError(f"the dask task running this item failed: {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


class _Call:
    """One action call on the cluster: its chunks fed to a bounded window of tasks."""

    __slots__ = (
        "busy",
        "calls",
        "chunks",
        "client",
        "completed",
        "distributed",
        "in_flight",
        "inner_threads",
        "outcomes",
        "shared",
        "timeout",
        "token",
        "window",
    )

    def __init__(
        self, client, distributed, calls: Calls, outcomes: Outcomes, timeout, window: int, inner_threads=None
    ):
        self.client = client
        self.distributed = distributed
        self.calls = calls
        self.outcomes = outcomes
        self.timeout = timeout
        #: the cap on the worker's BLAS/OpenMP/numba threads; None leaves dask's own (1 per
        #: worker process started by a nanny: it sets OMP_NUM_THREADS and the like)
        self.inner_threads = inner_threads
        #: at most this many tasks of the call at once (``n_workers``, else two per cluster thread)
        self.window = window
        self.token = uuid.uuid4().hex[:12]  # task keys name the call in dask's dashboard
        self.shared = None
        self.chunks = iter(())
        #: the futures submitted and not yet stored, with the positions of their items
        self.in_flight: dict = {}
        self.completed = None
        #: seconds the items took, summed over the chunks (measured on the workers)
        self.busy = 0.0

    def share(self, fn_blob: bytes, n_chunks: int) -> None:
        shared = (fn_blob, self.calls.args, self.calls.kwargs)
        if n_chunks > 1 and _shared_size(fn_blob, self.calls) >= SCATTER_BYTES:
            # sent once, copied to every worker peer to peer, instead of once per task; a copy on
            # each worker, so that a worker that dies does not take the only one with it
            [shared] = self.client.scatter([shared], hash=False, broadcast=True)
        self.shared = shared

    def submit(self, k: int, blob: bytes):
        return self.client.submit(
            run_chunk, self.shared, blob, self.timeout, self.inner_threads,
            key=f"batchkit-{self.token}-{k}", pure=False,
        )

    def _feed(self) -> None:
        """Submit the next chunk that has an item left to run (one whose entries all fail is done)."""
        for k, (lo, hi) in self.chunks:
            positions, blob = _pack(self.calls, range(lo, hi), self.outcomes)
            if blob is not None:
                future = self.submit(k, blob)
                self.in_flight[future] = positions
                self.completed.add(future)
                return

    def run(self, bounds, fail_fast: bool) -> None:
        """Feed the chunks to at most ``window`` tasks at once; store each reply as it comes."""
        self.chunks = iter(enumerate(bounds))
        self.completed = self.distributed.as_completed(loop=self.client.loop)
        cancel = self.calls.cancel
        try:
            for _ in range(self.window):
                self._feed()
            for future in self.completed:
                positions = self.in_flight.pop(future)
                failed = self._store(future, positions)
                future.release()
                if failed and fail_fast:
                    cancel.request()
                if not cancel.requested:
                    self._feed()
        except BaseException:
            # Ctrl-C in the caller: nothing more starts, and the queued tasks are dropped
            cancel.request()
            self.client.cancel(list(self.in_flight))
            raise
        finally:
            if isinstance(self.shared, self.distributed.Future):
                self.shared.release()

    def _fail_all(self, positions, error: WorkerError, text: str = "") -> bool:
        for position in positions:
            copy = type(error)(str(error))
            copy.__cause__ = RemoteTraceback(text) if text else error.__cause__
            self.outcomes.fail(position, copy)
        return True

    def _store(self, future, positions) -> bool:
        """Put a task's reply into the outcomes; return whether any item failed."""
        outcomes = self.outcomes
        try:
            reply = future.result()
        except Exception as exc:  # the task itself failed: its worker died, or it was lost
            return self._fail_all(positions, _task_error(exc, self.distributed))
        values_blob, failures_blob, seconds = pickle.loads(reply)
        self.busy += seconds
        if self.calls.progress is not None:
            self.calls.progress(len(positions))
        if values_blob is None:  # the chunk could not be loaded on the worker
            error, text = pickle.loads(failures_blob)
            return self._fail_all(positions, WorkerError(str(error)), text)
        try:
            values = pickle.loads(values_blob)
        except Exception as why:  # a result whose class the caller cannot import, say
            error = WorkerError(f"the chunk's results cannot be unpickled here: {why!r}")
            error.__cause__ = why
            return self._fail_all(positions, error)
        if failures_blob is None and type(positions) is range:
            outcomes.values[positions.start : positions.stop] = values  # the common case
            return False
        failures = pickle.loads(failures_blob) if failures_blob is not None else {}
        for k, position in enumerate(positions):
            if k in failures:
                error, text = failures[k]
                error.__cause__ = RemoteTraceback(text)
                outcomes.fail(position, error)
            else:
                outcomes.values[position] = values[k]
        return bool(failures)


class DaskExecutor(Executor):
    """Runs calls as tasks on a dask.distributed cluster (``target="dask"``).

    The cluster is the client in force (see `batchkit.config`): one set by ``config``, else
    dask's default client, else a ``LocalCluster`` on 127.0.0.1 that batchkit starts on first
    use (one single-threaded worker process per core) and closes at exit.

    The decorated method is called once, in the caller, and returns the function that runs on
    the workers (see `inbatch_parallel`). An action called from inside a task runs inline.
    """

    name = "dask"
    runs_worker_function = True

    def __init__(self):
        self._times = ItemTimes()

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        n_calls = len(calls)
        outcomes = Outcomes(n_calls)
        if n_calls == 0:
            return outcomes
        if in_remote_task():
            # already in a task: waiting on the cluster from it could deadlock; the items run
            # here, in order, as on "for" (a timeout honoured)
            from . import get_executor

            return get_executor("for").run(fn, calls, options)
        distributed = import_distributed()
        fn_blob = dump_worker_function(fn)
        client = resolve_client()
        runners = options.n_workers or total_threads(client)
        # without n_workers, a second task per thread waits at the scheduler, so that a worker
        # starts its next chunk without waiting for the caller's round trip (~10 ms)
        window = options.n_workers or QUEUED_PER_THREAD * runners
        n_chunks = fan_out(
            n_calls,
            runners,
            self._times.estimate(fn),
            unknown=runners * FIRST_CHUNKS_PER_THREAD,
            most=runners * MAX_CHUNKS_PER_THREAD,
            min_seconds=MIN_CHUNK_SECONDS,
        )
        bounds = chunk_bounds(n_calls, balanced_chunks(n_chunks, runners, n_calls))
        call = _Call(client, distributed, calls, outcomes, options.timeout, window, options.inner_threads)
        call.share(fn_blob, len(bounds))
        call.run(bounds, options.fail_fast)
        if not calls.cancel.requested and call.busy > 0:
            self._times.record(fn, call.busy, n_calls)
        outcomes.failed.sort()
        return outcomes

    def close(self) -> None:
        """Close the LocalCluster batchkit started, if any (a client given by the user stays open)."""
        close_own_cluster()
