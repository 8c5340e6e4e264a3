"""The contract every target (executor) fulfils."""

from __future__ import annotations

import abc
import dataclasses
import numbers
import threading

from .._calls import Calls, Outcomes
from .._cpus import resolve_workers

__all__ = ["Executor", "RunOptions", "chunk_bounds", "in_worker", "mark_worker"]

_local = threading.local()


def in_worker() -> bool:
    """Whether this thread is running items for a batchkit pool right now."""
    return getattr(_local, "depth", 0) > 0


class mark_worker:
    """Context manager marking this thread as a batchkit worker (for nested calls)."""

    __slots__ = ()

    def __enter__(self):
        _local.depth = getattr(_local, "depth", 0) + 1

    def __exit__(self, *exc_info):
        _local.depth -= 1


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How one call of an action runs: the settings an executor reads besides the calls.

    The decorator fills them from its own arguments and from the call's reserved keywords (each
    field's name is one). A setting added later (a per-item timeout, cancelling on the first
    failure) becomes a field here: the decorator passes it through unchanged, and each executor
    reads what it supports.

    Parameters
    ----------
    n_workers : int, optional
        How many items of the call may run at once; the executor's default when None. As in
        joblib, -1 means one per CPU, -2 all CPUs but one, and so on.
    timeout : float, optional
        Seconds one item may run before it fails alone with `ItemTimeout`; None for no limit.
        The call returns within about this long after its last item started.
    fail_fast : bool
        After the first failed item, start no new item: the items never started get
        `ItemCancelled` in their slots, and the call returns once the running items end.
    inner_threads : int, optional
        Threads each worker process gives the thread pools inside it (BLAS, OpenMP, numba);
        None: the CPUs shared out over the call's workers, at least 1. Executors whose
        workers share the caller's process ignore it.
    """

    n_workers: int | None = None
    timeout: float | None = None
    fail_fast: bool = False
    inner_threads: int | None = None

    def __post_init__(self):
        if self.n_workers is not None:
            object.__setattr__(self, "n_workers", resolve_workers(self.n_workers))
        timeout = self.timeout
        if timeout is not None:
            if isinstance(timeout, bool) or not isinstance(timeout, numbers.Real) or not timeout > 0:
                raise ValueError(f"'timeout' must be a positive number of seconds or None (got {timeout!r})")
            object.__setattr__(self, "timeout", float(timeout))
        if not isinstance(self.fail_fast, bool):
            raise TypeError(f"'fail_fast' must be True or False (got {self.fail_fast!r})")
        inner = self.inner_threads
        if inner is not None:
            if isinstance(inner, bool) or not isinstance(inner, numbers.Integral) or inner < 1:
                raise ValueError(f"'inner_threads' must be a positive int or None (got {inner!r})")
            object.__setattr__(self, "inner_threads", int(inner))

    @classmethod
    def names(cls) -> frozenset[str]:
        """The keyword names of the settings."""
        return frozenset(field.name for field in dataclasses.fields(cls))

    def updated(self, **changes) -> RunOptions:
        """These settings with ``changes`` applied, leaving out the ones given as None."""
        changes = {name: value for name, value in changes.items() if value is not None}
        return dataclasses.replace(self, **changes) if changes else self


def chunk_bounds(n_items: int, n_chunks: int) -> list[tuple[int, int]]:
    """Split ``range(n_items)`` into ``n_chunks`` contiguous ranges of near-equal size.

    Examples
    --------
    >>> chunk_bounds(10, 3)
    [(0, 4), (4, 7), (7, 10)]
    >>> chunk_bounds(2, 5)
    [(0, 1), (1, 2)]
    """
    n_chunks = max(1, min(n_chunks, n_items))
    size, extra = divmod(n_items, n_chunks)
    bounds, lo = [], 0
    for k in range(n_chunks):
        hi = lo + size + (k < extra)
        bounds.append((lo, hi))
        lo = hi
    return bounds


class Executor(abc.ABC):
    """Runs the independent calls of one function and reports one outcome per call.

    An executor never raises an item's exception: it stores it in the item's slot of the
    returned `Outcomes`. It raises only for its own failures and for
    ``BaseException`` (``KeyboardInterrupt``), after stopping the work it had started.

    Subclasses set ``name`` and implement `run`. An executor whose workers live in other
    processes sets ``runs_worker_function = True``: a decorated method is then called once in
    the caller and must return the function the workers run (the ``mpc`` contract). One whose
    workers map the caller's shared memory (arrays made by `batchkit.shared_array` cross by
    reference, and what the workers write into them is there in the caller) also sets
    ``maps_shared_memory = True``; workers on other machines cannot.

    Executors are created once per process and reused by every call, so ``run`` must be safe
    to call from several threads at once.
    """

    name: str = "?"
    runs_worker_function: bool = False
    runs_coroutines: bool = False
    maps_shared_memory: bool = False

    @abc.abstractmethod
    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        """Run ``fn`` once per call of ``calls``, at most ``options.n_workers`` at once."""

    def close(self) -> None:
        """Release the executor's workers; a later ``run`` may start them again."""
        return None  # nothing to release unless the executor keeps workers

    def __repr__(self) -> str:
        return f"<{type(self).__name__} target={self.name!r}>"
