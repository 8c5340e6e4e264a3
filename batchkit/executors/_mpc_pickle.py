"""What crosses the process boundary of the ``mpc`` target, and how it is pickled.

Both sides use these: the caller pickles the worker function and each chunk's calls, a worker
pickles a chunk's values and failures back, and the caller stores them (`store_reply`). A
value, an entry or an exception that cannot be pickled fails its own item only, never its chunk.
"""

from __future__ import annotations

import io
import pickle
import traceback

from .._calls import Calls, Outcomes
from ..errors import RemoteTraceback, WorkerError

__all__ = [
    "dump_function",
    "dump_values",
    "dumps",
    "dumps_or_none",
    "pack_calls",
    "portable_error",
    "store_reply",
]


def _cloudpickle():
    import cloudpickle  # imported on first use: ``import batchkit`` stays light

    return cloudpickle


_refusing_pickler = None


def _cloud_dumps(obj, arrays=None) -> bytes:
    """cloudpickle, refusing open files: it would read a file's contents and send a copy.

    The C pickler refuses files by itself, so every file reaches this fallback, and the check
    costs nothing on the fast path.
    """
    global _refusing_pickler
    if _refusing_pickler is None:
        base = _cloudpickle().Pickler

        class FileRefusingPickler(base):
            arrays = None  # a call's CallArrays: its arrays cross by reference

            def reducer_override(self, obj):
                if self.arrays is not None:
                    reduced = self.arrays.reduce(obj)
                    if reduced is not NotImplemented:
                        return reduced
                if isinstance(obj, io.IOBase) and not isinstance(obj, (io.BytesIO, io.StringIO)):
                    name = getattr(obj, "name", None)
                    what = repr(name) if name is not None else type(obj).__name__
                    raise TypeError(
                        f"an open file ({what}) cannot "
                        "cross to worker processes (they would get a copy, or nothing): pass its "
                        "path and open it in the item"
                    )
                return super().reducer_override(obj)

        _refusing_pickler = FileRefusingPickler
    buffer = io.BytesIO()
    pickler = _refusing_pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.arrays = arrays
    pickler.dump(obj)
    return buffer.getvalue()


def dumps(obj, arrays=None) -> bytes:
    """Pickle with the fast C pickler; fall back to cloudpickle for lambdas, closures and the like.

    With ``arrays`` (a call's `CallArrays`), memmaps and large arrays cross by reference.
    """
    try:
        if arrays is None:
            return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return arrays.dumps(obj)
    except Exception:
        return _cloud_dumps(obj, arrays)


def dumps_or_none(obj, arrays=None) -> bytes | None:
    try:
        return dumps(obj, arrays)
    except Exception:  # the caller then finds the culprit item by item
        return None


def dump_function(fn) -> bytes:
    """The worker function, pickled once per call by cloudpickle (by value when it must be)."""
    try:
        return _cloud_dumps(fn)
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


def pack_calls(
    calls: Calls, positions: list[int], outcomes: Outcomes, arrays=None
) -> tuple[list[int], bytes | None]:
    """Pickle the calls at ``positions``; an entry that does not pickle fails its own item only.

    ``arrays`` (a `CallArrays`, or None when numpy is not imported) sends arrays by reference.

    Returns the positions that made it and their pickled calls (None when none did). A
    contiguous run of positions is cut with `Calls.slice`, the common case; any other set
    (the items of a chunk run again after a fault) with `Calls.pick`.
    """
    lo, hi = positions[0], positions[-1] + 1
    contiguous = hi - lo == len(positions)
    blob = dumps_or_none(calls.slice(lo, hi) if contiguous else calls.pick(positions), arrays)
    if blob is not None:
        return positions, blob
    good = []
    for i in positions:
        try:
            dumps(calls.slice(i, i + 1), arrays)
            good.append(i)
        except Exception as why:
            error = WorkerError(f"the arguments of this item cannot be pickled for target='mpc': {why}")
            error.__cause__ = why
            outcomes.fail(i, error)
    if not good:
        return good, None
    return good, dumps(calls.pick(good), arrays)


def _load_failures(failures_blob, failed: list[int]) -> dict:
    if not failed:
        return {}
    try:
        return pickle.loads(failures_blob)
    except Exception as why:
        text = f"the item failed in the worker, and its exception cannot be unpickled here: {why!r}"
        return {k: (WorkerError(text), "") for k in failed}


def store_reply(reply: bytes, positions, outcomes: Outcomes) -> tuple[float, list[int], bool, bool]:
    """Put a worker's reply for the chunk at ``positions`` into ``outcomes``.

    The reply is made by the worker's ``_run_chunk``. Returns the seconds the chunk ran, the
    positions it did not run (to run again, unless the call stopped), whether any item failed,
    and whether the chunk came back whole (every item a value: the path without faults).
    """
    values_blob, failures_blob, failed, missing, seconds, chunk_error = pickle.loads(reply)
    if chunk_error is not None:  # the chunk could not even be loaded
        error, text = pickle.loads(chunk_error)
        for position in positions:
            copy = WorkerError(str(error))
            copy.__cause__ = RemoteTraceback(text)
            outcomes.fail(position, copy)
        return seconds, [], True, False
    values, why = None, None
    try:
        values = pickle.loads(values_blob)
    except Exception as exc:
        why = exc
    if values is not None and not failed and not missing and type(positions) is range:
        outcomes.values[positions.start : positions.stop] = values  # the common case
        return seconds, [], False, True
    failures = _load_failures(failures_blob, failed)
    missing, again = set(missing), []
    for k, position in enumerate(positions):
        if k in failures:
            error, text = failures[k]
            if text:
                error.__cause__ = RemoteTraceback(text)
            outcomes.fail(position, error)
        elif k in missing:
            again.append(position)
        elif values is None:
            outcomes.fail(position, WorkerError(f"the item's result cannot be unpickled here: {why!r}"))
        else:
            outcomes.values[position] = values[k]
    return seconds, again, bool(failures) or values is None, False
