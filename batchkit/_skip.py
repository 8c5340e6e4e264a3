"""``on_error="skip_items"``: drop the items that failed in an action, and go on with the rest.

The rules, in one place:

* Only a `ParallelError` says which items failed: the error itself, one it holds (an exception
  group), or one it was raised from (``raise ... from error``) or while handling (its context,
  unless ``from None`` hid it). Its ``failed_positions`` and ``cancelled_positions`` are the
  items dropped. Any other error fails the whole batch.
* The positions are positions in the batch only when the action made one call per item (its
  results list is as long as the batch); otherwise the whole batch fails, with a note saying so.
* The index and every component are cropped together (`crop_batch`); a component that does
  not hold one element per item cannot be cropped, and the whole batch fails.
* The failed action is not run again. What it did for the items that finished stays, and an
  ``apply_parallel`` step without ``post`` stores their results in ``dst``, as it would have had
  nothing failed. (With a list ``src`` it cannot tell which pass failed: the batch fails.)
* When every item failed, the batch fails with the action's error (and its items are still
  reported as dropped, each with its own error).
"""

from __future__ import annotations

import numpy as np

from .batch import Batch, crop_batch
from .errors import ParallelError

__all__ = ["drop_failed_items", "error_line", "find_parallel_error"]


def error_line(error: BaseException, width: int = 300) -> str:
    """``"Type: message"`` on one line, cut to ``width`` characters.

    >>> error_line(ValueError("bad\\nfile"))
    'ValueError: bad file'
    """
    text = " ".join(str(error).split())
    line = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return line if len(line) <= width else line[: width - 3] + "..."


def find_parallel_error(error: BaseException) -> ParallelError | None:
    """The `ParallelError` that ``error`` is, holds, or was raised from or while handling, if any.

    The search follows what a traceback shows: the members of an exception group, then the
    cause (``raise ... from``) or, unless suppressed (``from None``), the context; the first
    `ParallelError` met wins.

    >>> inner = ParallelError("1 of 2 items failed", [ValueError("x")], [1, None], [0])
    >>> try:
    ...     try:
    ...         raise inner
    ...     except ParallelError as exc:
    ...         raise RuntimeError("the step failed") from exc
    ... except RuntimeError as outer:
    ...     find_parallel_error(outer) is inner, find_parallel_error(ExceptionGroup("g", [outer])) is inner
    (True, True)
    """
    seen = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, ParallelError):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
        elif not current.__suppress_context__:
            pending.append(current.__context__)
    return None


def _apply_options(method, kwargs: dict) -> dict | None:
    """The options of an ``apply_parallel`` step (``src``, ``dst``, ``post``), or None if it is not one."""
    from .apply import ApplyParallelMethod

    fn = getattr(method, "__func__", None)
    if isinstance(fn, ApplyParallelMethod):
        return {**fn.defaults, **kwargs}
    if fn is Batch.__dict__["apply_parallel"]:
        return dict(kwargs)
    return None


def _completion(method, kwargs: dict):
    """How to finish the failed step for the items kept: None (nothing to do), or a function.

    Raises ValueError when the step cannot be finished (an ``apply_parallel`` with a list src).
    """
    options = _apply_options(method, kwargs) if method is not None else None
    if options is None or options.get("post") is not None:
        return None
    src, dst = options.get("src"), options.get("dst")
    if isinstance(src, list):
        raise ValueError(
            f"this apply_parallel step has a list src {src!r}, and which of its components "
            "failed is not known (give each component a step of its own to drop items)"
        )
    dst = src if dst is None else dst
    if dst is None:
        return None
    from .apply import store_results

    return lambda batch, values: store_results(batch, dst, values)


def _value(indices, position: int):
    value = indices[position]
    return value.item() if isinstance(value, np.generic) else value


def drop_failed_items(batch, error: Exception, method=None, kwargs=None):
    """Drop from ``batch`` the items ``error`` says failed; return ``(batch, dropped)``.

    ``dropped`` lists ``(index value, item error)`` per item dropped, in position order. When
    every item failed the batch is None. Raises ``error`` (with a note saying why) when its
    items cannot be dropped.
    """
    parallel = find_parallel_error(error)
    if parallel is None:
        raise error
    n = len(batch)
    results = parallel.results
    reason = None
    if results is None or len(results) != n:
        calls = "no results" if results is None else f"{len(results)} calls"
        reason = f"the action made {calls} for the batch's {n} items, so its positions are not the batch's"
    else:
        try:
            complete = _completion(method, kwargs or {})
        except ValueError as exc:
            reason = str(exc)
    if reason is not None:
        # outside the except block: raising there would replace the error's own context
        error.add_note(f"batchkit: on_error='skip_items' could not drop items: {reason}")
        raise error
    bad = sorted(set(parallel.failed_positions) | set(parallel.cancelled_positions))
    indices = batch.indices
    dropped = [(_value(indices, position), results[position]) for position in bad]
    failed = set(bad)
    keep = [position for position in range(n) if position not in failed]
    if not keep:
        return None, dropped
    try:
        crop_batch(batch, keep)
    except (ValueError, TypeError, IndexError) as exc:
        reason = str(exc)
    if reason is not None:
        error.add_note(f"batchkit: on_error='skip_items' could not drop items: {reason}")
        raise error
    if complete is not None:
        complete(batch, [results[position] for position in keep])
    return batch, dropped
