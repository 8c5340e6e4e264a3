"""How many workers to use by default."""

from __future__ import annotations

import functools

__all__ = ["available_cpus", "default_process_workers", "default_thread_workers"]


@functools.cache
def available_cpus() -> int:
    """CPUs this process may use: CPU affinity and cgroup quotas are taken into account."""
    from joblib.externals.loky import cpu_count

    return max(1, cpu_count())


def default_thread_workers() -> int:
    """``min(32, cpus + 4)``: CPython's default, enough to overlap I/O without flooding."""
    return min(32, available_cpus() + 4)


def default_process_workers() -> int:
    """One worker process per usable CPU."""
    return available_cpus()
