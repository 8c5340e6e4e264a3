"""The one fan-out core: run calls on an executor, account for every item, build the error.

`inbatch_parallel`, `parallel` and `apply_parallel` all dispatch through `run_calls` and build
their `ParallelError` with `failure_error`, so the stopping rules (Ctrl-C, ``fail_fast``), the
progress bar and the exact failed positions are the same for every entry point and target.
"""

from __future__ import annotations

import reprlib

import numpy as np

from ._calls import Calls, Outcomes
from ._checks import check_crossing
from .errors import ParallelError
from .progress import item_counter

__all__ = ["Results", "any_action_failed", "failure_error", "note_failures", "run_calls"]


def _make_short_repr() -> reprlib.Repr:
    short = reprlib.Repr()  # keyword arguments arrived only in Python 3.12
    short.maxstring = short.maxother = 40
    short.maxlist = short.maxtuple = short.maxdict = 4
    short.maxlevel = 2
    return short


short_repr = _make_short_repr().repr


class Results(list):
    """The results list ``post`` receives: a plain list, plus which slots failed.

    ``failed_positions`` are the items whose call raised (exactly as the executor reported,
    so an item that *returned* an exception object is not among them); ``cancelled_positions``
    the items never started because the call stopped first (their slots hold `ItemCancelled`).

    Examples
    --------
    >>> results = Results([1, ValueError("bad")], failed_positions=[1])
    >>> results.failed_positions, results == [1, results[1]]
    ([1], True)
    """

    __slots__ = ("cancelled_positions", "failed_positions")

    def __init__(self, values=(), failed_positions=(), cancelled_positions=()):
        super().__init__(values)
        self.failed_positions = list(failed_positions)
        self.cancelled_positions = list(cancelled_positions)

    @classmethod
    def of(cls, outcomes: Outcomes) -> Results:
        return cls(outcomes.values, outcomes.failed, outcomes.cancelled)


def any_action_failed(results) -> bool:
    """Whether some item failed (or was not started): the results ``post`` received say so.

    On the results list a parallel action hands to ``post``, the answer is the executor's
    record of which items raised, so an item that *returned* an exception does not count. On
    any other list, an exception object in a slot is taken as a failure.

    Examples
    --------
    >>> any_action_failed([1, 2, ValueError("bad")])
    True
    >>> any_action_failed([1, 2])
    False
    """
    if isinstance(results, Results):
        return bool(results.failed_positions or results.cancelled_positions)
    return any(isinstance(result, BaseException) for result in results)


def run_calls(executor, fn, calls: Calls, options, desc: str, progress=None) -> Outcomes:
    """``executor.run`` with the call's stop rules and progress bar; every slot accounted for.

    A ``BaseException`` in the caller (Ctrl-C) requests the call's cancel before it propagates,
    so the runners of every target start no new item. ``progress`` is a counter of the
    caller's own, fed by this call and left open (a bar over several calls); without one, a
    bar of this call's own is shown when `item_progress` asked for it.
    """
    calls.fail_fast = options.fail_fast
    if executor.runs_worker_function:
        check_crossing(calls, executor.name, desc)
    counter = item_counter(len(calls), desc) if progress is None else None
    calls.progress = progress if progress is not None else counter
    try:
        outcomes = executor.run(fn, calls, options)
    except BaseException:
        calls.cancel.request()
        raise
    finally:
        if counter is not None:
            counter.close()
    return outcomes.settle(calls.cancel.requested)


def note_failures(outcomes: Outcomes, entries, indices, label: str) -> None:
    """Add a note to each failed item's exception naming the item, its index value and entry."""
    by_position = indices is not None and len(indices) == len(entries)
    for position in outcomes.failed:
        where = f"item {position}"
        if by_position:
            value = indices[position]
            value = value.item() if isinstance(value, np.generic) else value
            where += f" (index value {short_repr(value)})"
        outcomes.values[position].add_note(
            f"batchkit: {where} of {label}, init entry {short_repr(entries[position])}"
        )


def failure_error(outcomes: Outcomes, label: str) -> ParallelError:
    """The `ParallelError` of a call with failed items: the failures as members, in order.

    Cancelled items are counted in the message but are not members: they did not fail, they
    were never started.
    """
    errors = [outcomes.values[i] for i in outcomes.failed]
    message = f"{len(errors)} of {len(outcomes)} items failed in {label}"
    if outcomes.cancelled:
        message += f"; {len(outcomes.cancelled)} not started (fail_fast stopped the call)"
    return ParallelError(
        message,
        errors,
        results=Results.of(outcomes),
        failed_positions=outcomes.failed,
        cancelled_positions=outcomes.cancelled,
    )
