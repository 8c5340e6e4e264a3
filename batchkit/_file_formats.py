"""``Batch.load``'s sources: data in memory, or files (npz archives and csv, feather or parquet tables).

A file is read into memory in one of two shapes: an npz archive as a dict of arrays by name, a
table as a pandas DataFrame. `read_items` reads one file per item of a batch, named by the
batch's `FilesIndex`, and gathers each name's values over the items. `load_into` chooses the
source and hands it to `batchkit._loading`, the one path every loading takes.
"""

from __future__ import annotations

import os

import numpy as np

from ._loading import _as_array_or_list, crop, put

__all__ = ["FORMATS", "check_format", "load_into", "read_file", "read_items"]

#: The formats ``Batch.load`` reads; the tables need pandas (feather and parquet also pyarrow).
FORMATS = ("npz", "csv", "feather", "parquet")


def check_format(fmt) -> str:
    """``fmt`` if it is a supported format, else a ValueError listing them.

    >>> check_format("csv")
    'csv'
    """
    if fmt not in FORMATS:
        raise ValueError(f"'fmt' must be None (data in memory) or one of {list(FORMATS)} (got {fmt!r})")
    return fmt


def _pandas(fmt: str):
    try:
        import pandas
    except ImportError:
        raise ImportError(f"load(fmt={fmt!r}) reads tables with pandas: pip install pandas") from None
    return pandas


def read_file(path, fmt: str, *args, **kwargs):
    """The content of one file: a dict of arrays (npz) or a DataFrame (csv, feather, parquet)."""
    check_format(fmt)
    path = os.fspath(path)
    if fmt == "npz":
        with np.load(path, *args, **kwargs) as archive:
            return {name: archive[name] for name in archive.files}
    pandas = _pandas(fmt)
    reader = {"csv": pandas.read_csv, "feather": pandas.read_feather, "parquet": pandas.read_parquet}[fmt]
    return reader(path, *args, **kwargs)


def _as_named_values(content) -> dict:
    """A file's values by name: an archive's arrays, or a table's columns (one-row tables: the values)."""
    if isinstance(content, dict):
        return content
    if len(content) == 1:
        return {name: content[name].iloc[0] for name in content.columns}
    return {name: content[name].to_numpy() for name in content.columns}


def read_items(batch, fmt: str, *args, **kwargs) -> dict:
    """Each name's values over the batch's items, one file per item, from the batch's FilesIndex.

    Raises
    ------
    TypeError
        The batch's index has no file paths (it is not a `FilesIndex`).
    KeyError
        A file lacks a name the first file has.
    """
    index = batch.index
    if not hasattr(index, "get_fullpath"):
        raise TypeError(
            f"load(fmt={fmt!r}) without src reads one file per item from the batch's FilesIndex, but this "
            f"batch's index is a {type(index).__name__}; pass src= (a file) or make the dataset "
            "on a FilesIndex"
        )
    gathered: dict[str, list] = {}
    for value in batch.indices.tolist():
        path = index.get_fullpath(value)
        named = _as_named_values(read_file(path, fmt, *args, **kwargs))
        if not gathered:
            gathered = {name: [] for name in named}
        for name, values in gathered.items():
            if name not in named:
                raise KeyError(f"{path!r} has no {name!r}, which the batch's first file has")
            values.append(named[name])
    return {name: _as_array_or_list(values) for name, values in gathered.items()}


def load_into(batch, args, src, fmt, dst, kwargs):
    """The body of ``Batch.load``: read or take the source, crop it by index value, put it by ``dst``."""
    if fmt is None:
        if src is None:
            raise TypeError("load needs src= (data in memory) or fmt= (files to read)")
        if args or kwargs:
            raise TypeError(
                f"load(fmt=None) reads no files, so it takes no other arguments (got {args}, {kwargs})"
            )
        source = src
    elif src is None:
        put(batch, read_items(batch, check_format(fmt), *args, **kwargs), dst)
        return batch
    else:
        source = read_file(src, check_format(fmt), *args, **kwargs)
    # A dict's keys that are no component are not read (unless dst names them).
    put(batch, crop(source, batch.indices, components=None if dst else batch.components), dst)
    return batch
