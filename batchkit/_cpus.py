"""How many workers to use by default."""

from __future__ import annotations

import functools
import numbers

__all__ = [
    "BUSY_SHARE",
    "available_cpus",
    "default_process_workers",
    "default_thread_workers",
    "resolve_workers",
    "thread_workers",
]

#: a function whose runners spend more than this share of their time on a CPU keeps the cores
#: busy: a thread beyond one per core then adds no speed, only its items' memory and cache misses.
#: Low on purpose: on a machine busy with other programs a computing thread also waits (for a
#: core), and reads 0.3-0.5 with two programs per core; items that wait on I/O or sleep read
#: under 0.05. Mistaking busy items for waiting ones costs memory (a heavy numpy step grew its
#: peak 3.5 times on 6 threads instead of 2); the opposite costs only overlap.
BUSY_SHARE = 0.2


@functools.cache
def available_cpus() -> int:
    """CPUs this process may use: CPU affinity and cgroup quotas are taken into account."""
    from joblib.externals.loky import cpu_count

    return max(1, cpu_count())


def resolve_workers(n_workers, name: str = "n_workers") -> int | None:
    """A worker count as given, with joblib's negatives: -1 is every CPU, -2 all but one, ...

    Examples
    --------
    >>> resolve_workers(3), resolve_workers(None), resolve_workers(-1) == available_cpus()
    (3, None, True)
    >>> resolve_workers(0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'n_workers' must be a positive int, a negative one counting back ... (got 0)
    """
    if n_workers is None:
        return None
    if isinstance(n_workers, bool) or not isinstance(n_workers, numbers.Integral) or n_workers == 0:
        raise ValueError(
            f"'{name}' must be a positive int, a negative one counting back from the CPUs "
            f"(-1: all of them, -2: all but one), or None (got {n_workers!r})"
        )
    if n_workers > 0:
        return int(n_workers)
    cpus = available_cpus()
    counted = cpus + 1 + int(n_workers)
    if counted < 1:
        raise ValueError(f"'{name}'={n_workers} leaves no worker: this process may use {cpus} CPUs")
    return counted


def default_thread_workers() -> int:
    """``min(32, cpus + 4)``: CPython's default, enough to overlap I/O without flooding.

    The most threads a ``threads`` call starts by default; see `thread_workers` for the rule.
    """
    return min(32, available_cpus() + 4)


def thread_workers(cpu_share: float | None) -> int:
    """The default thread count for a function whose runners were on a CPU ``cpu_share`` of the time.

    Items that keep a CPU busy (share above `BUSY_SHARE`) get one thread per core; items that
    mostly wait (I/O, sleeping) get ``min(32, cpus + 4)``, so the waits overlap. A function not
    yet measured (``None``) starts with one thread per core: that is the safe side, since a
    process's peak memory is set by its worst call, so a too-wide first call of a memory-heavy
    step would already have cost the memory; a waiting function loses only that first call's
    overlap and gets the wider count from its second call on.

    Examples
    --------
    >>> thread_workers(0.95) == available_cpus()
    True
    >>> thread_workers(0.01) == min(32, available_cpus() + 4)
    True
    >>> thread_workers(None) == available_cpus()
    True
    """
    if cpu_share is None or cpu_share > BUSY_SHARE:
        return available_cpus()
    return default_thread_workers()


def default_process_workers() -> int:
    """One worker process per usable CPU."""
    return available_cpus()
