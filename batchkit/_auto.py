"""``target="auto"``: pick the target from what the function declares and what its items cost.

The rule, in order:

1. a coroutine function runs on ``async``; a compiled kernel that releases the GIL (``@mjit``,
   or a numba function with ``nogil=True``) on ``threads``;
2. otherwise the first call measures its first items, in the caller, and keeps their results
   (nothing runs twice):

   * items under ``TINY_SECONDS`` each stay in the caller (``for``): no pool is worth them;
   * items that mostly wait (CPU time at most ``BUSY_SHARE`` of their wall time, in the
     busiest item measured: I/O, sleeping) go to ``threads``. The busiest, since a loaded
     machine that deschedules the caller only ever lowers an item's share;
   * an item that keeps several CPUs busy by itself (a BLAS call using every core) stays in
     the caller: running more beside it only makes them fight over the CPUs;
   * other busy items: two more run at once in two threads, twice where there are items
     enough. If the faster pair took about the time of the fastest single item (at most
     ``PARALLEL_RATIO`` times), or kept two CPUs busy, the work releases the
     GIL and goes to ``threads``; if not, it holds the GIL: items of at least
     ``PROCESS_SECONDS`` go to ``mpc`` (plain functions that pickle only: a batch method's
     writes into its batch would stay in the worker processes), shorter ones stay in the
     caller.

   With a single CPU, busy items stay in the caller: no target can run them side by side.

The choice is made once per function and remembered (`explain` shows it, with the figures it
came from); it is logged at DEBUG on the ``"batchkit"`` logger. A target given to a call
always wins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import logging
import threading
import time
import weakref

from ._calls import Calls, Outcomes
from ._cpus import BUSY_SHARE, available_cpus
from ._fanout import run_calls
from .executors import get_executor
from .executors._supervised import _timed_out
from .progress import item_counter
from .report import seconds_text

__all__ = ["AUTO", "Choice", "choose_declared", "explain", "run_auto"]

AUTO = "auto"
#: an item faster than this stays in the caller: a thread hand-off costs a few microseconds
TINY_SECONDS = 50e-6
#: CPU seconds per wall second at which work runs on several CPUs at once: one item doing so
#: has inner threads (more items beside it would only fight over the CPUs); two items doing so
#: between them released the GIL
INNER_PARALLEL_CORES = 1.5
#: two busy items at once in two threads taking at most this many times one item: GIL released
PARALLEL_RATIO = 1.4
#: a GIL-bound item worth a process: each costs a pickle and a pipe round trip (~0.1 ms)
PROCESS_SECONDS = 1e-3
#: the first items run one by one until this much time is spent (at least one item)
PROBE_SECONDS = 0.01
_log = logging.getLogger("batchkit")
_choices: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: the choices for functions that cannot be weakly referenced (builtins, numpy's C functions)
_kept: dict = {}
_lock = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Choice:
    """The target ``target="auto"`` picked for a function, and why.

    Examples
    --------
    >>> print(Choice("threads", "it mostly waits", per_item=0.02, cpus=0.01))
    threads: it mostly waits (20 ms per item, 0.01 CPUs busy)
    """

    target: str
    reason: str
    per_item: float | None = None
    cpus: float | None = None
    pair_ratio: float | None = None

    def __str__(self) -> str:
        figures = []
        if self.per_item is not None:
            figures.append(f"{seconds_text(self.per_item)} per item")
        if self.cpus is not None:
            figures[-1:] = [f"{figures[-1]}, {self.cpus:.2g} CPUs busy"] if figures else []
        if self.pair_ratio is not None:
            figures.append(f"two at once took {self.pair_ratio:.2f}x one")
        return f"{self.target}: {self.reason}" + (f" ({'; '.join(figures)})" if figures else "")


def _key(fn):
    """What a choice is remembered by: the function under bound methods and wrappers."""
    return getattr(fn, "__func__", fn)


def _releases_gil(fn) -> bool:
    options = getattr(fn, "options", None) or getattr(getattr(fn, "dispatcher", None), "targetoptions", None)
    if options is None:
        options = getattr(fn, "targetoptions", None)  # a numba dispatcher itself
    return bool(options and options.get("nogil"))


def choose_declared(fn) -> Choice | None:
    """The choice that follows from how ``fn`` is written, with nothing to measure; else None."""
    plain = getattr(fn, "py_func", fn)
    if inspect.iscoroutinefunction(plain):
        return Choice("async", "it is a coroutine function")
    if _releases_gil(fn):
        return Choice("threads", "it is a compiled kernel that releases the GIL")
    return None


def explain(action) -> Choice | None:
    """What ``target="auto"`` picked for ``action`` (a decorated action or a function), and why.

    Returns None while nothing was picked yet (before its first call).

    Examples
    --------
    >>> import time
    >>> import batchkit
    >>> def wait(x):
    ...     time.sleep(0.002)
    ...     return x
    >>> batchkit.map(wait, range(8), target="auto")
    [0, 1, 2, 3, 4, 5, 6, 7]
    >>> batchkit.explain(wait).target
    'threads'
    """
    key = _key(getattr(action, "_fn", action))
    with _lock:
        try:
            return _choices.get(key)
        except TypeError:  # not weak-referenceable (a builtin, a C function): kept by value
            try:
                return _kept.get(key)
            except TypeError:  # not even hashable: never remembered
                return None


def _remember(fn, choice: Choice) -> None:
    key = _key(fn)
    with _lock:
        try:
            _choices[key] = choice
        except TypeError:  # builtins and C functions live as long as the process anyway
            with contextlib.suppress(TypeError):  # unhashable: chosen again next time
                _kept[key] = choice
    _log.debug("target='auto' for %s: %s", getattr(fn, "__qualname__", fn), choice)


class _Probe:
    """Runs the first items of a call to measure them, keeping their outcomes.

    Without a timeout the items run in the caller; with one, each runs on the ``for`` target,
    which gives up an overdue item. CPU time is read process-wide, so that the threads of a
    library the item calls (BLAS) count as busy, not waiting. The pair runs in two threads of
    its own; an item of it that overruns the timeout fails with `ItemTimeout` and finishes in
    the background, its result dropped.
    """

    def __init__(self, fn, calls: Calls, outcomes: Outcomes, options, desc: str):
        self.fn, self.calls, self.outcomes, self.options, self.desc = fn, calls, outcomes, options, desc

    def one(self, position: int) -> tuple[float, float]:
        wall, cpu = time.perf_counter(), time.process_time()
        if self.options.timeout is None:
            self.calls.run_range(self.fn, position, position + 1, self.outcomes)
            return time.perf_counter() - wall, time.process_time() - cpu
        alone = run_calls(
            get_executor("for"), self.fn, self.calls.slice(position, position + 1), self.options, self.desc,
            progress=_Quiet(),
        )  # fmt: skip
        self._store(position, alone, 0)
        if alone.failed and self.calls.fail_fast:
            self.calls.cancel.request()
        return time.perf_counter() - wall, time.process_time() - cpu

    def pair(self, first: int) -> tuple[float, float]:
        """Run items ``first`` and ``first + 1`` at once in two threads; return wall and CPU time."""
        scratch = [Outcomes(1), Outcomes(1)]
        threads = [
            threading.Thread(target=self._run_one, args=(first + k, scratch[k]), daemon=True)
            for k in (0, 1)
        ]
        timeout, start, cpu = self.options.timeout, time.perf_counter(), time.process_time()
        for thread in threads:
            thread.start()
        for k, thread in enumerate(threads):
            thread.join(None if timeout is None else max(0.0, timeout - (time.perf_counter() - start)))
            if thread.is_alive():  # overdue: its result, when it comes, lands in scratch only
                self.outcomes.fail(first + k, _timed_out(self.options.timeout, "auto"))
            else:
                self._store(first + k, scratch[k], 0)
        return time.perf_counter() - start, time.process_time() - cpu

    def _run_one(self, position: int, into: Outcomes) -> None:
        self.calls.slice(position, position + 1).run_range(self.fn, 0, 1, into)

    def _store(self, position: int, alone: Outcomes, k: int) -> None:
        if k in alone.failed:
            self.outcomes.fail(position, alone.values[k])
        else:
            self.outcomes.values[position] = alone.values[k]


class _Quiet:
    """A progress counter that counts nothing (the probe moves the call's bar itself)."""

    def __call__(self, n: int = 1) -> None:
        return None


def _measure(probe: _Probe, processes_allowed: bool) -> tuple[Choice, int]:
    """Run the first items and decide; return the choice and how many items ran."""
    n, done, walls, cpus = len(probe.calls), 0, [], []
    while done < n and (done == 0 or sum(walls) < PROBE_SECONDS) and done < 16:
        wall, cpu = probe.one(done)
        walls.append(wall)
        cpus.append(cpu)
        done += 1
        if probe.calls.cancel.requested:
            return Choice("for", "the first items stopped the call"), done
    per_item = sorted(walls)[len(walls) // 2]
    cores = sum(cpus) / sum(walls) if sum(walls) > 0 else 1.0  # CPUs one item keeps busy
    busiest = max((c / w for c, w in zip(cpus, walls, strict=True) if w > 0), default=1.0)
    if per_item < TINY_SECONDS:
        return Choice("for", "its items are too short for a pool", per_item), done
    if busiest <= BUSY_SHARE:
        return Choice("threads", "it mostly waits", per_item, busiest), done
    if cores >= INNER_PARALLEL_CORES:
        why = "one item keeps several CPUs busy by itself (BLAS or its own threads)"
        return Choice("for", why, per_item, cores), done
    if available_cpus() < 2:
        return Choice("for", "it keeps a CPU busy, and one CPU is all there is", per_item, cores), done
    if n - done < 2:
        return Choice("for", "too few items to compare", per_item, cores), done
    # A busy machine only ever slows a measurement down, so the fastest single item and the
    # fastest of (up to) two pairs are the least disturbed readings to compare.
    pairs = []
    while n - done >= 2 and len(pairs) < 2:
        pairs.append(probe.pair(done))
        done += 2
        if probe.calls.cancel.requested:
            return Choice("for", "the first items stopped the call", per_item, cores), done
    pair_wall, pair_cpu = min(pairs)
    ratio = pair_wall / min(walls)
    if ratio <= PARALLEL_RATIO or pair_cpu / pair_wall >= INNER_PARALLEL_CORES:
        return Choice("threads", "it releases the GIL", per_item, cores, ratio), done
    if per_item >= PROCESS_SECONDS and processes_allowed:
        return Choice("mpc", "it holds the GIL", per_item, cores, ratio), done
    if processes_allowed:
        why = "it holds the GIL, too briefly per item for processes"
    else:
        why = "it holds the GIL, and cannot go to processes (a method, or it does not pickle)"
    return Choice("for", why, per_item, cores, ratio), done


def _processes_allowed(fn) -> bool:
    """A plain function that cloudpickle can send (a bound method would carry its batch)."""
    if inspect.ismethod(fn):
        return False
    try:
        import cloudpickle

        cloudpickle.dumps(fn)
    except Exception:
        return False
    return True


def run_auto(
    fn, calls: Calls, options, desc: str, key=None, method=False, progress=None
) -> tuple[Outcomes, Choice]:
    """Run ``calls`` on the target chosen for ``fn``; the first time, measuring its first items.

    ``key`` remembers the choice by another object than ``fn`` (the function under a wrapper);
    ``method``: ``fn`` runs with its batch, so it may not go to processes. ``progress``: a
    counter of the caller's own (left open), as for `_fanout.run_calls`.
    """
    key = fn if key is None else key
    choice = explain(key) or choose_declared(fn)
    if choice is not None:
        _remember(key, choice)
        return run_calls(get_executor(choice.target), fn, calls, options, desc, progress), choice
    n = len(calls)
    outcomes = Outcomes(n)
    counter = item_counter(n, desc) if progress is None else progress
    ran_rest = False
    try:
        probe = _Probe(fn, calls, outcomes, options, desc)
        choice, done = _measure(probe, not method and _processes_allowed(fn))
        _remember(key, choice)
        if counter is not None:
            counter(done)
        if done < n and not calls.cancel.requested:
            rest = run_calls(get_executor(choice.target), fn, calls.slice(done, n), options, desc, counter)
            outcomes.values[done:] = rest.values
            outcomes.failed.extend(done + i for i in rest.failed)
            outcomes.cancelled.extend(done + i for i in rest.cancelled)
            ran_rest = True
    finally:
        if counter is not None and progress is None:
            counter.close()
    if ran_rest:
        outcomes.failed.sort()
        return outcomes, choice
    return outcomes.settle(calls.cancel.requested), choice
