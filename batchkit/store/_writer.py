"""`BatchWriter`: write each batch of a run to an output directory as it finishes.

Opening checks what the directory holds against the mode (new, append to the same run,
overwrite); `write` stores a part and then the manifest, each atomically; `state` and
`roll_back` let a journal put the output back to what it recorded (see `batchkit.store`).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._format import (
    _COMPONENT_PREFIX,
    _INDEX_KEY,
    _RAW_DATA,
    _STATE_KEYS,
    FORMAT,
    MANIFEST,
    VERSION,
    _as_array,
    _atomic_write,
    _fsync_directory,
    _is_own_file,
    _now,
    _part_name,
    _promote,
)
from ._readers import output_info

__all__ = ["BatchWriter"]

MODES = ("new", "append", "overwrite")


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
    >>> from batchkit import Batch, output_info, read_output
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
