"""The calls that one parallel action fans out, and the loop that runs them.

``init`` returns one entry per call. An entry is turned into arguments by `split_entry`:

* a ``dict`` (any mapping) gives keyword arguments;
* a 2-tuple ``(sequence, dict)`` gives both (the sequence may be a list or a tuple);
* a list, a tuple or another sequence (not ``str``/``bytes``) gives positional arguments;
* anything else (a scalar, an ndarray, an object) is the one positional argument.

The action's own positional arguments follow the entry's; its keyword arguments are merged over
the entry's into a new dict, so what ``init`` returned is never mutated.

Every executor runs calls through `run_range`, so the argument rules, the failure rules (an
item's exception is stored in its slot, never raised) and the stopping rules (no item starts
once the call's `Cancel` is requested) are the same for all targets.

An item's slot starts as `NOT_RUN`; `Outcomes.settle` turns a slot still holding it into
`ItemCancelled` when the call was stopped, and into a `WorkerError` otherwise (an executor
that lost an item), so no item is ever silently missing from the results.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence

from .errors import ItemCancelled, WorkerError

__all__ = ["MIXED", "NOT_RUN", "SINGLE", "Calls", "Cancel", "Lane", "Outcomes", "split_entry"]

#: every entry is the single positional argument of its call (standard inits)
SINGLE = "single"
#: every entry is split by `split_entry` (user-written inits)
MIXED = "mixed"

_NOT_SEQUENCES = (str, bytes, bytearray, memoryview)


def split_entry(entry) -> tuple[tuple, dict | None]:
    """Turn one init entry into ``(positional, keyword)`` arguments.

    Examples
    --------
    >>> split_entry([1, 2])
    ((1, 2), None)
    >>> split_entry({"a": 1})
    ((), {'a': 1})
    >>> split_entry(([1], {"b": 2}))
    ((1,), {'b': 2})
    >>> split_entry(7)
    ((7,), None)
    """
    kind = type(entry)
    if kind is list:
        return tuple(entry), None
    if kind is dict:
        return (), entry
    if kind is tuple:
        if len(entry) == 2 and isinstance(entry[1], Mapping) and isinstance(entry[0], (list, tuple)):
            return tuple(entry[0]), entry[1]
        return entry, None
    if isinstance(entry, Mapping):
        return (), entry
    if isinstance(entry, Sequence) and not isinstance(entry, _NOT_SEQUENCES):
        return tuple(entry), None
    return (entry,), None


class _NotRun:
    """The mark of a slot no item has filled yet."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_RUN"

    def __reduce__(self):
        return "NOT_RUN"  # a module global: unpickles as the same object


NOT_RUN = _NotRun()


class Outcomes:
    """What running the calls gave: one value per call, and which calls failed.

    ``values[i]`` holds the exception object for a failed call ``i``; ``failed`` lists those
    positions, so a method that *returns* an exception is never mistaken for a failure.
    ``cancelled`` lists the calls never started because the call stopped first; their slots
    hold `ItemCancelled`.
    """

    __slots__ = ("cancelled", "failed", "values")

    def __init__(self, n: int):
        self.values: list = [NOT_RUN] * n
        self.failed: list[int] = []
        self.cancelled: list[int] = []

    def __len__(self) -> int:
        return len(self.values)

    def fail(self, position: int, error: BaseException) -> None:
        self.values[position] = error
        self.failed.append(position)

    def settle(self, stopped: bool) -> Outcomes:
        """Account for every slot after a run; sort ``failed``; return self.

        Only a stopped call scans for unfilled slots: a run that was not stopped filled every
        slot by the executor contract, and the scan would cost a pass over the results.
        """
        if stopped:
            values = self.values
            missing = [i for i, value in enumerate(values) if value is NOT_RUN]
            for i in missing:
                values[i] = ItemCancelled("not started: the call stopped before this item's turn")
            self.cancelled = missing
        self.failed.sort()
        return self

    def check_complete(self) -> None:
        """Fail every slot an executor left unfilled with a `WorkerError` (never silently lost)."""
        values = self.values
        for i, value in enumerate(values):
            if value is NOT_RUN:
                self.fail(i, WorkerError("the executor returned no result for this item"))
        self.failed.sort()


class Cancel:
    """The stop request of one call, shared by all its runners.

    Runners read ``requested`` before each item: a plain attribute read (a bool is assigned
    atomically under the GIL), so checking it costs nothing next to an item.
    """

    __slots__ = ("requested",)

    def __init__(self):
        self.requested = False

    def request(self) -> None:
        self.requested = True


class Lane:
    """One runner's current item, watched by a supervisor that enforces a timeout.

    The runner sets ``position`` and ``started`` before each item; the supervisor gives the
    item up by setting ``abandoned`` (under ``lock``, so exactly one of the two stores the
    item's outcome) and the runner then drops its late result and stops.
    """

    __slots__ = ("abandoned", "end", "lock", "position", "started")

    def __init__(self):
        self.lock = threading.Lock()
        #: the end (exclusive) of the range the runner is in, so another can take over the rest
        self.end = 0
        self.position = -1
        self.started: float | None = None
        self.abandoned = False

    def overdue(self, now: float, timeout: float) -> int | None:
        """The position of the item running longer than ``timeout``, claimed as given up."""
        with self.lock:
            started = self.started
            if self.abandoned or started is None or now - started <= timeout:
                return None
            self.abandoned = True
            return self.position


class Calls:
    """The calls of one action: per-call entries plus the action's own arguments.

    Parameters
    ----------
    entries : list
        One entry per call, as ``init`` returned them.
    shape : {"single", "mixed"}
        ``"single"``: each entry is the call's one positional argument; ``"mixed"``: entries are
        split by `split_entry`.
    args : tuple
        The action's positional arguments, appended after each entry's.
    kwargs : dict
        The action's keyword arguments, merged over each entry's.
    per_item : dict, optional
        Per-item values of some action arguments (from ``P``/``PP``): a key is the position of a
        positional argument (int) or the name of a keyword argument (str); its list holds one
        value per call, which replaces that argument in that call.
    """

    __slots__ = ("args", "cancel", "entries", "fail_fast", "kwargs", "per_item", "progress", "shape")

    def __init__(
        self,
        entries: list,
        shape: str = MIXED,
        args: tuple = (),
        kwargs=None,
        per_item=None,
        *,
        fail_fast: bool = False,
    ):
        self.entries = entries
        self.shape = shape
        self.args = tuple(args)
        self.kwargs = dict(kwargs) if kwargs else {}
        self.per_item = per_item or None
        #: stop after the first failed item (requests ``cancel``)
        self.fail_fast = fail_fast
        #: the call's stop request; each process has its own (a worker process is told by its
        #: executor, which may replace this with an object reading shared memory)
        self.cancel = Cancel()
        #: called with the number of calls just finished, when a progress bar was asked for;
        #: it stays in this process (workers of other processes report through their executor)
        self.progress = None

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Calls(n={len(self.entries)}, shape={self.shape!r})"

    def __getstate__(self):
        return (self.entries, self.shape, self.args, self.kwargs, self.per_item, self.fail_fast)

    def __setstate__(self, state):
        self.entries, self.shape, self.args, self.kwargs, self.per_item, self.fail_fast = state
        self.cancel = Cancel()
        self.progress = None

    def slice(self, lo: int, hi: int) -> Calls:
        """The calls ``lo`` to ``hi`` (exclusive) as a new `Calls` (sharing this call's settings)."""
        if self.per_item:
            return self.pick(range(lo, hi))
        return Calls(self.entries[lo:hi], self.shape, self.args, self.kwargs, fail_fast=self.fail_fast)

    def pick(self, positions) -> Calls:
        """The calls at ``positions`` as a new `Calls`."""
        positions = list(positions)
        per_item = None
        if self.per_item:
            per_item = {key: [values[i] for i in positions] for key, values in self.per_item.items()}
        entries = [self.entries[i] for i in positions]
        return Calls(entries, self.shape, self.args, self.kwargs, per_item, fail_fast=self.fail_fast)

    def _action_arguments(self, position: int) -> tuple[tuple, dict]:
        if not self.per_item:
            return self.args, self.kwargs
        args, kwargs = list(self.args), dict(self.kwargs)
        for key, values in self.per_item.items():
            if type(key) is int:
                args[key] = values[position]
            else:
                kwargs[key] = values[position]
        return tuple(args), kwargs

    def bind(self, position: int) -> tuple[tuple, dict]:
        """The positional and keyword arguments of call ``position``."""
        entry = self.entries[position]
        action_args, action_kwargs = self._action_arguments(position)
        if self.shape == SINGLE:
            return (entry, *action_args), action_kwargs
        args, kwargs = split_entry(entry)
        if action_args:
            args = args + action_args
        if kwargs is None:
            return args, action_kwargs
        if action_kwargs:
            return args, {**kwargs, **action_kwargs}
        return args, kwargs

    def run_range(self, fn, lo: int, hi: int, outcomes: Outcomes, lane: Lane | None = None) -> None:
        """Run calls ``lo`` to ``hi`` of ``fn`` in this thread, storing into ``outcomes``.

        An ``Exception`` raised by a call is stored in its slot; anything else (``KeyboardInterrupt``,
        ``SystemExit``) propagates. No call starts once ``cancel`` is requested; with
        ``fail_fast`` a failed call requests it. With a ``lane``, each call is announced on it
        for a supervisor enforcing a timeout (see `Lane`).
        """
        if lane is not None or self.progress is not None:
            self._run_watched(fn, lo, hi, outcomes, lane)
            return
        values = outcomes.values
        entries = self.entries
        cancel = self.cancel
        if self.shape == SINGLE and not self.args and not self.kwargs and not self.per_item:
            # The hot path of standard inits: one call per entry with no extra arguments.
            for i in range(lo, hi):
                if cancel.requested:
                    return
                try:
                    values[i] = fn(entries[i])
                except Exception as exc:
                    outcomes.fail(i, exc)
                    if self.fail_fast:
                        cancel.request()
            return
        bind = self.bind
        for i in range(lo, hi):
            if cancel.requested:
                return
            try:
                args, kwargs = bind(i)
                values[i] = fn(*args, **kwargs)
            except Exception as exc:
                outcomes.fail(i, exc)
                if self.fail_fast:
                    cancel.request()

    def _run_watched(self, fn, lo: int, hi: int, outcomes: Outcomes, lane: Lane | None) -> None:
        """`run_range` announcing each call on ``lane`` and/or reporting it to ``progress`` (slower)."""
        progress, cancel = self.progress, self.cancel
        for i in range(lo, hi):
            if cancel.requested or (lane is not None and lane.abandoned):
                return
            if lane is not None:
                lane.position, lane.started = i, time.monotonic()
            failed = False
            try:
                args, kwargs = self.bind(i)
                value = fn(*args, **kwargs)
            except Exception as exc:
                value, failed = exc, True
            if lane is not None:
                with lane.lock:
                    if lane.abandoned:  # given up by the supervisor: its outcome is stored already
                        return
                    lane.started = None
            if failed:
                outcomes.fail(i, value)
                if self.fail_fast:
                    cancel.request()
            else:
                outcomes.values[i] = value
            if progress is not None:
                progress(1)
