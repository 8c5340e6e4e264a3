"""Vectorized chunks: hand a function several items at once, still report failures per item.

Some work is faster on a stack of items (a matrix product over a batch of matrices, one BLAS
call instead of many). With ``vectorized=N`` the calls of an action are cut into chunks of at
most N items; each chunk is **one** call of the function, whose arguments are the chunk's
items stacked position by position (`stack`), and which must return one result per item.

The chunks go through the ordinary fan-out core (`_fanout.run_calls`), so every target, the
timeout (per chunk) and Ctrl-C work as for single items. When a chunk fails, its items are run
again one at a time (each as a chunk of one, still stacked, so the function sees the same
kind of argument) to find which items fail: the failures are still reported per item, and
the items that succeed alone keep their results.

What is stacked: what differs per item (the init entries, and ``P``/``PP`` values). The
action's own arguments are the same for every item and are passed once, as they are.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._calls import SINGLE, Calls, Outcomes, split_entry

__all__ = ["VectorFunction", "check_vectorized", "run_vectorized", "stack"]


def check_vectorized(value, name: str = "vectorized"):
    """``value`` as a chunk size (an int >= 1) or None when off; refuse anything else."""
    if value is None or value is False:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise TypeError(f"'{name}' must be a positive int (items per call), or None/False (got {value!r})")
    return int(value)


def stack(values: list):
    """One argument for a chunk's values: an array when they share shape and dtype, else a list.

    Examples
    --------
    >>> stack([np.zeros(2), np.ones(2)]).shape
    (2, 2)
    >>> stack([1.5, 2.5]).tolist()
    [1.5, 2.5]
    >>> stack([np.zeros(2), np.zeros(3)])  # shapes differ
    [array([0., 0.]), array([0., 0., 0.])]
    >>> stack(["a", "b"])
    ['a', 'b']
    """
    first = values[0]
    if isinstance(first, np.ndarray):
        shape, dtype = first.shape, first.dtype
        alike = all(isinstance(v, np.ndarray) and v.shape == shape and v.dtype == dtype for v in values)
        return np.stack(values) if alike else list(values)
    kind = type(first)
    numeric = issubclass(kind, (numbers.Number, np.generic)) and not issubclass(kind, bool)
    if numeric and all(type(v) is kind for v in values):
        return np.asarray(values)
    return list(values)


class VectorFunction:
    """What runs per chunk: call ``fn`` with the stacked arguments, check one result per item.

    Examples
    --------
    >>> VectorFunction(np.negative)((2, (np.arange(2.0),), {}))
    [np.float64(-0.0), np.float64(-1.0)]
    """

    __slots__ = ("fn",)

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, entry):
        n_items, args, kwargs = entry
        result = self.fn(*args, **kwargs)
        try:
            n_results = len(result)
        except TypeError:
            n_results = None
        if n_results != n_items or isinstance(result, (str, bytes, dict)):
            got = f"{type(result).__name__} of length {n_results}" if n_results is not None else repr(result)
            raise ValueError(
                f"{_name(self.fn)} is vectorized: given {n_items} items it must return one result "
                f"per item (a sequence or an array of length {n_items}), not {got}"
            )
        return list(result)

    def __reduce__(self):
        return VectorFunction, (self.fn,)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _item_parts(calls: Calls, position: int) -> tuple[tuple, dict]:
    """What differs per item: the entry's arguments, and the per-item (P/PP) values."""
    if calls.shape == SINGLE:
        args, kwargs = (calls.entries[position],), {}
    else:
        args, kwargs = split_entry(calls.entries[position])
        kwargs = dict(kwargs or {})
    return args, kwargs


def _chunk_entry(calls: Calls, lo: int, hi: int):
    """The one call of the chunk ``lo:hi``: the item count, stacked arguments, keywords."""
    parts = [_item_parts(calls, i) for i in range(lo, hi)]
    n_args, keys = len(parts[0][0]), set(parts[0][1])
    for args, kwargs in parts:
        if len(args) != n_args or set(kwargs) != keys:
            raise ValueError(
                "vectorized calls need every entry to give the same arguments: got entries with "
                f"{n_args} and {len(args)} positional arguments, or different keywords"
            )
    stacked = [stack([args[k] for args, _ in parts]) for k in range(n_args)]
    keywords = {key: stack([kwargs[key] for _, kwargs in parts]) for key in keys}
    action_args = list(calls.args)
    keywords.update(calls.kwargs)
    for key, values in (calls.per_item or {}).items():
        if type(key) is int:
            action_args[key] = stack(values[lo:hi])
        else:
            keywords[key] = stack(values[lo:hi])
    return hi - lo, (*stacked, *action_args), keywords


def _chunk_calls(calls: Calls, bounds: list[tuple[int, int]]) -> Calls:
    entries = [_chunk_entry(calls, lo, hi) for lo, hi in bounds]
    return Calls(entries, SINGLE, fail_fast=calls.fail_fast)  # an entry: VectorFunction's argument


def run_vectorized(run, fn, calls: Calls, size: int) -> Outcomes:
    """Run ``calls`` as chunks of ``size`` items; return per-item outcomes.

    ``run(fn, chunk_calls)`` is the fan-out of one call (`_fanout.run_calls` with the
    executor, options and label bound). A failed chunk's items run again one by one.
    """
    n_items = len(calls)
    outcomes = Outcomes(n_items)
    if n_items == 0:
        return outcomes
    bounds = [(lo, min(n_items, lo + size)) for lo in range(0, n_items, size)]
    vector_fn = VectorFunction(fn)
    chunk_outcomes = run(vector_fn, _chunk_calls(calls, bounds))
    failed_chunks, cancelled = set(chunk_outcomes.failed), set(chunk_outcomes.cancelled)
    again = []
    for k, (lo, hi) in enumerate(bounds):
        if k in cancelled:
            outcomes.values[lo:hi] = [chunk_outcomes.values[k]] * (hi - lo)
            outcomes.cancelled.extend(range(lo, hi))
        elif k in failed_chunks:
            again.extend(range(lo, hi))
        else:
            outcomes.values[lo:hi] = chunk_outcomes.values[k]
    if again:
        alone = run(vector_fn, _chunk_calls(calls, [(i, i + 1) for i in again]))
        failed_alone, cancelled_alone = set(alone.failed), set(alone.cancelled)
        for k, position in enumerate(again):
            if k in failed_alone or k in cancelled_alone:
                outcomes.values[position] = alone.values[k]
                (outcomes.failed if k in failed_alone else outcomes.cancelled).append(position)
            else:
                outcomes.values[position] = alone.values[k][0]
    outcomes.failed.sort()
    outcomes.cancelled.sort()
    return outcomes

