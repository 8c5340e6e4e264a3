"""Assignment modes of named expressions: what ``expr.set(value, mode=...)`` does to the old value.

The modes are those of pipeline variables (`batchkit.variables.MODES`: write, append, extend,
update), extended to numpy arrays, which have no ``append``: they get a new array instead.
"""

from __future__ import annotations

import numpy as np

from ..variables import MODES, apply_mode


def check_mode(mode) -> str:
    """The one-letter spelling of an assignment ``mode`` (``ValueError`` if there is none)."""
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of {sorted(set(MODES))} (got {mode!r})") from None


def assign_mode(current, value, mode: str):
    """The new value after assigning ``value`` over ``current`` in ``mode`` (one letter).

    Lists grow and dicts or sets update in place; a numpy array gets a new array: ``"a"`` adds
    ``value`` as one more element along the first axis, ``"e"`` concatenates ``value``.
    """
    if mode == "w":
        return value
    if isinstance(current, np.ndarray) and mode in ("a", "e"):
        value = np.asarray(value)
        return np.concatenate([current, value[np.newaxis] if mode == "a" else value])
    try:
        return apply_mode(current, value, mode)
    except AttributeError:
        verb = {"a": "append to", "e": "extend", "u": "update"}[mode]
        raise TypeError(f"cannot {verb} a {type(current).__name__} (mode {mode!r})") from None
