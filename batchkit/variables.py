"""Pipeline variables: named values shared by every batch of a run, safe under concurrency."""

from __future__ import annotations

import copy
import threading
import warnings

from ._runlog import user_stacklevel

__all__ = ["MODES", "Variables", "apply_mode"]

#: assignment modes, by every spelling accepted
MODES = {"w": "w", "write": "w", "a": "a", "append": "a", "e": "e", "extend": "e", "u": "u", "update": "u"}


def apply_mode(current, value, mode: str):
    """The new value of something holding ``current`` after assigning ``value`` in ``mode``.

    ``"w"`` replaces; ``"a"`` appends to a list; ``"e"`` extends a list; ``"u"`` updates a dict or
    set. The container is changed in place and returned.

    Examples
    --------
    >>> apply_mode([1], 2, "append")
    [1, 2]
    >>> apply_mode({"a": 1}, {"b": 2}, "u")
    {'a': 1, 'b': 2}
    """
    try:
        mode = MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of {sorted(set(MODES))} (got {mode!r})") from None
    if mode == "w":
        return value
    if current is None:
        current = {} if mode == "u" and isinstance(value, dict) else ([] if mode != "u" else set())
    if mode == "a":
        current.append(value)
    elif mode == "e":
        current.extend(value)
    else:
        current.update(value)
    return current


class Variables:
    """Named variables with their defaults; every read-modify-write holds one lock.

    ``declare`` records a default (copied when the variable is (re)initialised, so a list default
    is never shared between pipelines); ``get``/``set`` work on the current values.
    """

    def __init__(self, defaults: dict | None = None):
        self._defaults = dict(defaults or {})
        self._values = {name: copy.deepcopy(value) for name, value in self._defaults.items()}
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """The lock every read-modify-write holds; hold it to make several steps one."""
        return self._lock

    def declare(self, name: str, default=None) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a variable name must be a non-empty str (got {name!r})")
        with self._lock:
            self._defaults[name] = default
            if name not in self._values:
                self._values[name] = copy.deepcopy(default)

    def __contains__(self, name) -> bool:
        return name in self._values

    def names(self) -> list[str]:
        return list(self._values)

    def get(self, name: str, default=None, create: bool = False):
        with self._lock:
            if name in self._values:
                return self._values[name]
            if create:
                self.declare(name, default)
                return self._values[name]
        raise KeyError(
            f"no pipeline variable {name!r}; declare it with .init_variable({name!r}, default) "
            f"(variables: {sorted(self._values)})"
        )

    def set(self, name: str, value, mode: str = "w") -> None:
        """Assign ``value`` in ``mode``; a variable never declared is made by it, with a warning.

        batchflow makes it too (and warns in its log); an append or extend starts a new list, an
        update a new dict or set, as `apply_mode` does for a variable declared without default.
        """
        with self._lock:
            if name not in self._values:
                if not isinstance(name, str) or not name:
                    raise TypeError(f"a variable name must be a non-empty str (got {name!r})")
                warnings.warn(
                    f"pipeline variable {name!r} was never declared: this assignment creates it "
                    f"(declare it with .init_variable({name!r}, default) to give it a default)",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )
                self._defaults[name] = None
                self._values[name] = None
            self._values[name] = apply_mode(self._values[name], value, mode)

    def delete(self, name: str) -> None:
        with self._lock:
            self._values.pop(name, None)
            self._defaults.pop(name, None)

    def reset(self) -> None:
        """Every variable back to (a copy of) its default."""
        with self._lock:
            self._values = {name: copy.deepcopy(value) for name, value in self._defaults.items()}

    def fresh_copy(self) -> Variables:
        """A new store with the same declarations, at their defaults."""
        with self._lock:
            return Variables(self._defaults)

    def merged(self, other: Variables) -> Variables:
        """A new store declaring both stores' variables (``other`` wins on a name clash)."""
        return Variables({**self._defaults, **other._defaults})

    def __getstate__(self):
        with self._lock:
            return {"defaults": self._defaults, "values": self._values}

    def __setstate__(self, state):
        self._defaults = state["defaults"]
        self._values = state["values"]
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Variables({', '.join(self._values)})"
