"""The worker processes of the ``mpc`` target, lent to one call at a time.

Why not a ready-made pool: loky (and ``concurrent.futures``) break the whole pool when one
worker dies, and pebble's workers share one result pipe guarded by cross-process locks, so a
worker killed while sending a result breaks that pool too (a pebble pool whose worker was
killed mid-send refused every later task). Here each worker has a pipe of its own, so a worker
that dies, or is killed for overrunning its timeout, costs only what was on its own pipe, and
the caller sees the death at once through the process's sentinel (no polling thread).

A worker belongs to one call at a time (its ``owner``): that call alone sends it chunks, reads
its slot, sets its stop flag and kills it. Calls of several threads share the pool by taking
workers from it and giving them back; a call gives up its extra workers when another waits.

Workers start from a forkserver, safe from a parent that runs threads (a plain fork could
inherit a lock some thread held), with this package preloaded there: after the first, a
worker costs a fork (about 10 ms) instead of a fresh interpreter.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import multiprocessing
import os
import signal
import threading
import time
from multiprocessing import forkserver, popen_forkserver, spawn
from multiprocessing.context import ForkServerProcess

from ._mpc_worker import CHUNK, ITEM, PID, SLOT_WIDTH, SPAN, STARTED, STOP, serve

__all__ = ["CAPACITY", "Worker", "WorkerPool", "describe_exit"]

#: the most worker processes a pool holds: a row of the slot table each (64 bytes a row)
CAPACITY = 1024
#: how long to wait for a killed worker's exit to be reported (SIGKILL acts at once)
JOIN_SECONDS = 2.0
#: how long ``close`` lets workers exit on their own before killing them
CLOSE_SECONDS = 1.0
_PRELOAD = "batchkit.executors._mpc_pool"


def describe_exit(exitcode: int | None) -> str:
    """How a process ended, in words.

    Examples
    --------
    >>> describe_exit(-9)
    'killed by signal 9 (SIGKILL)'
    >>> describe_exit(3)
    'exited with code 3'
    """
    if exitcode is None:
        return "ended in an unknown way"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"killed by signal {-exitcode} ({name})"
    return f"exited with code {exitcode}"


class Worker:
    """The caller's handle on one worker process."""

    __slots__ = ("base", "conn", "fn_blob", "outstanding", "owner", "process", "slot")

    def __init__(self, process, conn, slot: int):
        self.process = process
        self.conn = conn
        self.slot = slot
        self.base = slot * SLOT_WIDTH
        #: the function blob this worker holds (so a call sends it once per worker)
        self.fn_blob: bytes | None = None
        #: the call that holds this worker, None while idle
        self.owner = None
        #: the chunks sent and not answered yet, oldest first (the first one is running)
        self.outstanding = []

    def __repr__(self) -> str:
        return f"<mpc worker pid={self.process.pid} slot={self.slot}>"


def _context():
    """The forkserver context, with this module preloaded if the forkserver is not running yet."""
    context = multiprocessing.get_context("forkserver")
    # a Python whose forkserver differs has no such attributes: its workers just import more
    with contextlib.suppress(AttributeError):
        server = forkserver._forkserver
        if server._forkserver_pid is None and _PRELOAD not in server._preload_modules:
            # Not '__main__' (preloaded by default): a script without a main guard would run
            # again in the forkserver. The workers never need it (see _Popen).
            preload = [name for name in server._preload_modules if name != "__main__"]
            context.set_forkserver_preload([*preload, _PRELOAD])
    return context


#: set in the thread that is starting a worker: its preparation data leaves out __main__
_starting_worker = threading.local()
_wrap_lock = threading.Lock()


def _leave_out_main(prepare):
    """``prepare`` (multiprocessing's preparation data), minus the main module for our workers.

    multiprocessing imports the caller's main module in every child (as ``__mp_main__``), so
    that functions and classes of a script unpickle there; a script without a main guard then
    runs again in each worker. batchkit's workers never need it: the worker function travels
    by value (cloudpickle), and entries are plain data. Only a process started by this module,
    in the thread starting it, loses the two keys that ask for it; every other process the
    program starts is prepared as usual.
    """

    def preparation_data(name):
        data = prepare(name)
        if getattr(_starting_worker, "active", False):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    preparation_data.batchkit_wrapped = True
    return preparation_data


def _install_main_filter() -> None:
    with _wrap_lock:
        if not getattr(spawn.get_preparation_data, "batchkit_wrapped", False):
            spawn.get_preparation_data = _leave_out_main(spawn.get_preparation_data)


class _Popen(popen_forkserver.Popen):
    """The forkserver's ``Popen``, started with the main module left out (see `_leave_out_main`)."""

    def _launch(self, process_obj):
        _install_main_filter()
        _starting_worker.active = True
        try:
            super()._launch(process_obj)
        finally:
            _starting_worker.active = False


class WorkerProcess(ForkServerProcess):
    """A worker process, started by the forkserver without the caller's ``__main__``."""

    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


class WorkerPool:
    """Worker processes, a shared-memory slot table, and the lending of workers to calls."""

    def __init__(self, size: int):
        self._context = _context()
        self.size = size
        self._cond = threading.Condition()
        self._idle: list[Worker] = []  # the last given back is taken first: its caches are warm
        self._all: set[Worker] = set()
        self._free_slots = list(range(CAPACITY - 1, -1, -1))
        self._shared = self._context.RawArray("q", CAPACITY * SLOT_WIDTH)
        self.table = memoryview(self._shared).cast("B").cast("q")
        # Workers read the lifeline and the caller never writes to it: when the caller dies,
        # its end closes and every worker notices at once.
        self._lifeline, self._lifeline_write = self._context.Pipe(duplex=False)
        #: how many calls wait for a worker right now (the others then give back spare ones)
        self.waiting = 0
        self.chunk_ids = itertools.count(1).__next__  # atomic under the GIL
        self.closed = False
        #: the process that owns the workers: a child forked from it must not touch them
        self.pid = os.getpid()
        # Registered after multiprocessing's own exit handler, so it runs first: that handler
        # joins every child process, and would wait for idle workers forever.
        atexit.register(self.close)

    # -- lending ------------------------------------------------------------------------------

    def acquire(self, owner, want: int, wait: bool) -> list[Worker]:
        """Up to ``want`` workers for ``owner``; with ``wait``, at least one (unless closed)."""
        with self._cond:
            while True:
                self._reap()
                if self.closed:
                    return []
                taken = []
                while self._idle and len(taken) < want:
                    taken.append(self._idle.pop())
                while len(taken) < want and len(self._all) < self.size and self._free_slots:
                    try:
                        taken.append(self._start())
                    except Exception:
                        if not taken:
                            raise
                        break  # make do with those started
                if taken or not wait:
                    for worker in taken:
                        worker.owner = owner
                        self.table[worker.base + STOP] = 0
                    return taken
                self.waiting += 1
                try:
                    self._cond.wait(0.1)
                finally:
                    self.waiting -= 1

    def give_back(self, worker: Worker) -> None:
        """Return an idle worker (nothing outstanding) to the pool."""
        with self._cond:
            worker.owner = None
            if worker in self._all and not self.closed:
                self._idle.append(worker)
            else:  # closed meanwhile: its process is ended already
                with contextlib.suppress(OSError):
                    worker.conn.close()
            self._cond.notify()

    def discard(self, worker: Worker, kill: bool = True) -> int | None:
        """Remove a worker, killing it first unless it died; return its exit code."""
        process = worker.process
        if kill:
            with contextlib.suppress(OSError, ValueError):
                process.kill()
        process.join(JOIN_SECONDS)
        exitcode = process.exitcode
        with contextlib.suppress(OSError):
            worker.conn.close()
        with self._cond:
            if worker in self._all:
                self._all.discard(worker)
                if exitcode is not None:  # a process still alive could still write its row
                    self._free_slots.append(worker.slot)
            worker.owner = None
            self._cond.notify()
        if exitcode is not None:
            with contextlib.suppress(ValueError):
                process.close()
        return exitcode

    def _start(self) -> Worker:
        slot = self._free_slots.pop()
        base = slot * SLOT_WIDTH
        for field in range(SLOT_WIDTH):
            self.table[base + field] = 0
        self.table[base + CHUNK] = -1
        here, there = self._context.Pipe(duplex=True)
        process = WorkerProcess(
            target=serve,
            args=(there, self._lifeline, self._shared, slot, os.getpid()),
            name="batchkit-mpc-worker",
        )
        try:
            process.start()
        except BaseException:
            self._free_slots.append(slot)
            here.close()
            raise
        finally:
            there.close()
        worker = Worker(process, here, slot)
        self._all.add(worker)
        return worker

    def _reap(self) -> None:
        """Drop idle workers that exited (idle too long), and workers of calls that ended."""
        for worker in [w for w in self._idle if w.process.exitcode is not None]:
            self._idle.remove(worker)
            self._forget(worker)
        stale = [w for w in self._all if w.owner is not None and w.owner.closed]
        for worker in stale:  # a call interrupted while tidying up left them running
            with contextlib.suppress(OSError, ValueError):
                worker.process.kill()
            self._forget(worker)

    def _forget(self, worker: Worker) -> None:
        self._all.discard(worker)
        worker.owner = None
        with contextlib.suppress(OSError):
            worker.conn.close()
        worker.process.join(JOIN_SECONDS)
        if worker.process.exitcode is not None:
            self._free_slots.append(worker.slot)
            with contextlib.suppress(ValueError):
                worker.process.close()

    # -- the slot table -----------------------------------------------------------------------

    def read(self, worker: Worker) -> tuple[int, int, int, int]:
        """``(chunk id, first item, span, started ns)`` from the worker's row, read consistently.

        The worker writes STARTED and SPAN before ITEM; a read whose ITEM and CHUNK did not
        move while it read the others is a state the worker was really in (or an older start
        for the same item, which only makes the item look younger).
        """
        table, base = self.table, worker.base
        while True:
            item, chunk = table[base + ITEM], table[base + CHUNK]
            span, started = table[base + SPAN], table[base + STARTED]
            if table[base + ITEM] == item and table[base + CHUNK] == chunk:
                return chunk, item, span, started

    def is_ready(self, worker: Worker) -> bool:
        """Whether the worker got as far as its loop (it writes its pid there)."""
        return self.table[worker.base + PID] != 0

    def stop(self, worker: Worker) -> None:
        """Ask the worker to start no further item of its chunks (read before each item)."""
        self.table[worker.base + STOP] = 1

    # -- the end ------------------------------------------------------------------------------

    def close(self) -> None:
        """End every worker at once; the pool takes no more calls.

        Closing the lifeline ends every worker through its watch thread, busy or not (an idle
        one also reads end-of-file on its pipe); one still alive a second later is killed. A
        call still running in another thread sees its workers die and fails its items with
        `WorkerError`.
        """
        with self._cond:
            if self.closed:
                return
            self.closed = True
            if os.getpid() != self.pid:  # a forked child: the workers are its parent's
                return
            workers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        with contextlib.suppress(Exception):
            atexit.unregister(self.close)
        for worker in workers:
            if worker.owner is None:  # the pipes of busy workers are their calls' to close
                with contextlib.suppress(OSError):
                    worker.conn.close()  # an idle worker reads end-of-file and exits
        self._lifeline_write.close()  # a busy worker's watch thread ends it
        deadline = time.monotonic() + CLOSE_SECONDS
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if worker.process.exitcode is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.process.kill()
                worker.process.join(JOIN_SECONDS)
            if worker.owner is None:  # a busy worker's process is its call's to close
                with contextlib.suppress(ValueError):
                    worker.process.close()
        self._lifeline.close()
