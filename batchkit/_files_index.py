"""`FilesIndex`: an index of files (or directories) found by glob patterns, keyed by base name."""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

from ._dataset_index import DatasetIndex
from ._index_values import as_values, warn_duplicates

__all__ = ["FilesIndex"]


def _file_key(path: str, no_ext: bool) -> str:
    name = os.path.basename(os.path.normpath(path))
    return os.path.splitext(name)[0] if no_ext else name


def _find_paths(patterns, dirs: bool) -> list[str]:
    """Paths matching the glob ``patterns`` (files, or directories if ``dirs``), each once.

    A pattern that matches nothing warns and adds nothing, as in batchflow.
    """
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    patterns = list(patterns)
    if not patterns:
        raise ValueError("'path' must hold at least one glob pattern (got [])")
    wanted = os.path.isdir if dirs else os.path.isfile
    found, seen = [], set()
    for pattern in patterns:
        pattern = os.path.expanduser(os.fspath(pattern))
        matches = [p for p in glob.glob(pattern, recursive=True) if wanted(p)]
        if not matches:
            warnings.warn(f"No items to index in {pattern}", UserWarning, stacklevel=3)
        for path in matches:
            norm = os.path.normpath(path)
            if norm not in seen:  # two patterns may match the same path
                seen.add(norm)
                found.append(path)
    return found


class FilesIndex(DatasetIndex):
    """An index of files (or directories) found by glob patterns; the values are their base names.

    Parameters
    ----------
    index : values, DatasetIndex or str, optional
        Values when built from known ``paths`` (or a FilesIndex, whose paths are kept). A lone
        str or path is taken as ``path``.
    path : str, os.PathLike or list of them
        Glob patterns; ``**`` matches any depth of directories.
    dirs : bool
        List directories instead of files.
    no_ext : bool
        Keys without the extension (``a.png`` gives ``a``).
    sort : bool
        Sort the keys (else the order is the glob's, which depends on the file system).
    paths : mapping, optional
        Key -> full path, with ``index``: every value needs a path.

    Raises
    ------
    ValueError
        ``path`` is an empty list, or two paths give the same key (both are named).

    Warns
    -----
    UserWarning
        A pattern matches nothing ("No items to index in ..."); if none matches, the index is
        empty.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("b.txt", "a.txt"):
    ...     _ = (root / name).write_text(name)
    >>> files = FilesIndex(path=str(root / "*.txt"), no_ext=True, sort=True)
    >>> files.indices.tolist(), files.get_fullpath("a") == str(root / "a.txt")
    (['a', 'b'], True)
    >>> import shutil; shutil.rmtree(root)
    """

    def __init__(self, index=None, path=None, dirs=False, no_ext=False, sort=False, paths=None):
        if isinstance(index, (str, os.PathLike)) and path is None:
            index, path = None, index
        self.dirs = bool(dirs)
        if path is not None:
            if index is not None or paths is not None:
                raise TypeError("FilesIndex takes path= (glob patterns) or index= with paths=, not both")
            by_key = {}
            for found in _find_paths(path, self.dirs):
                key = _file_key(found, no_ext)
                if key in by_key:
                    raise ValueError(
                        f"path collision: {by_key[key]!r} and {found!r} both give the key {key!r}; "
                        "narrow the patterns or keep extensions (no_ext=False)"
                    )
                by_key[key] = found
            keys = sorted(by_key) if sort else list(by_key)
            values = np.array(keys, dtype=str) if not keys else np.array(keys)
        elif index is not None:
            if paths is None and isinstance(index, FilesIndex):
                paths = index.paths
            if paths is None:
                raise TypeError("FilesIndex(index=...) needs paths= (a mapping of keys to full paths)")
            values = as_values(index, allow_empty=True)
            if sort:
                values = np.sort(values)
            by_key = paths
        else:
            raise TypeError("FilesIndex needs path= (glob patterns), or index= with paths=")
        self._set_values(values)
        warn_duplicates(values, "FilesIndex")
        self._paths = self._crop_paths(by_key)

    def _crop_paths(self, paths: Mapping) -> dict:
        try:
            return {key: paths[key] for key in self._indices.tolist()}
        except KeyError as error:
            raise KeyError(f"FilesIndex: no path for the value {error.args[0]!r}") from None

    def _adopt(self, sources) -> None:
        self.dirs = sources[0].dirs
        if len(sources) == 1:  # a batch or a subset: look its keys up (O(batch), not O(index))
            self._paths = self._crop_paths(sources[0]._paths)
            return
        merged = {}
        for source in sources:
            for key, path in getattr(source, "_paths", {}).items():
                if merged.setdefault(key, path) != path:
                    raise ValueError(
                        f"path collision: {merged[key]!r} and {path!r} both give the key {key!r}"
                    )
        self._paths = self._crop_paths(merged)

    @property
    def paths(self) -> Mapping:
        """Key -> full path, for every value (read-only)."""
        return MappingProxyType(self._paths)

    def get_fullpath(self, key) -> str:
        """The full path of the file (or directory) with key ``key``."""
        try:
            return self._paths[key.item() if isinstance(key, np.generic) else key]
        except (KeyError, TypeError):
            raise KeyError(f"{key!r} is not a key of this FilesIndex") from None
