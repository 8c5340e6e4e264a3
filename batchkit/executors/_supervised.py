"""Calls run under a per-item timeout: runners on pool threads, the caller watching them.

A thread cannot be interrupted, so an item past the limit is given up: its slot gets
`ItemTimeout`, a fresh runner takes over the rest of its range, and its thread finishes the
item in the background, its late result dropped (see `batchkit._calls.Lane`). The calling
thread only watches, waking every `tick` seconds, so the call returns within the timeout plus
one tick of the last item's start.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from concurrent.futures import FIRST_COMPLETED, wait

from .._calls import Calls, Lane, Outcomes
from ..errors import ItemTimeout
from ._base import chunk_bounds, mark_worker

__all__ = ["run_supervised", "tick"]

#: chunks per runner; with a timeout, items are slow enough that taking a chunk costs nothing
CHUNKS_PER_RUNNER = 4


def tick(timeout: float) -> float:
    """How often the supervisor looks at the runners: a tenth of the limit, 5 to 50 ms."""
    return max(0.005, min(0.05, timeout / 10))


class _WatchedJob:
    """The ranges of one call, handed to runners that each announce their item on a lane."""

    __slots__ = ("_next", "bounds", "calls", "fn", "leftovers", "outcomes")

    def __init__(self, fn, calls: Calls, bounds, outcomes: Outcomes):
        self.fn = fn
        self.calls = calls
        self.bounds = bounds
        self.outcomes = outcomes
        #: the rest of a range whose item was given up; list.pop and append are atomic
        self.leftovers: list[tuple[int, int]] = []
        self._next = itertools.count().__next__

    def _take(self):
        if self.leftovers:
            with contextlib.suppress(IndexError):  # another runner may take it first
                return self.leftovers.pop()
        k = self._next()
        return self.bounds[k] if k < len(self.bounds) else None

    def work(self, lane: Lane) -> None:
        cancel = self.calls.cancel
        with mark_worker():
            while not cancel.requested and not lane.abandoned:
                taken = self._take()
                if taken is None:
                    return
                lo, hi = taken
                lane.end = hi
                self.calls.run_range(self.fn, lo, hi, self.outcomes, lane)


def run_supervised(pool, fn, calls: Calls, outcomes: Outcomes, n_workers: int, timeout: float, target: str):
    """Run ``calls`` on ``pool`` with at most ``n_workers`` runners and a per-item ``timeout``."""
    n_calls = len(calls)
    n_runners = min(n_workers, n_calls)
    job = _WatchedJob(fn, calls, chunk_bounds(n_calls, n_runners * CHUNKS_PER_RUNNER), outcomes)
    runners = {}
    for _ in range(n_runners):
        lane = Lane()
        runners[pool.submit(job.work, lane)] = lane
    interval = tick(timeout)
    try:
        while runners:
            done, _ = wait(runners, timeout=interval, return_when=FIRST_COMPLETED)
            for future in done:
                del runners[future]
                future.result()  # a BaseException raised by an item propagates
            now = time.monotonic()
            for future, lane in list(runners.items()):
                position = lane.overdue(now, timeout)
                if position is None:
                    continue
                outcomes.fail(position, _timed_out(timeout, target))
                if calls.fail_fast:
                    calls.cancel.request()
                del runners[future]  # its thread goes on with the item; nobody waits for it
                if position + 1 < lane.end:
                    job.leftovers.append((position + 1, lane.end))
                if not calls.cancel.requested:
                    fresh = Lane()
                    runners[pool.submit(job.work, fresh)] = fresh
    except BaseException:
        calls.cancel.request()
        raise
    return outcomes


def _timed_out(timeout: float, target: str) -> ItemTimeout:
    return ItemTimeout(
        f"the item ran longer than the timeout of {timeout:g} s and was given up (target={target!r}: "
        "a thread cannot be interrupted, so it finishes the item in the background and its result "
        "is discarded)",
        timeout,
    )
