"""The output format: file names, manifest keys, atomic writes, and what a part holds.

The invariants these serve (every file whole or absent, the manifest the one source of truth)
are stated in the `batchkit.store` package docstring. The writer and the readers both build
on this module; it imports neither.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

FORMAT = "batchkit.store"
VERSION = 1
MANIFEST = "manifest.json"

_INDEX_KEY = "indices"
_COMPONENT_PREFIX = "component."
# Temporary files start with a dot and this prefix, so that they are hidden, never taken for a
# part, and recognised as this module's own when an output is overwritten.
_TEMP_PREFIX = ".batchkit-"
_TEMP_SUFFIX = ".tmp"
_PART_RE = re.compile(r"part-\d{6,}\.npz")
# The name under which the data of a batch without declared components is stored (``data`` is
# a Batch attribute, so no declared component can take it).
_RAW_DATA = "data"
#: the manifest's keys that `BatchWriter.state` gives and `BatchWriter.roll_back` restores
_STATE_KEYS = ("n_parts", "n_items", "index_dtype", "components")


def _part_name(number: int) -> str:
    return f"part-{number:06d}.npz"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _is_own_file(name: str) -> bool:
    """Whether ``name`` (in an output directory) is a file that this module writes."""
    if name == MANIFEST or _PART_RE.fullmatch(name):
        return True
    return name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)


def _atomic_write(directory: Path, name: str, write, fsync: bool) -> None:
    """Write ``directory / name`` through ``write(file)`` so that it appears whole or not at all."""
    fd, temp = tempfile.mkstemp(dir=directory, prefix=f"{_TEMP_PREFIX}{name}-", suffix=_TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
            if fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if fsync:
        _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the directory's entries (a rename, a new file) durable; a no-op where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _object_items(value, n: int, name: str) -> np.ndarray:
    """A 1-D object array holding the ``n`` elements of ``value`` as they are (ragged data)."""
    try:
        length = len(value)
    except TypeError:
        raise TypeError(
            f"component {name!r} holds a {type(value).__name__}, which has no length; "
            "a component must hold one element per item"
        ) from None
    if length != n:
        raise ValueError(f"component {name!r} has {length} elements but the batch has {n} index values")
    out = np.empty(n, dtype=object)
    # Element by element: assigning a list at once would let numpy broadcast nested sequences.
    for i, element in enumerate(value):
        out[i] = element
    return out


def _as_array(value, n: int, name: str) -> np.ndarray:
    """``value`` as an array whose first axis runs over the ``n`` items of the batch."""
    if isinstance(value, np.ndarray):
        if value.ndim == 0 or len(value) != n:
            shape = value.shape
            raise ValueError(
                f"component {name!r} has shape {shape} but the batch has {n} index values; "
                "a component's first axis must run over the items"
            )
        return value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # older numpy warns on ragged input before failing
            array = np.asarray(value)
    except (ValueError, TypeError):
        array = None  # ragged: elements of different shapes
    # numpy turns [1, "a"] into strings; keep mixed elements as they are instead.
    if (
        array is not None
        and array.dtype.kind in "US"
        and not all(isinstance(element, (str, bytes)) for element in value)
    ):
        array = None
    if array is None or array.ndim == 0 or len(array) != n or array.dtype == object:
        return _object_items(value, n, name)
    return array


def _promote(old: str | None, new: np.dtype) -> np.dtype:
    """The dtype that holds both ``old`` (a dtype string from the manifest) and ``new``."""
    if old is None:
        return new
    try:
        return np.result_type(np.dtype(old), new)
    except (TypeError, ValueError):
        return np.dtype(object)
