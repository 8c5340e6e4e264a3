"""Remembered per-item run times, used to size the fan-out of later calls.

Dispatch has a fixed cost per chunk (a pool round trip: ~20 us for threads, ~0.2 ms for
processes). When a function's items are known to be tiny, fewer chunks (and runners) make the
call cheaper; when they are slow, more chunks balance the load. The first call of a function,
with nothing known yet, uses a middle setting.

The ``threads`` target also remembers what share of its runners' time a function's items kept a
CPU busy: items that wait (I/O, sleeping) gain from more threads than cores, items that compute
do not (see `batchkit._cpus.thread_workers`).
"""

from __future__ import annotations

import math
import threading

from .._cpus import available_cpus

__all__ = ["ItemTimes", "cpu_share", "fan_out"]

_MAX_KEYS = 4096


def _key(fn):
    """A key that stays the same across calls: a bound method or a fresh lambda differ each time."""
    fn = getattr(fn, "func", fn)  # functools.partial
    fn = getattr(fn, "__func__", fn)  # bound method
    fn = getattr(fn, "_fn", fn)  # batchkit wrappers
    return getattr(fn, "__code__", None) or type(fn)


class ItemTimes:
    """Seconds per item and CPU share, per function, as moving averages of the calls seen so far."""

    def __init__(self):
        self._seconds: dict = {}
        self._shares: dict = {}
        self._lock = threading.Lock()

    def estimate(self, fn) -> float | None:
        return self._seconds.get(_key(fn))

    def lookup(self, fn) -> tuple[float | None, float | None]:
        """``(seconds per item, CPU share)`` of ``fn``, each None while not yet known (one key lookup)."""
        key = _key(fn)
        return self._seconds.get(key), self._shares.get(key)

    def record(self, fn, seconds: float, n_items: int, cpu_share: float | None = None) -> None:
        if n_items <= 0:
            return
        key = _key(fn)
        with self._lock:
            if len(self._seconds) > _MAX_KEYS:
                self._seconds.clear()
                self._shares.clear()
            old = self._seconds.get(key)
            sample = seconds / n_items
            self._seconds[key] = sample if old is None else 0.5 * (old + sample)
            if cpu_share is not None:
                old = self._shares.get(key)
                self._shares[key] = cpu_share if old is None else 0.5 * (old + cpu_share)

    def record_share(self, fn, cpu_share: float) -> None:
        """Remember a CPU share alone (a call whose per-item time was not measured)."""
        key = _key(fn)
        with self._lock:
            if len(self._shares) > _MAX_KEYS:
                self._shares.clear()
            old = self._shares.get(key)
            self._shares[key] = cpu_share if old is None else 0.5 * (old + cpu_share)


def fan_out(
    n_items: int, n_workers: int, per_item: float | None, *, unknown: int, most: int, min_seconds: float
) -> int:
    """How many chunks to cut ``n_items`` into.

    ``unknown`` chunks when the per-item time is not known; otherwise enough that each chunk
    holds about ``min_seconds`` of work, between 1 and ``most``; never more than ``n_items``.

    Examples
    --------
    >>> fan_out(100, 2, None, unknown=4, most=8, min_seconds=1e-3)
    4
    >>> fan_out(100, 2, 1e-7, unknown=4, most=8, min_seconds=1e-3)
    1
    >>> fan_out(64, 2, 5e-3, unknown=4, most=8, min_seconds=1e-3)
    8
    """
    chunks = unknown if per_item is None else max(1, min(most, math.floor(n_items * per_item / min_seconds)))
    return max(1, min(chunks, n_items))


def cpu_share(cpu: float, wall: float, n_runners: int) -> float | None:
    """The share of ``n_runners``' summed ``wall`` seconds they spent on a CPU (``cpu`` seconds).

    Measured against what the cores allowed: runners beyond one per core each get only part of
    a core, so compute-bound items read near 1.0 however many runners shared the cores, and
    items that wait read near 0.0. None when nothing was timed.

    Examples
    --------
    >>> cpu_share(1.0, 1.0, 1)
    1.0
    >>> cpu_share(0.01, 2.0, 2)
    0.005
    >>> cpu_share(2.0, 6.0, 6) == min(1.0, 2.0 / (6.0 * min(1, available_cpus() / 6)))
    True
    >>> cpu_share(0.0, 0.0, 1) is None
    True
    """
    if wall <= 0:
        return None
    cpus = available_cpus()
    if n_runners > cpus:  # plain comparisons: this runs once per call, on the dispatch path
        wall = wall * cpus / n_runners
    return cpu / wall
