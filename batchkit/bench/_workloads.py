"""The workloads of ``python -m batchkit bench``: what one item does, and how many items.

Module-level functions, so that process pools (``mpc``, ``concurrent.futures``, joblib) can
pickle them by reference. Sizes are set for about 0.3 s of plain-loop time per workload
(``quick``: a tenth), so the whole benchmark stays under a minute on two cores.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import time
from collections.abc import Callable

__all__ = ["WORKLOADS", "Workload", "make_workloads"]


def nothing(x):
    return x


def _numba_kernel():
    import numba
    import numpy as np

    @numba.njit(nogil=True, cache=False)
    def kernel(n):
        total = 0.0
        for i in range(n):
            total += math.sqrt(i) * 1e-9
        return total

    kernel(10)  # compiled here, not in the first timed item
    _ = np  # numba types numpy-free code here; numpy is loaded with it anyway
    return kernel


_kernel = []


def compiled(n):
    """A numba kernel that releases the GIL: n square roots."""
    if not _kernel:
        _kernel.append(_numba_kernel())
    return _kernel[0](n)


def python_loop(n):
    """Pure Python, holding the GIL: n additions."""
    total = 0
    for i in range(n):
        total += i
    return total


def wait(seconds):
    """An I/O-like step: the item waits (a file, the network), the CPU is free."""
    time.sleep(seconds)
    return seconds


async def wait_async(seconds):
    await asyncio.sleep(seconds)
    return seconds


@dataclasses.dataclass(frozen=True)
class Workload:
    """One workload: its items, the function per item, and what its time is reported per."""

    name: str
    what: str
    fn: Callable
    items: list
    #: ``"call"``: the time of one call of the whole workload; ``"item"``: per item
    per: str = "call"
    #: the coroutine version, for ``target="async"`` (None: it has none)
    coroutine: Callable | None = None
    #: calls of the workload per sample (the per-call overhead is too short to time once)
    calls: int = 1


def make_workloads(quick: bool = False) -> list[Workload]:
    """The workloads, sized for a full run or a quick one (``quick``: about a tenth)."""
    scale = 0.1 if quick else 1.0
    n = max(2, int(16 * (0.5 if quick else 1)))
    trivial = list(range(int(20_000 * scale)))
    return [
        Workload("per call", "one call of one trivial item", nothing, [0], calls=int(200 * scale) or 1),
        Workload("per item", f"{len(trivial)} trivial items in one call", nothing, trivial, per="item"),
        Workload("nogil kernel", f"{n} numba items (nogil), ~20 ms each", compiled, [int(8e6 * scale)] * n),
        Workload("GIL-bound", f"{n} pure-Python items, ~20 ms each", python_loop, [int(4e5 * scale)] * n),
        Workload(
            "I/O-like", f"{4 * n} items waiting 5 ms each", wait, [0.005] * (4 * n), coroutine=wait_async
        ),
    ]


WORKLOADS = [w.name for w in make_workloads(quick=True)]
