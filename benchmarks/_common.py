"""Shared benchmark machinery: interleaved rounds, medians, per-round ratios, a CPU probe.

All cases of one table run interleaved in one process (round 1 runs every case once, then
round 2 in reverse order, ...), so drift in the machine's speed hits every case alike. Cases shorter than
``min_sample`` seconds are repeated within a sample, timeit-style.
"""

from __future__ import annotations

import hashlib
import os
import platform
import statistics
import threading
import time
from collections.abc import Callable


def machine() -> str:
    """One line naming the machine and the versions that matter."""
    import joblib
    import numba
    import numpy

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (
        f"{cpu}, {os.cpu_count()} CPUs (affinity {len(os.sched_getaffinity(0))}); "
        f"Python {platform.python_version()}, numpy {numpy.__version__}, numba {numba.__version__}, "
        f"joblib {joblib.__version__}"
    )


def cpu_probe(seconds: float = 0.2) -> float:
    """Speed-up of GIL-free hashing on 2 threads over 1 (ideal 2.0): is the machine quiet?"""
    data = os.urandom(1 << 20)

    def spin(count):
        for _ in range(count):
            hashlib.sha256(data).digest()

    count, start = 1, time.perf_counter()
    while time.perf_counter() - start < seconds / 4:
        spin(count)
        count *= 2
    start = time.perf_counter()
    spin(2 * count)
    one = time.perf_counter() - start
    threads = [threading.Thread(target=spin, args=(count,)) for _ in range(2)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return one / (time.perf_counter() - start)


def _sample(fn: Callable, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def run_interleaved(
    cases: dict[str, Callable], rounds: int = 7, min_sample: float = 0.02, check: Callable | None = None
) -> dict[str, list[float]]:
    """Time every case ``rounds`` times, interleaved; return the seconds per call, per round.

    Each case is called once untimed first (a warm-up whose result ``check`` may verify), then
    calibrated so that one sample lasts at least ``min_sample`` seconds.
    """
    repeats = {}
    for name, fn in cases.items():
        result = fn()
        if check is not None:
            check(name, result)
        once = _sample(fn, 1)
        repeats[name] = max(1, int(min_sample / max(once, 1e-9)))
    samples = {name: [] for name in cases}
    order = list(cases.items())
    for round_number in range(rounds):
        # every other round in reverse order: no case always runs right after the same one
        for name, fn in order if round_number % 2 == 0 else order[::-1]:
            samples[name].append(_sample(fn, repeats[name]))
    return samples


def median(values) -> float:
    return statistics.median(values)


def ratio(samples: dict[str, list[float]], numerator: str, denominator: str) -> float:
    """Median over rounds of samples[numerator] / samples[denominator] (same-round ratios)."""
    return statistics.median(a / b for a, b in zip(samples[numerator], samples[denominator], strict=True))


def table(header: list[str], rows: list[list]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def fmt(seconds: float) -> str:
    """Seconds as a short human number in us or ms."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"
