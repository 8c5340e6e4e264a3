"""The calls that one parallel action fans out, and the loop that runs them.

``init`` returns one entry per call. An entry is turned into arguments by `split_entry`:

* a ``dict`` (any mapping) gives keyword arguments;
* a 2-tuple ``(sequence, dict)`` gives both (the sequence may be a list or a tuple);
* a list, a tuple or another sequence (not ``str``/``bytes``) gives positional arguments;
* anything else (a scalar, an ndarray, an object) is the one positional argument.

The action's own positional arguments follow the entry's; its keyword arguments are merged over
the entry's into a new dict, so what ``init`` returned is never mutated.

Every executor runs calls through `run_range`, so the argument rules and the
failure rules (an item's exception is stored in its slot, never raised) are the same for all
targets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["MIXED", "SINGLE", "Calls", "Outcomes", "split_entry"]

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


class Outcomes:
    """What running the calls gave: one value per call, and which calls failed.

    ``values[i]`` holds the exception object for a failed call ``i``; ``failed`` lists those
    positions, so a method that *returns* an exception is never mistaken for a failure.
    """

    __slots__ = ("failed", "values")

    def __init__(self, n: int):
        self.values: list = [None] * n
        self.failed: list[int] = []

    def __len__(self) -> int:
        return len(self.values)

    def fail(self, position: int, error: BaseException) -> None:
        self.values[position] = error
        self.failed.append(position)


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

    __slots__ = ("args", "entries", "kwargs", "per_item", "progress", "shape")

    def __init__(self, entries: list, shape: str = MIXED, args: tuple = (), kwargs=None, per_item=None):
        self.entries = entries
        self.shape = shape
        self.args = tuple(args)
        self.kwargs = dict(kwargs) if kwargs else {}
        self.per_item = per_item or None
        #: called with the number of calls just finished, when a progress bar was asked for;
        #: it stays in this process (workers of other processes report through their executor)
        self.progress = None

    def __len__(self) -> int:
        return len(self.entries)

    def __repr__(self) -> str:
        return f"Calls(n={len(self.entries)}, shape={self.shape!r})"

    def __getstate__(self):
        return (self.entries, self.shape, self.args, self.kwargs, self.per_item)

    def __setstate__(self, state):
        self.entries, self.shape, self.args, self.kwargs, self.per_item = state
        self.progress = None

    def slice(self, lo: int, hi: int) -> Calls:
        """The calls ``lo`` to ``hi`` (exclusive) as a new `Calls`."""
        if self.per_item:
            return self.pick(range(lo, hi))
        return Calls(self.entries[lo:hi], self.shape, self.args, self.kwargs)

    def pick(self, positions) -> Calls:
        """The calls at ``positions`` as a new `Calls`."""
        positions = list(positions)
        per_item = None
        if self.per_item:
            per_item = {key: [values[i] for i in positions] for key, values in self.per_item.items()}
        entries = [self.entries[i] for i in positions]
        return Calls(entries, self.shape, self.args, self.kwargs, per_item)

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

    def run_range(self, fn, lo: int, hi: int, outcomes: Outcomes) -> None:
        """Run calls ``lo`` to ``hi`` of ``fn`` in this thread, storing into ``outcomes``.

        An ``Exception`` raised by a call is stored in its slot; anything else (``KeyboardInterrupt``,
        ``SystemExit``) propagates.
        """
        values = outcomes.values
        entries = self.entries
        if self.progress is not None:
            self._run_reporting(fn, lo, hi, outcomes)
            return
        if self.shape == SINGLE and not self.args and not self.kwargs and not self.per_item:
            # The hot path of standard inits: one call per entry with no extra arguments.
            for i in range(lo, hi):
                try:
                    values[i] = fn(entries[i])
                except Exception as exc:
                    outcomes.fail(i, exc)
            return
        bind = self.bind
        for i in range(lo, hi):
            try:
                args, kwargs = bind(i)
                values[i] = fn(*args, **kwargs)
            except Exception as exc:
                outcomes.fail(i, exc)

    def _run_reporting(self, fn, lo: int, hi: int, outcomes: Outcomes) -> None:
        """`run_range` reporting each finished call to ``progress`` (slower; only when asked)."""
        progress = self.progress
        for i in range(lo, hi):
            try:
                args, kwargs = self.bind(i)
                outcomes.values[i] = fn(*args, **kwargs)
            except Exception as exc:
                outcomes.fail(i, exc)
            progress(1)
