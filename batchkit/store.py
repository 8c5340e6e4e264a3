"""Low-memory output: write each batch to disk as it finishes, read the result back later.

A run over many batches need not hold its results in memory: a `BatchWriter` stores
every batch it is given as one file in an output directory and then forgets it, so memory stays
flat however many batches run. `read_output` loads the whole result back (concatenated per
component), `iter_output` walks it one part at a time, `output_info` describes it.

Layout of an output directory::

    manifest.json        what was written: run id, components, counts, times (JSON)
    part-000000.npz      the first batch written: ``indices`` and ``component.<name>`` arrays
    part-000001.npz      the second one, and so on

Every file is written to a temporary file in the same directory and moved into place with
`replace`, so a crash leaves either the old file or the new one, never half of one. The
manifest is rewritten after each part and is the single source of truth: a part that is not
counted there (its writer died before recording it) is ignored, and so are leftover temporary
files. The manifest keeps counts, not per-part lists, so it does not grow with the run.

An output belongs to one run (its ``run_id``): appending is allowed only to resume that same
run, so that the results of two different runs can never be mixed in one output.

Resuming a run after a crash (a pipeline's ``journal``, see `batchkit._journal`) may find parts
that the manifest counts but the journal does not: written just before the crash, and about to
be written again. `BatchWriter.state` is the manifest's counts after a part, which the journal
records; `BatchWriter.roll_back` puts the manifest back to such a state (atomically, like every
manifest write) and deletes the parts after it, so that no batch is in the output twice. With
``fsync=True`` a part, the manifest and the directory entries are on the disk before `write`
returns, so that what a journal then records survives a crash of the machine too.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import threading
import uuid
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

__all__ = ["BatchWriter", "iter_output", "output_info", "read_output"]

FORMAT = "batchkit.store"
VERSION = 1
MANIFEST = "manifest.json"
MODES = ("new", "append", "overwrite")

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


class BatchWriter:
    """Write batches to an output directory, one file per batch, keeping none of them in memory.

    Parameters
    ----------
    path : str or path-like
        The output directory (created if missing, parents included).
    components : str or sequence of str, optional
        The components to store. By default every component of each batch; the data of a batch
        without declared components is stored as the component ``"data"``.
    run_id : str, optional
        What identifies the run writing this output; a new random id by default. Pass the same
        id again with ``mode="append"`` to resume the run.
    mode : {"new", "append", "overwrite"}
        ``"new"`` (default) refuses an existing non-empty directory. ``"append"`` adds parts to
        an output written by the same ``run_id`` (or starts one if there is none) and refuses an
        output of another run. ``"overwrite"`` deletes an existing output first; it refuses a
        directory that holds files other than its own.
    fsync : bool, default False
        Flush every file to the disk before moving it into place. Files are always replaced
        atomically, which is safe against a crash of the process; ``fsync`` adds safety against
        a crash of the machine, at the cost of speed.

    Raises
    ------
    FileExistsError
        ``mode="new"`` and ``path`` is not empty, or ``path`` is a file, or an output to append
        to or overwrite holds files that this writer did not write.
    ValueError
        An unknown ``mode``; ``mode="append"`` without a ``run_id`` or onto another run's output.

    Notes
    -----
    Each part is an uncompressed ``.npz`` file holding the batch's index values (``indices``)
    and one array per component (``component.<name>``). A component is stored as a numpy array
    whose first axis runs over the items; ragged or mixed data (a list of arrays of different
    shapes, of dicts, ...) is stored as a 1-D object array, which numpy pickles: reading it back
    needs ``allow_pickle`` (which `read_output` turns on), so read only outputs you trust.
    A component that is None in a batch is not stored for that batch and is counted as such in
    the manifest.

    `write` is thread-safe: batches may finish concurrently, and their parts are numbered
    in the order their `write` calls got the writer's lock. One writer per output: two
    writers on the same directory at the same time would overwrite each other's parts.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from batchkit import Batch
    >>> class Points(Batch):
    ...     components = ("coords", "labels")
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with BatchWriter(f"{tmp}/out") as writer:
    ...         for start in (0, 3):
    ...             batch = Points.from_data(
    ...                 index=np.arange(start, start + 3),
    ...                 data=(np.zeros((3, 2)), np.arange(start, start + 3) * 10),
    ...             )
    ...             part = writer.write(batch)
    ...     result = read_output(f"{tmp}/out")
    ...     info = output_info(f"{tmp}/out")
    >>> result["indices"]
    array([0, 1, 2, 3, 4, 5])
    >>> result["labels"], result["coords"].shape
    (array([ 0, 10, 20, 30, 40, 50]), (6, 2))
    >>> info["n_parts"], info["n_items"]
    (2, 6)
    """

    def __init__(
        self,
        path,
        components: str | Sequence[str] | None = None,
        *,
        run_id: str | None = None,
        mode: str = "new",
        fsync: bool = False,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)} (got {mode!r})")
        if isinstance(components, str):
            components = (components,)
        if components is not None:
            components = tuple(components)
            bad = [name for name in components if not isinstance(name, str)]
            if bad:
                raise TypeError(f"component names must be strings (got {bad})")
        if run_id is not None and not isinstance(run_id, str):
            raise TypeError(f"run_id must be a string (got {type(run_id).__name__})")
        if mode == "append" and run_id is None:
            raise ValueError(
                f"mode='append' resumes a run and needs its run_id; read it with "
                f"output_info({str(path)!r})['run_id'], or use mode='new' for a new run"
            )
        self.path = Path(path)
        self.components = components
        self.run_id = run_id if run_id is not None else uuid.uuid4().hex
        self.fsync = fsync
        self._lock = threading.Lock()
        self._closed = False
        # Only counts and one dtype / shape per component: nothing here grows with the run.
        self._manifest = self._open(mode)

    # -- opening ----------------------------------------------------------------------------

    def _open(self, mode: str) -> dict:
        path = self.path
        if path.exists() and not path.is_dir():
            raise FileExistsError(
                f"output path {str(path)!r} is a file, not a directory; choose another path"
            )
        names = sorted(entry.name for entry in os.scandir(path)) if path.exists() else []
        if names and mode == "new":
            raise FileExistsError(
                f"output directory {str(path)!r} is not empty; choose a new path, pass "
                "mode='overwrite' to replace its output, or mode='append' with its run_id to resume it"
            )
        foreign = [name for name in names if not _is_own_file(name)]
        if foreign and mode != "new":
            raise FileExistsError(
                f"output directory {str(path)!r} holds files that are not a batchkit output "
                f"({foreign[:5]}{' ...' if len(foreign) > 5 else ''}); refusing to {mode} into it"
            )
        if mode == "overwrite":
            for name in names:
                os.unlink(path / name)
            names = []
        if mode == "append" and names:
            if MANIFEST not in names:
                raise FileExistsError(
                    f"output directory {str(path)!r} has no {MANIFEST}, so its run cannot be "
                    "checked; refusing to append to it (use mode='overwrite' to replace it)"
                )
            manifest = output_info(path)
            if manifest["run_id"] != self.run_id:
                raise ValueError(
                    f"output {str(path)!r} was written by run {manifest['run_id']!r}, not by run "
                    f"{self.run_id!r}; appending would mix two runs: write to a new path, or pass "
                    f"run_id={manifest['run_id']!r} if this really resumes that run"
                )
            manifest["closed"] = False
        else:
            path.mkdir(parents=True, exist_ok=True)
            now = _now()
            manifest = {
                "format": FORMAT,
                "version": VERSION,
                "run_id": self.run_id,
                "created": now,
                "updated": now,
                "closed": False,
                "n_parts": 0,
                "n_items": 0,
                "index_dtype": None,
                "components": {},
            }
        self._write_manifest(manifest)
        return manifest

    def _write_manifest(self, manifest: dict) -> None:
        manifest["updated"] = _now()
        # One top-level key a line, for people reading it; not json's indent=, whose pure-Python
        # encoder is slower and leaves reference cycles behind that make memory creep between
        # garbage collections.
        lines = (f" {json.dumps(key)}: {json.dumps(value)}" for key, value in manifest.items())
        text = ("{\n" + ",\n".join(lines) + "\n}\n").encode()
        _atomic_write(self.path, MANIFEST, lambda file: file.write(text), self.fsync)

    # -- writing ----------------------------------------------------------------------------

    def _collect(self, batch) -> tuple[np.ndarray, dict]:
        """The batch's index values and its components to store (None for a None component)."""
        indices = np.asarray(batch.indices)
        n = len(indices)
        declared = getattr(batch, "components", None)
        if declared is None:
            available = {_RAW_DATA: getattr(batch, "data", None)}
        else:
            available = {name: getattr(batch, name) for name in declared}
        if self.components is None:
            chosen = available
        else:
            missing = [name for name in self.components if name not in available]
            if missing:
                raise ValueError(
                    f"{type(batch).__name__} has no component(s) {missing}; its components are "
                    f"{list(available)}: fix the writer's components={list(self.components)}"
                )
            chosen = {name: available[name] for name in self.components}
        arrays = {
            name: None if value is None else _as_array(value, n, name) for name, value in chosen.items()
        }
        return indices, arrays

    def write(self, batch) -> int:
        """Store ``batch`` as the next part of the output and return that part's number.

        Parameters
        ----------
        batch : Batch
            Anything with ``indices`` and components (see `Batch`).

        Returns
        -------
        int
            The part's number (0 for the first part of the output).

        Raises
        ------
        ValueError
            The writer is closed, a listed component is missing from the batch, or a component
            does not have one element per index value.
        """
        if self._closed:
            raise ValueError(f"the writer of {str(self.path)!r} is closed; open a new one to write more")
        # Converting the data needs no lock: only numbering, the file and the manifest do.
        indices, arrays = self._collect(batch)
        stored = {_INDEX_KEY: indices}
        stored.update(
            (_COMPONENT_PREFIX + name, array) for name, array in arrays.items() if array is not None
        )
        with self._lock:
            if self._closed:
                raise ValueError(f"the writer of {str(self.path)!r} is closed; open a new one to write more")
            manifest = self._manifest
            number = manifest["n_parts"]
            # A part file with this number may exist from a run that died before recording it:
            # os.replace overwrites it, and until the manifest counts it no reader looks at it.
            _atomic_write(self.path, _part_name(number), lambda file: np.savez(file, **stored), self.fsync)
            manifest["n_parts"] = number + 1
            manifest["n_items"] += len(indices)
            manifest["index_dtype"] = str(_promote(manifest["index_dtype"], indices.dtype))
            info = manifest["components"]
            for name, array in arrays.items():
                entry = info.setdefault(
                    name, {"dtype": None, "item_shape": None, "parts": 0, "none_parts": 0}
                )
                if array is None:
                    entry["none_parts"] += 1
                    continue
                shape = list(array.shape[1:])
                entry["item_shape"] = shape if entry["parts"] == 0 or entry["item_shape"] == shape else None
                entry["dtype"] = str(_promote(entry["dtype"], array.dtype))
                entry["parts"] += 1
            self._write_manifest(manifest)
        return number

    # -- state ------------------------------------------------------------------------------

    def state(self) -> dict:
        """What the output holds now, for `roll_back`: the manifest's counts (JSON-ready, small).

        Examples
        --------
        >>> import tempfile
        >>> import numpy as np
        >>> from batchkit import Batch
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     writer = BatchWriter(tmp, run_id="r")
        ...     before = writer.state()
        ...     _ = writer.write(Batch.from_data(data={"x": np.arange(3)}))
        ...     _ = writer.write(Batch.from_data(data={"x": np.arange(2)}))
        ...     writer.roll_back(before)
        ...     writer.close()
        ...     info = output_info(tmp)
        >>> before["n_parts"], info["n_parts"], info["n_items"]
        (0, 0, 0)
        """
        with self._lock:
            manifest = self._manifest
            return json.loads(json.dumps({key: manifest[key] for key in _STATE_KEYS}))

    def roll_back(self, state: dict) -> None:
        """Put the output back to ``state`` (from `state`): later parts are forgotten and deleted.

        Raises
        ------
        ValueError
            The writer is closed, ``state`` is not a state, or the output holds fewer parts than
            ``state`` (it lost some: it is not the output the state was taken from).
        """
        if not isinstance(state, dict) or any(key not in state for key in _STATE_KEYS):
            raise ValueError(f"not an output state (from BatchWriter.state()): {state!r:.200}")
        with self._lock:
            if self._closed:
                raise ValueError(f"the writer of {str(self.path)!r} is closed; open a new one to roll back")
            manifest = self._manifest
            if state["n_parts"] > manifest["n_parts"]:
                raise ValueError(
                    f"output {str(self.path)!r} holds {manifest['n_parts']} parts, fewer than the "
                    f"{state['n_parts']} of the state to roll back to: it is not the output that "
                    "state was taken from, or parts of it were deleted"
                )
            extra = range(state["n_parts"], manifest["n_parts"])
            manifest.update(json.loads(json.dumps({key: state[key] for key in _STATE_KEYS})))
            manifest["closed"] = False
            # the manifest first: once it no longer counts the parts, deleting them changes nothing
            self._write_manifest(manifest)
            for number in extra:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path / _part_name(number))
            if self.fsync:
                _fsync_directory(self.path)

    @property
    def n_parts(self) -> int:
        """The number of parts in the output (those of earlier writers of the same run included)."""
        return self._manifest["n_parts"]

    @property
    def n_items(self) -> int:
        """The number of items in the output."""
        return self._manifest["n_items"]

    @property
    def closed(self) -> bool:
        """Whether `close` was called."""
        return self._closed

    def close(self) -> None:
        """Mark the output as complete (``"closed": true`` in the manifest). Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._manifest["closed"] = True
            self._write_manifest(self._manifest)

    def __enter__(self) -> BatchWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return (
            f"<BatchWriter {str(self.path)!r} run {self.run_id!r}: "
            f"{self.n_parts} parts, {self.n_items} items, {state}>"
        )


# -- reading ---------------------------------------------------------------------------------


def output_info(path) -> dict:
    """The manifest of the output at ``path``: what was written, by which run, and when.

    Parameters
    ----------
    path : str or path-like
        An output directory written by `BatchWriter`.

    Returns
    -------
    dict
        ``format``, ``version``, ``run_id``, ``created`` and ``updated`` (ISO times, UTC),
        ``closed`` (whether the writer was closed), ``n_parts``, ``n_items``, ``index_dtype``
        and ``components``: for each component its ``dtype`` (that of the concatenated
        result), ``item_shape`` (None when it varies between parts), ``parts`` (how many parts
        hold it) and ``none_parts`` (how many batches had it as None).

    Raises
    ------
    FileNotFoundError
        ``path`` has no manifest.
    ValueError
        The manifest is unreadable or not that of a batchkit output this version can read.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     BatchWriter(tmp, run_id="run-1").close()
    ...     info = output_info(tmp)
    >>> info["run_id"], info["n_parts"], info["closed"]
    ('run-1', 0, True)
    """
    path = Path(path)
    file = path / MANIFEST
    try:
        text = file.read_text()
    except FileNotFoundError:
        what = "does not exist" if not path.exists() else f"has no {MANIFEST}"
        raise FileNotFoundError(
            f"{str(path)!r} {what}: it is not an output written by batchkit's BatchWriter"
        ) from None
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{str(file)!r} is not valid JSON ({error}); the output is damaged") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValueError(f"{str(file)!r} is not the manifest of a batchkit output")
    if manifest.get("version", 0) > VERSION:
        raise ValueError(
            f"{str(file)!r} has format version {manifest['version']}, newer than this batchkit "
            f"reads ({VERSION}); upgrade batchkit to read it"
        )
    return manifest


def _chosen_components(path: Path, manifest: dict, components) -> list[str]:
    known = list(manifest["components"])
    if components is None:
        return known
    if isinstance(components, str):
        components = [components]
    components = list(components)
    missing = [name for name in components if name not in manifest["components"]]
    if missing:
        raise ValueError(f"output {str(path)!r} has no component(s) {missing}; its components are {known}")
    return components


def _read_part(path: Path, number: int, names: list[str]) -> dict:
    file = path / _part_name(number)
    try:
        # allow_pickle: ragged components are object arrays (see BatchWriter). np.load is lazy:
        # only the arrays asked for below are read, and the file is closed before returning.
        with np.load(file, allow_pickle=True) as npz:
            part = {"indices": npz[_INDEX_KEY]}
            keys = set(npz.files)
            for name in names:
                key = _COMPONENT_PREFIX + name
                part[name] = npz[key] if key in keys else None
    except FileNotFoundError:
        raise FileNotFoundError(
            f"output {str(path)!r} is missing part {number} ({file.name}), which its manifest "
            "counts; the output is incomplete"
        ) from None
    return part


def iter_output(path, components: str | Sequence[str] | None = None) -> Iterator[dict]:
    """Yield the output at ``path`` one part (one written batch) at a time, in order.

    Each part is read only when the next one is asked for, so memory holds one part at a time.

    Parameters
    ----------
    path : str or path-like
        An output directory written by `BatchWriter`.
    components : str or sequence of str, optional
        The components to read; all of them by default.

    Yields
    ------
    dict
        ``"indices"``: the batch's index values, and one array per component (None where the
        batch had that component as None).

    Raises
    ------
    FileNotFoundError
        No manifest at ``path`` (raised at once), or a part is missing (raised when reached).
    ValueError
        A component that the output does not have (raised at once).

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from batchkit import Batch
    >>> class Values(Batch):
    ...     components = ("values",)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with BatchWriter(tmp) as writer:
    ...         _ = writer.write(Values.from_data(index=["a", "b"], data=np.array([1.0, 2.0])))
    ...         _ = writer.write(Values.from_data(index=["c"], data=np.array([3.0])))
    ...     parts = [part["indices"].tolist() for part in iter_output(tmp)]
    >>> parts
    [['a', 'b'], ['c']]
    """
    path = Path(path)
    manifest = output_info(path)
    names = _chosen_components(path, manifest, components)
    n_parts = manifest["n_parts"]

    # A separate generator, so that a bad path or component raises here and not at the first next().
    def parts() -> Iterator[dict]:
        for number in range(n_parts):
            yield _read_part(path, number, names)

    return parts()


def _as_objects(array: np.ndarray | None, n: int) -> np.ndarray:
    """A 1-D object array of the items of ``array`` (``n`` Nones when it is None)."""
    out = np.empty(n, dtype=object)
    if array is not None:
        for i in range(n):
            out[i] = array[i]
    return out


def _concatenate(pieces: list[np.ndarray | None], lengths: list[int]) -> np.ndarray | None:
    present = [piece for piece in pieces if piece is not None]
    if not present:
        return None
    if len(present) == len(pieces):
        item_shapes = {piece.shape[1:] for piece in present}
        if len(item_shapes) == 1 and all(piece.dtype != object for piece in present):
            try:
                return np.concatenate(present)
            except (TypeError, ValueError):
                pass  # dtypes that do not promote (say datetimes and floats): fall back to objects
    # Ragged, mixed or partly None: one object per item keeps the result aligned with the indices.
    return np.concatenate([_as_objects(piece, n) for piece, n in zip(pieces, lengths, strict=True)])


def read_output(path, components: str | Sequence[str] | None = None) -> dict:
    """Load the output at ``path``: every part's data, concatenated per component.

    Parameters
    ----------
    path : str or path-like
        An output directory written by `BatchWriter`.
    components : str or sequence of str, optional
        The components to load; all of them by default.

    Returns
    -------
    dict
        ``"indices"``: all index values in the order the parts were written, and for each
        component an array aligned with them. Parts of the same item shape are concatenated
        with numpy's usual dtype promotion; ragged or object data, or item shapes that differ
        between parts, give a 1-D object array of items. Items of a batch that had the component
        as None are None (in an object array); a component that was None in every batch is None.

    Raises
    ------
    FileNotFoundError
        No manifest at ``path``, or a part that the manifest counts is missing (checked before
        anything is loaded).
    ValueError
        A component that the output does not have.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from batchkit import Batch
    >>> class Shapes(Batch):
    ...     components = ("masks",)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with BatchWriter(tmp) as writer:
    ...         _ = writer.write(Shapes.from_data(data={"masks": [np.ones(2), np.ones(3)]}))
    ...     masks = read_output(tmp, "masks")["masks"]
    >>> masks.dtype, [len(mask) for mask in masks]
    (dtype('O'), [2, 3])
    """
    path = Path(path)
    manifest = output_info(path)
    names = _chosen_components(path, manifest, components)
    n_parts = manifest["n_parts"]
    missing = [number for number in range(n_parts) if not (path / _part_name(number)).is_file()]
    if missing:
        shown = ", ".join(_part_name(number) for number in missing[:5])
        raise FileNotFoundError(
            f"output {str(path)!r} is missing {len(missing)} of its {n_parts} parts ({shown}"
            f"{' ...' if len(missing) > 5 else ''}); the output is incomplete"
        )
    indices, lengths = [], []
    pieces: dict[str, list] = {name: [] for name in names}
    for part in iter_output(path, names):
        indices.append(part["indices"])
        lengths.append(len(part["indices"]))
        for name in names:
            pieces[name].append(part[name])
    if indices:
        result = {"indices": _concatenate(indices, lengths)}
    else:
        result = {"indices": np.empty(0, dtype=manifest.get("index_dtype") or "int64")}
    for name in names:
        result[name] = _concatenate(pieces[name], lengths)
    return result
