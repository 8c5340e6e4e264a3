"""One call on the ``mpc`` target: its chunks sent to the workers it holds, and what a fault costs.

The call's thread does all of it (no helper thread): it sends chunks, waits on the workers'
pipes and process sentinels at once, and in between enforces the timeout by reading the slot
table. What each fault costs:

* **An item raises.** Its exception comes back with its chunk; nothing else changes.
* **A worker dies** (any exit code or signal). Its row in the slot table says what it was
  doing. Running item k of a chunk: k is the suspect. A suspect alone in its chunk fails with
  `WorkerDied`; otherwise it runs again alone, and the rest of its chunk runs again (their
  results died with the worker). Running a run of tiny items announced together (see
  `_mpc_worker`): the run and the rest of the chunk run again, with every item announced from
  then on, so the next death names the suspect. Between items (loading the chunk, sending its results):
  the culprit is unknown, so the chunk is halved and both halves run again, until the item
  that kills a worker on its own is alone. A chunk the worker never began runs again as it was.
* **An item overruns the timeout.** Its worker is killed, the item fails with `ItemTimeout`,
  the rest of its chunk runs again.
* **fail_fast.** After the first failed item, every worker of the call is told through its
  stop flag, read before each item; pending chunks are dropped and the call returns when the
  running items end. The items never run stay ``NOT_RUN`` and become `ItemCancelled`.
* **Ctrl-C** (any ``BaseException`` in the caller). The workers running this call's items
  are killed; the others go back to the pool, which stays usable.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from multiprocessing.connection import wait

from .._calls import Calls, Outcomes
from ..errors import ItemTimeout, WorkerDied, WorkerError
from ._mpc_pickle import pack_calls, store_reply
from ._mpc_pool import JOIN_SECONDS, Worker, WorkerPool, describe_exit

__all__ = ["Chunk", "Job"]

#: a chunk whose worker died before beginning it runs again this often, then counts as suspect
MAX_REQUEUES = 3
#: workers in a row that die before reaching their loop: the environment cannot start them
MAX_START_FAILURES = 3
#: a second chunk waits on a busy worker's pipe only below this size: a message larger than
#: the pipe holds would block the caller until the worker reads it, and no timeout would be
#: enforced meanwhile
PIPELINE_BYTES = 64 * 1024
#: how often a call with fewer workers than it could use looks for one given back
STAFF_SECONDS = 0.02


class Chunk:
    """Some positions of a call and their pickled calls; ``id`` is set each time it is sent."""

    __slots__ = ("blob", "id", "positions", "requeues")

    def __init__(self, positions, blob: bytes):
        self.positions = positions  # a range for the first chunks, a list for those run again
        self.blob = blob
        self.id = 0
        self.requeues = 0


def _died(exitcode: int | None, note: str = "") -> WorkerDied:
    return WorkerDied(f"the worker process running this item died: {describe_exit(exitcode)}{note}", exitcode)


class Job:
    """The state of one call; `run` sends every chunk and accounts for every position."""

    def __init__(
        self,
        pool: WorkerPool,
        fn_blob: bytes,
        calls: Calls,
        outcomes: Outcomes,
        timeout: float | None,
        n_workers: int,
        chunks: list[Chunk],
        block: int = 1,
        arrays=None,
        inner_threads: int = 1,
    ):
        self.pool = pool
        self.fn_blob = fn_blob
        self.calls = calls
        self.outcomes = outcomes
        self.timeout = timeout
        self.timeout_ns = None if timeout is None else int(timeout * 1e9)
        self.n_workers = n_workers
        #: items per announcement in a worker's slot (see _mpc_worker); 1 under a timeout
        self.block = 1 if timeout is not None else block
        #: the call's arrays crossing by reference (`_shared_arrays.CallArrays`), or None
        self.arrays = arrays
        #: the cap on each worker's inner thread pools (see `_inner_threads`)
        self.inner_threads = inner_threads
        self.pending = deque(chunks)
        self.workers: list[Worker] = []
        self.by_sentinel: dict[int, Worker] = {}
        self.busy_seconds = 0.0
        self.stopped = False
        #: read by the pool: the workers of a closed job are taken back (see WorkerPool._reap)
        self.closed = False
        self.start_failures = 0
        #: positions filled by whole chunks that came back complete (the path without faults)
        self.expected = sum(len(chunk.positions) for chunk in chunks)
        self.filled_whole = 0

    def run(self) -> None:
        try:
            while self.pending or self._n_busy():
                if self.pending:
                    self._staff()
                self._feed()
                if self._n_busy():
                    self._wait()
            if self.filled_whole != self.expected and not self.calls.cancel.requested:
                # After a fault, make sure no position was left unfilled (a bug if one was).
                self.outcomes.check_complete()
        except BaseException:
            self._abort()
            raise
        finally:
            self.closed = True
            self._release_all()

    # -- workers ------------------------------------------------------------------------------

    def _n_busy(self) -> int:
        return sum(1 for worker in self.workers if worker.outstanding)

    def _staff(self) -> None:
        """Take workers from the pool: up to ``n_workers``, none while other calls wait."""
        want = min(self.n_workers, len(self.pending) + self._n_busy()) - len(self.workers)
        if want <= 0 or (self.workers and self.pool.waiting):
            return
        try:
            taken = self.pool.acquire(self, want, wait=not self.workers)
        except Exception as why:  # no process could be started
            if not self.workers:
                self._give_up(f"no worker process could be started: {why!r}")
            return
        for worker in taken:
            self.workers.append(worker)
            self.by_sentinel[worker.process.sentinel] = worker
        if not self.workers:
            self._give_up("no worker process is available: the mpc pool was closed")

    def _feed(self) -> None:
        """Send chunks to the workers that can take one; give back those this call cannot use."""
        waiting = self.pool.waiting
        for worker in list(self.workers):
            if worker.owner is not self:  # died while a chunk was sent to it
                continue
            if not worker.outstanding:
                if not self.pending or (waiting and len(self.workers) > 1):
                    self._release(worker)
                else:
                    self._send(worker, self.pending.popleft())
        # Then a second chunk each, in the same order, so chunks start about in their order.
        for worker in list(self.workers):
            if not self.pending or waiting:
                break
            if worker.owner is not self or len(worker.outstanding) != 1:
                continue
            if len(self.pending[0].blob) <= PIPELINE_BYTES:  # a larger one must not block the caller
                self._send(worker, self.pending.popleft())

    def _send(self, worker: Worker, chunk: Chunk) -> bool:
        chunk.id = self.pool.chunk_ids()
        fn_blob = None if worker.fn_blob == self.fn_blob else self.fn_blob
        worker.outstanding.append(chunk)  # before sending: an interrupted send kills the worker
        try:
            worker.conn.send((chunk.id, fn_blob, chunk.blob, self.block, self.inner_threads))
        except (OSError, ValueError):  # its pipe broke: the worker died
            self._on_death(worker)
            return False
        worker.fn_blob = self.fn_blob
        return True

    def _release(self, worker: Worker) -> None:
        self.workers.remove(worker)
        self.by_sentinel.pop(worker.process.sentinel, None)
        self.pool.give_back(worker)

    def _drop(self, worker: Worker, kill: bool) -> int | None:
        self.workers.remove(worker)
        self.by_sentinel.pop(worker.process.sentinel, None)
        worker.outstanding = []
        return self.pool.discard(worker, kill=kill)

    def _release_all(self) -> None:
        for worker in list(self.workers):
            if worker.outstanding:  # only after an error of batchkit's own
                self._drop(worker, kill=True)
            else:
                self._release(worker)

    # -- waiting ------------------------------------------------------------------------------

    def _wait(self) -> None:
        busy = [worker for worker in self.workers if worker.outstanding]
        conns = {worker.conn: worker for worker in busy}
        ready = wait([*conns, *(worker.process.sentinel for worker in busy)], self._tick(busy))
        for obj in ready:
            worker = conns.get(obj)
            if worker is not None and worker.owner is self:
                self._receive(worker)
        for obj in ready:
            worker = self.by_sentinel.get(obj)
            if worker is None or worker.owner is not self:
                continue
            while worker.owner is self and worker.outstanding and worker.conn.poll():
                self._receive(worker)  # what it sent before it died still counts
            if worker.owner is self:
                self._on_death(worker)
        if self.timeout_ns is not None:
            self._watchdog()

    def _tick(self, busy: list[Worker]) -> float | None:
        """How long to wait: until the next item would overrun, or a while to find a worker."""
        tick = None
        if self.timeout_ns is not None:
            now, nearest = time.monotonic_ns(), self.timeout_ns
            for worker in busy:
                chunk_id, item, _, started = self.pool.read(worker)
                if item >= 0 and started and chunk_id == worker.outstanding[0].id:
                    nearest = min(nearest, started + self.timeout_ns - now)
            tick = max(nearest, 1_000_000) / 1e9
        if self.pending and len(self.workers) < min(self.n_workers, len(self.pending) + len(busy)):
            tick = STAFF_SECONDS if tick is None else min(tick, STAFF_SECONDS)
        return tick

    def _receive(self, worker: Worker) -> None:
        try:
            reply = worker.conn.recv_bytes()
        except (EOFError, OSError):
            self._on_death(worker)
            return
        self.start_failures = 0
        self._store(worker.outstanding.pop(0), reply)

    # -- results ------------------------------------------------------------------------------

    def _store(self, chunk: Chunk, reply: bytes) -> None:
        """Put a chunk's reply into the outcomes; run again what it did not run."""
        seconds, again, failed, whole = store_reply(reply, chunk.positions, self.outcomes)
        self.busy_seconds += seconds
        if whole:
            self.filled_whole += len(chunk.positions)
        self._progress(len(chunk.positions) - len(again))
        if failed:
            self._failed()
        if again and not self.stopped:
            self._requeue([again])

    def _requeue(self, groups: list[list[int]]) -> None:
        """Put groups of positions at the front of the queue, in this order."""
        for positions in reversed(groups):
            positions, blob = pack_calls(self.calls, positions, self.outcomes, self.arrays)
            if blob is not None:
                self.pending.appendleft(Chunk(positions, blob))

    def _progress(self, n: int) -> None:
        if n and self.calls.progress is not None:
            self.calls.progress(n)

    def _failed(self) -> None:
        if self.calls.fail_fast:
            self._stop()

    def _give_up(self, reason: str) -> None:
        for chunk in self.pending:
            for position in chunk.positions:
                self.outcomes.fail(position, WorkerError(reason))
        self.pending.clear()

    # -- faults -------------------------------------------------------------------------------

    def _on_death(self, worker: Worker) -> None:
        """A worker died: blame what its slot says it was running; run the rest again."""
        process = worker.process
        process.join(JOIN_SECONDS)  # the forkserver reports the exit within milliseconds
        chunk_id, item, span, _ = self.pool.read(worker)
        started = self.pool.is_ready(worker)
        outstanding = worker.outstanding
        exitcode = self._drop(worker, kill=process.exitcode is None)
        if self.pool.closed:  # killed by close(): no item is to blame
            for chunk in outstanding:
                for position in chunk.positions:
                    self.outcomes.fail(position, WorkerError("the mpc pool was closed while this item ran"))
            self._give_up("the mpc pool was closed before this item ran")
            return
        if not started:
            self.start_failures += 1
            if self.start_failures >= MAX_START_FAILURES:
                self.pending.extendleft(reversed(outstanding))
                self._give_up(f"worker processes cannot start: the last one {describe_exit(exitcode)}")
                return
        for chunk in reversed(outstanding):  # pushed to the front: the first chunk ends first
            if chunk.id != chunk_id:
                self._never_began(chunk, exitcode, counted=started)
            elif 0 <= item < len(chunk.positions):
                self._suspect(chunk, item, max(1, span), exitcode)
            else:
                self._unknown_culprit(chunk, exitcode)

    def _never_began(self, chunk: Chunk, exitcode: int | None, counted: bool) -> None:
        if self.stopped:
            return
        chunk.requeues += counted
        if chunk.requeues > MAX_REQUEUES:
            self._unknown_culprit(chunk, exitcode)
        else:
            self.pending.appendleft(chunk)

    def _suspect(self, chunk: Chunk, k: int, span: int, exitcode: int | None) -> None:
        """Items ``k`` to ``k + span`` of the chunk were running when its worker died."""
        positions = list(chunk.positions)
        if span > 1:
            # A run of items announced as one: from now on this call's workers announce every
            # item, so the run's next death names its culprit (which then runs alone).
            self.block = 1
            if not self.stopped:
                suspects, rest = positions[k : k + span], positions[:k] + positions[k + span :]
                self._requeue([group for group in (suspects, rest) if group])
            return
        suspect = positions.pop(k)
        if not positions or self.stopped:
            note = "" if not positions else " (not run again alone: the call was stopping)"
            self.outcomes.fail(suspect, _died(exitcode, note))
            self._progress(1)
            self._failed()
            return
        self._requeue([[suspect], positions])

    def _unknown_culprit(self, chunk: Chunk, exitcode: int | None) -> None:
        positions = list(chunk.positions)
        if len(positions) == 1:
            note = " (outside the item's own code: loading its arguments or sending its result)"
            self.outcomes.fail(positions[0], _died(exitcode, note))
            self._progress(1)
            self._failed()
        elif not self.stopped:
            half = len(positions) // 2
            self._requeue([positions[:half], positions[half:]])

    def _watchdog(self) -> None:
        now = time.monotonic_ns()
        for worker in [worker for worker in self.workers if worker.outstanding]:
            chunk_id, item, _, started = self.pool.read(worker)
            head = worker.outstanding[0]
            if chunk_id == head.id and item >= 0 and started and now - started > self.timeout_ns:
                self._time_out(worker, head, item)

    def _time_out(self, worker: Worker, chunk: Chunk, k: int) -> None:
        """Kill the worker of an overrunning item; the item fails, its chunk-mates run again."""
        later = worker.outstanding[1:]  # never begun
        self._drop(worker, kill=True)
        positions = list(chunk.positions)
        overdue = positions.pop(k)
        error = ItemTimeout(
            f"the item ran longer than the timeout of {self.timeout:g} s; its worker process was "
            "killed (target='mpc')",
            self.timeout,
        )
        self.outcomes.fail(overdue, error)
        self._progress(1)
        self._failed()
        if not self.stopped:
            self.pending.extendleft(reversed(later))
            if positions:
                self._requeue([positions])

    def _stop(self) -> None:
        """fail_fast: start no new item anywhere; the running items end, then the call returns."""
        if self.stopped:
            return
        self.stopped = True
        self.calls.cancel.request()
        self.pending.clear()
        for worker in self.workers:
            self.pool.stop(worker)

    def _abort(self) -> None:
        """Ctrl-C or another BaseException in the caller: kill this call's busy workers."""
        self.stopped = True
        self.pending.clear()
        self.calls.cancel.request()
        busy = [worker for worker in self.workers if worker.outstanding]
        for worker in self.workers:
            self.pool.stop(worker)
        for worker in busy:  # all signals first, then the joins: they die together
            with contextlib.suppress(OSError, ValueError):
                worker.process.kill()
        for worker in busy:
            with contextlib.suppress(Exception):
                self._drop(worker, kill=False)
