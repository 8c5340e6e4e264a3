"""Reading an output back: its manifest (`output_info`), its parts one at a time
(`iter_output`), or all of it concatenated per component (`read_output`).

Only what the manifest counts is read; parts it does not count and temporary files are
ignored (see `batchkit.store`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from ._format import _COMPONENT_PREFIX, _INDEX_KEY, FORMAT, MANIFEST, VERSION, _part_name

__all__ = ["iter_output", "output_info", "read_output"]


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
    >>> from batchkit import BatchWriter
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
    >>> from batchkit import Batch, BatchWriter
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
    >>> from batchkit import Batch, BatchWriter
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
