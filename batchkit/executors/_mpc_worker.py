"""The worker process of the ``mpc`` target: its loop, and what it tells the caller through shared memory.

Each worker process owns one row (slot) of a table of int64 in shared memory, where it writes
which items of its chunk run (and, under a timeout, since when). The caller reads the row
without asking the worker anything, so that when the worker dies or overruns the timeout it
knows which item was running (the one to blame) and which must run again. The caller writes
one field: a stop flag, read before each item, through which ``fail_fast`` stops a chunk
between two items.

How precisely the row follows the items is the chunk's ``block``: with 1 (a timeout, slow
items, or items not timed yet) the worker announces every item, at about 0.3 us an item; with
more, it announces runs of ``block`` items (about 0.1 ms of work each) and a death blames the
run, which the caller then halves until the culprit is alone. Tiny items so cost what they
cost before any of this.

This module is preloaded by the forkserver, so it must import nothing heavy of its own.
"""

from __future__ import annotations

import ctypes
import itertools
import os
import pickle
import signal
import threading
import time

from .._calls import NOT_RUN, Calls, Cancel, Outcomes
from ..errors import WorkerError
from . import _inner_threads
from ._mpc_pickle import dump_values, dumps, portable_error
from ._shared_worker import after_chunk, describe_read_only
from ._shm_segments import pid_alive

__all__ = ["SLOT_WIDTH", "SlotCancel", "in_process_worker", "serve"]

#: the fields of a slot, in order; a slot is SLOT_WIDTH int64 wide. ITEM is the index (in its
#: chunk) of the first item running, SPAN how many from there may be running.
CHUNK, ITEM, STARTED, STOP, PID, SPAN = range(6)
SLOT_WIDTH = 8
#: values of ITEM that are not an item index: reading a chunk, sending its results, stopped
LOADING, SENDING, STOPPED = -1, -2, -3

#: an idle worker exits after this long; the pool starts a new one when work comes
IDLE_SECONDS = 300.0
#: how often a worker checks that its caller is alive, besides noticing the lifeline close
WATCH_SECONDS = 1.0

# Set in worker processes: an mpc action called from an item runs inline there instead of
# starting a pool inside the pool.
_IN_PROCESS_WORKER = False


def in_process_worker() -> bool:
    """Whether this process is an ``mpc`` worker."""
    return _IN_PROCESS_WORKER


class SlotCancel:
    """The worker side of a chunk's stop request, kept in the worker's slot; it announces each item.

    `Calls.run_range` reads ``requested`` exactly once before each item, in order, so the n-th
    read is the n-th item of the chunk about to start: the read is where the worker records
    which item runs and since when (two stores to shared memory and a clock read).
    ``request`` (``fail_fast`` after a failed item) sets the stop flag, which the caller sees.
    """

    __slots__ = ("_base", "_next", "_table")

    def __init__(self, table, base: int):
        self._table = table
        self._base = base
        self._next = 0

    @property
    def requested(self) -> bool:
        table, base = self._table, self._base
        if table[base + STOP]:
            table[base + ITEM] = STOPPED
            return True
        # STARTED first: the caller reads ITEM, STARTED, ITEM and trusts only a stable ITEM,
        # so it never pairs a new item with the previous item's start.
        table[base + STARTED] = time.monotonic_ns()
        table[base + ITEM] = self._next
        self._next += 1
        return False

    def request(self) -> None:
        self._table[self._base + STOP] = 1


class _SharedStop(ctypes.Structure):
    """The stop flag alone, read in place: ``requested`` is a C-level field, as cheap as a plain bool.

    Used for runs of items under ``fail_fast``; without it the parent never sets the flag (on
    Ctrl-C it kills the busy workers instead), and a chunk keeps the plain `Cancel` of its own.
    """

    _fields_ = [("requested", ctypes.c_int64)]

    def request(self) -> None:
        self.requested = 1


def _watch_caller(lifeline, caller_pid: int) -> None:
    """End this worker soon after its caller is gone (killed outright, say).

    The caller holds the only write end of ``lifeline``; the kernel closes it when the caller
    dies, which wakes this thread at once. The pid check catches a caller whose end stays
    open in a child it forked. The worker's parent is the forkserver, not the caller, so the
    parent's pid would not tell.
    """

    def watch():
        while True:
            try:
                if lifeline.poll(WATCH_SECONDS):
                    break  # end of file: nobody writes to the lifeline
            except (OSError, EOFError):
                break
            if not pid_alive(caller_pid):
                break
        os._exit(1)

    threading.Thread(target=watch, name="batchkit-caller-watch", daemon=True).start()


def _run_items(fn, calls: Calls, outcomes: Outcomes, block: int, table, base: int, stop) -> None:
    """Run every call of the chunk, announcing each item (``block`` 1) or each run of items."""
    n = len(calls)
    table[base + SPAN] = 1
    if block <= 1:
        calls.cancel = SlotCancel(table, base)
        calls.run_range(fn, 0, n, outcomes)
        return
    calls.cancel = stop if calls.fail_fast else Cancel()
    for lo in range(0, n, block):
        if calls.cancel.requested:
            table[base + ITEM] = STOPPED
            return
        hi = min(n, lo + block)
        table[base + SPAN] = hi - lo  # before ITEM: the caller trusts a stable ITEM
        table[base + ITEM] = lo
        calls.run_range(fn, lo, hi, outcomes)
    if calls.cancel.requested and NOT_RUN in outcomes.values:
        table[base + ITEM] = STOPPED


def _run_chunk(fn, calls_blob: bytes, block: int, table, base: int, stop) -> bytes:
    """Run one chunk of calls; return the reply, pickled.

    The reply is ``(values_blob, failures_blob, failed, missing, seconds, chunk_error)``: the
    values and the failures are pickled apart, so that a failure the caller cannot unpickle
    costs only the failed items; ``missing`` lists the items not run (stopped, or after an item
    that raised ``SystemExit``), which the caller runs again or counts as cancelled.
    """
    calls = pickle.loads(calls_blob)
    outcomes = Outcomes(len(calls))
    values = outcomes.values
    start = time.perf_counter()
    cut_short = False
    try:
        _run_items(fn, calls, outcomes, block, table, base, stop)
    except BaseException as exc:  # SystemExit or KeyboardInterrupt raised by the item itself
        cut_short = True
        first = max(0, table[base + ITEM])
        k = next((i for i in range(first, len(values)) if values[i] is NOT_RUN), None)
        if k is not None:  # the item that raised: the first one after the announced start not stored
            error = WorkerError(f"the item raised {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            outcomes.fail(k, error)
    elapsed = time.perf_counter() - start
    for i in outcomes.failed:
        describe_read_only(values[i])
    after_chunk()  # flush the memmaps written through
    stopped = table[base + ITEM] == STOPPED
    table[base + STARTED] = 0
    table[base + ITEM] = SENDING
    missing = [i for i, value in enumerate(values) if value is NOT_RUN] if stopped or cut_short else []
    failures = {i: portable_error(values[i]) for i in outcomes.failed}
    for i in itertools.chain(failures, missing):
        values[i] = None
    values_blob = dump_values(values, failures)  # may add the items whose value does not pickle
    failures_blob = dumps(failures) if failures else None
    return dumps((values_blob, failures_blob, sorted(failures), missing, elapsed, None))


def _chunk_error(exc: Exception) -> bytes:
    """The reply for a chunk that could not even be loaded: every item of it fails with this."""
    error = WorkerError(f"the worker process could not load this chunk: {type(exc).__name__}: {exc}")
    return dumps((None, None, [], [], 0.0, dumps(portable_error(error))))


def serve(conn, lifeline, shared, slot: int, caller_pid: int) -> None:
    """The worker process: run each chunk received on ``conn`` and send back its reply.

    A message is ``(chunk_id, fn_blob, calls_blob, block, inner_threads)``; ``fn_blob`` is None when the
    function is the one of the previous chunk (the caller knows what each worker holds, and
    sends a function once per worker and call). ``None`` or a closed ``conn`` ends the worker.
    """
    global _IN_PROCESS_WORKER
    _IN_PROCESS_WORKER = True
    # Ctrl-C in a terminal reaches the whole process group: the caller decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    table = memoryview(shared).cast("B").cast("q")
    base = slot * SLOT_WIDTH
    stop = _SharedStop.from_buffer(shared, (base + STOP) * ctypes.sizeof(ctypes.c_int64))
    _watch_caller(lifeline, caller_pid)
    table[base + PID] = os.getpid()
    fn = None
    while True:
        try:
            if not conn.poll(IDLE_SECONDS):
                break
            message = conn.recv()
        except (EOFError, OSError):
            break
        if message is None:
            break
        chunk_id, fn_blob, calls_blob, block, inner_threads = message
        table[base + ITEM] = LOADING
        table[base + STARTED] = 0
        table[base + CHUNK] = chunk_id
        try:
            _inner_threads.apply(inner_threads)  # before loading fn, which may import numba
            if fn_blob is not None:
                fn = None  # a failed load must not leave the previous call's function in place
                fn = pickle.loads(fn_blob)
            if fn is None:
                raise WorkerError("the worker function did not arrive")
            reply = _run_chunk(fn, calls_blob, block, table, base, stop)
            _inner_threads.apply(inner_threads)  # numba's threads started by an item: capped now
        except Exception as exc:
            reply = _chunk_error(exc)
        try:
            conn.send_bytes(reply)
        except OSError:
            break
