"""The ``mpc`` target: chunks of calls run in worker processes that batchkit keeps.

What crosses to a worker, per chunk: the worker function (pickled once per call with
cloudpickle, so lambdas, closures and functions of ``__main__`` work, and sent once per worker
and call) and that chunk's entries and action arguments. Never the batch. numpy arrays among
those cross by reference (`_shared_arrays`): a memmap as its file and offset, an array of
``SHARED_MEMORY_THRESHOLD`` bytes or more through a shared-memory segment made once per call,
whose regions the items received are copied back after the call, so writes are kept. Results
come back pickled per chunk; a value or an exception that cannot be pickled fails its own item only.

The pool is in `_mpc_pool`, the worker's side in `_mpc_worker`, and what one call does when
an item fails, a worker dies or an item overruns its timeout in `_mpc_job`.
"""

from __future__ import annotations

import os
import sys
import threading

from .._calls import Calls, Outcomes
from .._cpus import available_cpus, default_process_workers
from ._base import Executor, RunOptions, chunk_bounds
from ._inner_threads import default_cap
from ._mpc_pickle import dump_function, pack_calls
from ._mpc_worker import in_process_worker
from ._timing import ItemTimes, fan_out

__all__ = ["ProcessExecutor"]

#: at most this many chunks per worker process: enough for a fast worker to take over from a
#: slow one; each chunk costs a pipe round trip (~0.1-0.3 ms)
MAX_CHUNKS_PER_WORKER = 8
#: chunks per worker while a function's item time is unknown
FIRST_CHUNKS_PER_WORKER = 2
#: once item times are known, a chunk holds at least this much work
MIN_CHUNK_SECONDS = 2e-3
#: a numpy array crossing to the workers whose memory (its own, or that of the array it is a
#: view of) holds at least this many bytes travels through shared memory, copied once per call,
#: instead of being pickled into every chunk; what workers write into it is copied back after
#: the call (see `_shared_arrays`, and "What crosses to the processes" in docs/targets.md)
SHARED_MEMORY_THRESHOLD = 1 << 20
#: a worker announces runs of items holding about this much work (each run costs about 1 us,
#: and a worker's death blames the run, which is then halved); see _mpc_worker
BLOCK_SECONDS = 1e-4


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


def _call_arrays():
    """The call's `CallArrays` (arrays by reference), or None while numpy is not even imported."""
    if "numpy" not in sys.modules:
        return None
    from ._shared_arrays import CallArrays

    return CallArrays()


class ProcessExecutor(Executor):
    """Runs calls in worker processes that batchkit keeps (``target="mpc"``).

    The pool starts on the first call and is kept for later ones. It grows to the largest
    ``n_workers`` asked for; a call takes at most ``n_workers`` of its processes, and calls
    from several threads share them.

    A worker that dies (any exit code or signal) fails only the item that killed it, with
    `WorkerDied`; the other items of its chunk run again. An item that overruns
    ``options.timeout`` fails alone with `ItemTimeout`, and its worker is killed and replaced.
    See `_mpc_job` for what each fault costs.

    The decorated method is called once, in the caller, and returns the function that runs
    in the workers (see `inbatch_parallel`).
    """

    name = "mpc"
    runs_worker_function = True
    maps_shared_memory = True

    def __init__(self, max_workers: int | None = None):
        self.default_workers = max_workers or default_process_workers()
        self._lock = threading.Lock()
        self._workers = None
        self._times = ItemTimes()

    def _pool(self, n_workers: int):
        """The worker pool, created on first use, grown to ``n_workers`` when asked for more."""
        from ._mpc_pool import WorkerPool

        with self._lock:
            pool = self._workers
            if pool is None or pool.closed or pool.pid != os.getpid():  # not a fork's copy
                pool = self._workers = WorkerPool(max(self.default_workers, n_workers))
            elif n_workers > pool.size:
                pool.size = n_workers  # the extra workers start when a call asks for them
            return pool

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        from ._mpc_job import Chunk, Job
        from ._mpc_pool import CAPACITY

        n_calls = len(calls)
        outcomes = Outcomes(n_calls)
        if n_calls == 0:
            return outcomes
        if in_process_worker():
            calls.run_range(fn, 0, n_calls, outcomes)
            return outcomes
        n_workers = min(options.n_workers or self.default_workers, CAPACITY)
        fn_blob = dump_function(fn)
        per_item = self._times.estimate(fn)
        n_chunks = fan_out(
            n_calls,
            n_workers,
            per_item,
            unknown=n_workers * FIRST_CHUNKS_PER_WORKER,
            most=n_workers * MAX_CHUNKS_PER_WORKER,
            min_seconds=MIN_CHUNK_SECONDS,
        )
        bounds = (
            chunk_bounds(n_calls, n_chunks)
            if n_chunks <= n_workers
            else _tapering_bounds(n_calls, n_chunks, n_workers)
        )
        arrays = _call_arrays()
        try:
            chunks = []
            for lo, hi in bounds:
                positions, blob = pack_calls(calls, range(lo, hi), outcomes, arrays)
                if blob is not None:
                    chunks.append(Chunk(positions, blob))
            if chunks:
                block = 1 if not per_item else max(1, int(BLOCK_SECONDS / per_item))
                pool = self._pool(n_workers)
                inner = options.inner_threads or default_cap(n_workers, available_cpus())
                job = Job(
                    pool, fn_blob, calls, outcomes, options.timeout, n_workers, chunks, block, arrays,
                    inner_threads=inner,
                )  # fmt: skip
                job.run()
                self._times.record(fn, job.busy_seconds, n_calls)
        finally:
            if arrays is not None:
                arrays.finish()  # writes copied back, segments unlinked
        outcomes.failed.sort()
        return outcomes

    def close(self) -> None:
        with self._lock:
            pool, self._workers = self._workers, None
        if pool is not None:
            pool.close()
