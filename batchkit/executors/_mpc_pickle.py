"""What crosses the process boundary of the ``mpc`` target, and how it is pickled.

Both sides use these: the caller pickles the worker function and each chunk's calls, a worker
pickles a chunk's values and failures back. A value, an entry or an exception that cannot be
pickled fails its own item only, never its chunk.
"""

from __future__ import annotations

import pickle
import traceback

from .._calls import Calls, Outcomes
from ..errors import WorkerError

__all__ = ["dump_function", "dump_values", "dumps", "dumps_or_none", "pack_calls", "portable_error"]


def _cloudpickle():
    import cloudpickle  # imported on first use: ``import batchkit`` stays light

    return cloudpickle


def dumps(obj) -> bytes:
    """Pickle with the fast C pickler; fall back to cloudpickle for lambdas, closures and the like."""
    try:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return _cloudpickle().dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)


def dumps_or_none(obj) -> bytes | None:
    try:
        return dumps(obj)
    except Exception:  # the caller then finds the culprit item by item
        return None


def dump_function(fn) -> bytes:
    """The worker function, pickled once per call by cloudpickle (by value when it must be)."""
    try:
        return _cloudpickle().dumps(fn, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as why:
        raise TypeError(
            f"target='mpc' needs a worker function that can be pickled, and {fn!r} cannot: {why}. "
            "Return a module-level function or a functools.partial of one."
        ) from why


def portable_error(exc: BaseException) -> tuple[BaseException, str]:
    """The exception (or a stand-in that pickles) and its traceback text, ready to send back."""
    text = "".join(traceback.format_exception(exc))
    try:
        pickle.loads(dumps(exc))
    except Exception as why:
        exc = WorkerError(
            f"{type(exc).__name__}: {exc} (the original exception could not be sent back "
            f"from the worker process: {why})"
        )
    return exc, text


def dump_values(values: list, failures: dict) -> bytes:
    """Pickle a chunk's values; a value that does not pickle fails its own item."""
    blob = dumps_or_none(values)
    if blob is not None:
        return blob
    for i, value in enumerate(values):
        try:
            dumps(value)
        except Exception as why:
            failures[i] = portable_error(
                WorkerError(f"the item's result {type(value).__name__} cannot be pickled: {why}")
            )
            values[i] = None
    return dumps(values)


def pack_calls(calls: Calls, positions: list[int], outcomes: Outcomes) -> tuple[list[int], bytes | None]:
    """Pickle the calls at ``positions``; an entry that does not pickle fails its own item only.

    Returns the positions that made it and their pickled calls (None when none did). A
    contiguous run of positions is cut with `Calls.slice`, the common case; any other set
    (the items of a chunk run again after a fault) with `Calls.pick`.
    """
    lo, hi = positions[0], positions[-1] + 1
    contiguous = hi - lo == len(positions)
    blob = dumps_or_none(calls.slice(lo, hi) if contiguous else calls.pick(positions))
    if blob is not None:
        return positions, blob
    good = []
    for i in positions:
        try:
            dumps(calls.slice(i, i + 1))
            good.append(i)
        except Exception as why:
            error = WorkerError(f"the arguments of this item cannot be pickled for target='mpc': {why}")
            error.__cause__ = why
            outcomes.fail(i, error)
    if not good:
        return good, None
    return good, dumps(calls.pick(good))
