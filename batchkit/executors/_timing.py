"""Remembered per-item run times, used to size the fan-out of later calls.

Dispatch has a fixed cost per chunk (a pool round trip: ~20 us for threads, ~0.2 ms for
processes). When a function's items are known to be tiny, fewer chunks (and runners) make the
call cheaper; when they are slow, more chunks balance the load. The first call of a function,
with nothing known yet, uses a middle setting.
"""

from __future__ import annotations

import math
import threading

__all__ = ["ItemTimes", "fan_out"]

_MAX_KEYS = 4096


def _key(fn):
    """A key that stays the same across calls: a bound method or a fresh lambda differ each time."""
    fn = getattr(fn, "func", fn)  # functools.partial
    fn = getattr(fn, "__func__", fn)  # bound method
    fn = getattr(fn, "_fn", fn)  # batchkit wrappers
    return getattr(fn, "__code__", None) or type(fn)


class ItemTimes:
    """Seconds per item, per function, as a moving average of the calls seen so far."""

    def __init__(self):
        self._seconds: dict = {}
        self._lock = threading.Lock()

    def estimate(self, fn) -> float | None:
        return self._seconds.get(_key(fn))

    def record(self, fn, seconds: float, n_items: int) -> None:
        if n_items <= 0:
            return
        sample = seconds / n_items
        key = _key(fn)
        with self._lock:
            if len(self._seconds) > _MAX_KEYS:
                self._seconds.clear()
            old = self._seconds.get(key)
            self._seconds[key] = sample if old is None else 0.5 * (old + sample)


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
