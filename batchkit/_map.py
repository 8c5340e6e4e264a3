"""``batchkit.map``: a function over a list of inputs, on any target, with no class to write.

Each batch of items is one call of the fan-out core (`_fanout.run_calls`), the same one
`inbatch_parallel` uses, so targets, timeouts, Ctrl-C and the failure rules are the same. What
this module adds is the run over batches: cutting the items (lazily, so an iterator of any
length runs in flat memory with ``keep=False``), one progress bar over all of them, the
``on_batch`` callback, and the three ways to treat a failed item.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import logging
import sys
import warnings

from ._auto import AUTO, explain, run_auto
from ._calls import SINGLE, Calls, Outcomes
from ._fanout import Results, failure_error, run_calls, short_repr
from ._vectorized import check_vectorized, run_vectorized
from .executors import RunOptions, ability, check_target, get_executor

__all__ = ["ON_ERROR", "VECTOR_SIZE", "map"]

#: what ``on_error`` may be
ON_ERROR = ("raise", "skip", "collect")
#: items per call for ``vectorized=True``
VECTOR_SIZE = 64
_log = logging.getLogger("batchkit")


def _interactive() -> bool:
    """A person is watching: a terminal on stderr, or a notebook kernel."""
    if "ipykernel" in sys.modules:
        return True
    stream = sys.stderr
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def _check(func, batch_size, keep, on_batch, on_error, progress) -> None:
    if not callable(func):
        raise TypeError(f"'func' must be callable (got {func!r})")
    if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)):
        raise TypeError(f"'batch_size' must be a positive int or None (got {batch_size!r})")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"'batch_size' must be a positive int or None (got {batch_size!r})")
    if on_error not in ON_ERROR:
        raise ValueError(f"'on_error' must be one of {', '.join(_reprs(ON_ERROR))} (got {on_error!r})")
    if on_batch is not None and not callable(on_batch):
        raise TypeError(f"'on_batch' must be callable or None (got {on_batch!r})")
    if not isinstance(keep, bool):
        raise TypeError(f"'keep' must be True or False (got {keep!r})")
    if progress is not None and not isinstance(progress, bool):
        raise TypeError(f"'progress' must be True, False or None (got {progress!r})")


def _target_for(func, target):
    """The target given, checked against ``func`` (``"auto"`` is chosen per function later)."""
    if target == AUTO:
        return target
    check_target(target)
    if inspect.iscoroutinefunction(func) and not ability(target, "runs_coroutines"):
        raise TypeError(
            f"{func.__qualname__} is a coroutine function: it needs a target that runs coroutines, "
            f"such as 'async' (or 'for', one item at a time), not target={target!r}"
        )
    return target


def _reprs(values) -> list[str]:
    return [repr(value) for value in values]


def _batches(items, batch_size):
    """Lists of at most ``batch_size`` items (all of them at once when None), taken lazily."""
    if batch_size is None:
        everything = items if type(items) is list else list(items)
        if everything:  # no batch at all for no items: on_batch is not called with []
            yield everything
        return
    if type(items) is list:
        for lo in range(0, len(items), batch_size):
            yield items[lo : lo + batch_size]
        return
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, batch_size)):
        yield chunk


def _bar(items, enabled: bool, name: str):
    if not enabled:
        return None
    from .progress import ItemCounter, bar_class

    tqdm = bar_class()

    total = len(items) if hasattr(items, "__len__") else None
    return ItemCounter(tqdm(total=total, desc=name, unit="item"))


def map(  # the name users look for; inside this module, builtins.map is not used
    func,
    items,
    *,
    target: str = "auto",
    n_workers: int | None = None,
    batch_size: int | None = None,
    vectorized: bool | int = False,
    on_batch=None,
    keep: bool = True,
    on_error: str = "raise",
    timeout: float | None = None,
    inner_threads: int | None = None,
    progress: bool | None = None,
    **kwargs,
):
    """Call ``func(item, **kwargs)`` for each item, in parallel; return the results in order.

    Parameters
    ----------
    func : callable
        Takes one item (plus ``kwargs``). On ``target="mpc"`` it must pickle (a module-level
        function, or a ``functools.partial`` of one); a coroutine function runs on ``"async"``
        and ``"for"``.
    items : iterable
        The inputs. An iterator is consumed ``batch_size`` items at a time, never all at once.
    target : str
        ``"auto"`` (default: picked from what ``func`` is and what its first items cost, see
        `explain`), ``"threads"``, ``"mpc"``, ``"async"``, ``"for"`` or any registered target.
    n_workers : int, optional
        Items running at once (the target's default when None).
    batch_size : int, optional
        Cut the items into batches of this many, run one after another. None: one batch.
    vectorized : bool or int
        Hand ``func`` several items per call: ``N`` items at most (``True``: 64), stacked into
        one array when they share shape and dtype (a list otherwise); it must return one result
        per item. A call that raises is run again item by item, so failures are still found and
        reported per item. ``timeout`` then applies per call, and the bar moves batch by batch.
    on_batch : callable, optional
        Called in this thread with each finished batch's results (a list, in input order,
        after ``on_error`` is applied), batch after batch: save them there.
    keep : bool
        False: accumulate nothing and return None; with ``batch_size`` and ``on_batch`` the
        memory stays flat however many items run.
    on_error : {"raise", "skip", "collect"}
        What a failed item gives. ``"raise"``: a `ParallelError` with every failure of the
        batch it happened in, after that batch finished (later batches do not run).
        ``"skip"``: the item is left out of the results, each failure is logged (logger
        ``"batchkit"``, with its position and error) and one warning gives their count at the
        end. ``"collect"``: its exception takes its place in the results.
    timeout : float, optional
        Seconds an item may run; an item over it fails with `ItemTimeout`.
    inner_threads : int, optional
        On ``mpc``: threads each worker process gives BLAS, OpenMP and numba (default: the
        CPUs shared out over the workers, at least 1).
    progress : bool, optional
        A tqdm bar over all the items. None (default): shown when stderr is a terminal or in a
        notebook.
    **kwargs
        Passed to every call of ``func``.

    Returns
    -------
    list or None
        The results in input order (without the failed items under ``on_error="skip"``);
        None with ``keep=False``. Under ``on_error="collect"``, a `Results` list whose
        ``failed_positions`` say which slots hold the exceptions an item raised.

    Raises
    ------
    ParallelError
        With ``on_error="raise"``, when items failed.

    Examples
    --------
    >>> import batchkit
    >>> batchkit.map(pow, [1, 2, 3], exp=2)
    [1, 4, 9]
    >>> batchkit.map(int, ["1", "x", "3"], on_error="collect")
    [1, ValueError("invalid literal for int() with base 10: 'x'"), 3]
    >>> saved = []
    >>> batchkit.map(abs, range(-5, 0), batch_size=2, keep=False, on_batch=saved.append, target="for")
    >>> saved
    [[5, 4], [3, 2], [1]]
    """
    _check(func, batch_size, keep, on_batch, on_error, progress)
    vector_size = check_vectorized(VECTOR_SIZE if vectorized is True else vectorized)
    target = _target_for(func, target)
    options = RunOptions(n_workers=n_workers, timeout=timeout, inner_threads=inner_threads)
    name = getattr(func, "__qualname__", None) or type(func).__name__
    desc = f"batchkit.map({name})"
    counter = _bar(items, _interactive() if progress is None else progress, f"map({name})")
    run = functools.partial(_run_on, target, func, options=options, desc=desc)
    kept, skipped, offset = (Results() if on_error == "collect" else []) if keep else None, 0, 0
    try:
        for chunk in _batches(items, batch_size):
            outcomes = _run_batch(run, func, chunk, kwargs, vector_size, counter)
            label = f"{desc}, target={_chosen(target, func)!r}"
            results, n_skipped = _apply_on_error(outcomes, on_error, offset, label)
            if on_batch is not None:
                on_batch(results)
            if keep:
                kept.extend(results)
                if on_error == "collect":
                    kept.failed_positions.extend(offset + i for i in outcomes.failed)
            skipped, offset = skipped + n_skipped, offset + len(chunk)
    finally:
        if counter is not None:
            counter.close()
    if skipped:
        warnings.warn(
            f"{desc}, target={_chosen(target, func)!r}: {skipped} of {offset} items failed and were "
            "left out of the results (each is logged by the 'batchkit' logger); pass "
            "on_error='raise' or 'collect' to get them",
            stacklevel=2,
        )
    return kept


def _run_on(target, func, fn, calls, *, options, desc, counter):
    """One fan-out call of ``fn`` (``func``, or its vectorized wrapper) on the target."""
    if target == AUTO:
        return run_auto(fn, calls, options, desc, key=func, progress=counter)[0]
    return run_calls(get_executor(target), fn, calls, options, desc, progress=counter)


def _chosen(target, func) -> str:
    choice = explain(func) if target == AUTO else None
    return choice.target if choice is not None else target


def _run_batch(run, func, chunk: list, kwargs, vector_size, counter) -> Outcomes:
    if not chunk:
        return Outcomes(0)
    calls = Calls(chunk, SINGLE, (), kwargs)
    if vector_size is None:
        return run(func, calls, counter=counter)
    # the chunks are not counted one by one: the bar moves by the batch when it ends
    outcomes = run_vectorized(functools.partial(run, counter=_Quiet()), func, calls, vector_size)
    if counter is not None:
        counter(len(chunk))
    return outcomes


class _Quiet:
    """A progress counter that counts nothing: a vectorized batch moves the bar when it ends."""

    def __call__(self, n: int = 1) -> None:
        return None


def _apply_on_error(outcomes: Outcomes, on_error: str, offset: int, label: str) -> tuple[list, int]:
    """The batch's results under ``on_error``, and how many were skipped."""
    if not outcomes.failed:
        return outcomes.values, 0
    for position in outcomes.failed:
        outcomes.values[position].add_note(f"batchkit: item {offset + position} of {label}")
    if on_error == "raise":
        raise failure_error(outcomes, label)
    if on_error == "collect":
        return Results.of(outcomes), 0
    failed = set(outcomes.failed)
    for position in outcomes.failed:
        error = short_repr(outcomes.values[position])
        _log.warning("%s: item %d failed: %s", label, offset + position, error)
    return [value for i, value in enumerate(outcomes.values) if i not in failed], len(failed)
