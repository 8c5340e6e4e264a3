"""Dataset indices: the item values of a dataset, how to split them, and how to cut them into batches.

`DatasetIndex` holds any 1-D set of values (ints, strings, ...); `FilesIndex` holds
the base names of files found by glob patterns, with their full paths. `IterationPlan`
is the order of batches over ``n`` items, shared by indices, datasets and pipelines.
"""

from __future__ import annotations

import glob
import itertools
import math
import numbers
import os
import warnings
from collections.abc import Iterable, Mapping
from types import MappingProxyType

import numpy as np

from ._iteration import (
    IterationPlan,
    _BatchCursor,
    _check_reset_what,
    _is_int,
    _is_shuffled,
    keyword_only_after_batch_size,
)
from .rng import make_rng

__all__ = ["DatasetIndex", "FilesIndex", "IterationPlan"]


# -- indices ----------------------------------------------------------------------------------------


def _as_values(index) -> np.ndarray:
    """A 1-D array of index values from anything `DatasetIndex` accepts."""
    if callable(index) and not isinstance(index, DatasetIndex):
        index = index()
    if isinstance(index, DatasetIndex):
        return index.indices.copy()
    if _is_int(index):
        if index < 1:
            raise ValueError(f"an index needs at least one item (got {index})")
        return np.arange(index)
    if isinstance(index, (str, bytes, bool, np.bool_, float)) or index is None:
        raise TypeError(
            f"an index is built from an int, a 1-D sequence or array, an index or a callable "
            f"(got {type(index).__name__} {index!r})"
        )
    if not hasattr(index, "__len__") and isinstance(index, Iterable):
        index = list(index)
    values = np.array(index)  # a copy: the index must not change under its position map
    if values.ndim != 1:
        raise TypeError(f"an index must be 1-D (got an array of shape {values.shape})")
    if len(values) == 0:
        raise ValueError("an index needs at least one item (got an empty sequence)")
    return values


def _warn_duplicates(values: np.ndarray, what: str) -> None:
    n_unique = len(set(values.tolist()))
    if n_unique != len(values):
        warnings.warn(
            f"{what} has {len(values) - n_unique} duplicate value(s); get_pos finds the first of each",
            UserWarning,
            stacklevel=3,
        )


def _is_scalar_value(value) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return not isinstance(value, Iterable)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _split_shares(shares) -> tuple[float, ...]:
    """``shares`` as (train, test[, validation]) fractions, checked."""
    if isinstance(shares, numbers.Real) and not isinstance(shares, (bool, np.bool_)):
        shares = (float(shares), 1.0 - float(shares))
    else:
        shares = tuple(float(s) for s in shares)
    if len(shares) not in (2, 3) or any(s < 0 for s in shares) or sum(shares) > 1 + 1e-9:
        raise ValueError(
            f"split shares must be a fraction in [0, 1] or 2 or 3 non-negative fractions "
            f"(train, test[, validation]) summing to at most 1 (got {shares})"
        )
    return shares


class DatasetIndex:
    """The values that identify a dataset's items, in order.

    Parameters
    ----------
    index : int, 1-D sequence or array, DatasetIndex or callable
        An int ``n`` gives ``0..n-1``; a sequence or array gives its values (copied); another
        index gives a copy of its values; a callable is called and its result used.

    Attributes
    ----------
    indices : numpy.ndarray
        The values, read-only.
    train, test, validation : DatasetIndex or None
        Parts set by `split` (None before, or when a part is empty).

    Raises
    ------
    ValueError
        The index is empty.
    TypeError
        The values are not 1-D.

    Warns
    -----
    UserWarning
        The values repeat.

    Examples
    --------
    >>> index = DatasetIndex(["a", "b", "c", "d"])
    >>> len(index), index.get_pos("c"), "e" in index
    (4, 2, False)
    >>> [batch.indices.tolist() for batch in index.gen_batch(3, n_epochs=2)]
    [['a', 'b', 'c'], ['d', 'a', 'b'], ['c', 'd']]
    """

    def __init__(self, index):
        self._set_values(_as_values(index))
        _warn_duplicates(self._indices, type(self).__name__)

    def _set_values(self, values: np.ndarray) -> None:
        values.setflags(write=False)
        self._indices = values
        self._pos = None
        self.train = self.test = self.validation = None
        self._cursor = _BatchCursor()

    def _derive(self, values: np.ndarray, sources=()) -> DatasetIndex:
        """A new index of this class holding ``values`` (not checked), e.g. a batch or a subset.

        It skips ``__init__`` (a subclass may need other arguments); `_adopt` copies what
        the subclass keeps besides the values.
        """
        new = type(self).__new__(type(self))
        new._set_values(values)
        new._adopt(sources or (self,))
        return new

    def _adopt(self, sources) -> None:
        """Hook for subclasses: take what belongs with the values from the ``sources`` indices."""

    # -- values and positions ---------------------------------------------------------------------

    @property
    def indices(self) -> np.ndarray:
        """The index values, in order (a read-only array)."""
        return self._indices

    @property
    def size(self) -> int:
        """The number of values."""
        return len(self._indices)

    def __len__(self) -> int:
        return len(self._indices)

    def __iter__(self):
        return iter(self._indices)

    def __contains__(self, value) -> bool:
        try:
            return value in self._positions()
        except TypeError:  # an unhashable value is in no index
            return False

    def _positions(self) -> dict:
        # Built on first use: value -> position of its first occurrence (reversed, so the first wins).
        if self._pos is None:
            keys = self._indices.tolist()
            self._pos = dict(zip(reversed(keys), range(len(keys) - 1, -1, -1), strict=True))
        return self._pos

    def _pos_of(self, value) -> int:
        try:
            return self._positions()[value]
        except (KeyError, TypeError):
            raise KeyError(f"{value!r} is not a value of this {type(self).__name__}") from None

    def get_pos(self, index):
        """Positions of index values.

        Parameters
        ----------
        index : value, slice or iterable of values
            A value gives its position (an int). A slice of values gives the slice of positions
            from ``start``'s position up to, not including, ``stop``'s (None keeps an end open;
            ``step`` is kept). An iterable gives an array of positions.

        Raises
        ------
        KeyError
            A value is not in the index.

        Examples
        --------
        >>> index = DatasetIndex([10, 20, 30, 40])
        >>> index.get_pos(30), index.get_pos([40, 10]).tolist(), index.get_pos(slice(20, 40))
        (2, [3, 0], slice(1, 3, None))
        """
        if isinstance(index, slice):
            start = None if index.start is None else self._pos_of(index.start)
            stop = None if index.stop is None else self._pos_of(index.stop)
            return slice(start, stop, index.step)
        if _is_scalar_value(index):
            return self._pos_of(index.item() if isinstance(index, np.ndarray) else index)
        if isinstance(index, DatasetIndex):
            index = index.indices
        values = index.tolist() if isinstance(index, np.ndarray) else list(index)
        return np.array([self._pos_of(value) for value in values], dtype=np.intp)

    def subset_by_pos(self, pos) -> np.ndarray:
        """The values at positions ``pos`` (an int, a slice or an array of positions)."""
        return self._indices[pos]

    def create_subset(self, index) -> DatasetIndex:
        """A new index of the same class with the values ``index`` (values, or another index).

        A `FilesIndex` subset keeps the paths of its values.
        """
        values = _as_values(index)
        _warn_duplicates(values, f"the subset of {type(self).__name__}")
        return self._derive(values)

    def create_batch(self, index, pos=True, as_array=False):
        """A batch of this index: an index of the same class (or, ``as_array``, an array of values).

        Parameters
        ----------
        index : positions, values or DatasetIndex
            Positions in this index when ``pos`` (an int array, a list or a slice), else values
            (each must be in the index). A DatasetIndex gives its values.
        pos : bool
            Whether ``index`` holds positions.
        as_array : bool
            Return the array of values instead of an index.

        Examples
        --------
        >>> index = DatasetIndex([10, 20, 30, 40])
        >>> index.create_batch([3, 1]).indices.tolist(), index.create_batch([20], pos=False).indices.tolist()
        ([40, 20], [20])
        """
        if isinstance(index, DatasetIndex):
            values = index.indices
        elif pos:
            if not isinstance(index, slice):
                index = np.asarray(index, dtype=np.intp).reshape(-1)
            values = self._indices[index]
        else:
            values = np.atleast_1d(self._indices[self.get_pos(index)])
        if as_array:
            return values
        # A slice gives a view of this index's array: the batch gets its own values.
        return self._derive(np.array(values) if values.base is self._indices else values)

    # -- splits -------------------------------------------------------------------------------------

    def split(self, shares=0.8, shuffle=False) -> None:
        """Cut the index into ``train``, ``test`` and ``validation`` parts (set as attributes).

        Parameters
        ----------
        shares : float or sequence of 2 or 3 floats
            A float is the train share, the rest is the test share. A sequence gives the train,
            test and (optional) validation shares; they may sum to less than 1, the rest being
            left out. Part boundaries are rounded half up: train gets ``round(n * train)`` items,
            test the items up to ``round(n * (train + test))``, validation up to
            ``round(n * (train + test + validation))``. An empty part is None.
        shuffle : bool, int, SeedSequence, Generator or RandomState
            ``False`` splits in index order; anything else permutes the items first, as in
            `IterationPlan` (an int seed splits the same way every run).

        Examples
        --------
        >>> index = DatasetIndex(10)
        >>> index.split([0.6, 0.2, 0.2])
        >>> len(index.train), len(index.test), len(index.validation)
        (6, 2, 2)
        """
        fractions = _split_shares(shares)
        n = len(self)
        order = make_rng(shuffle).permutation(n) if _is_shuffled(shuffle) else np.arange(n)
        bounds = [0]
        total = 0.0
        for share in fractions:
            total += share
            bounds.append(min(n, _round_half_up(n * total)))
        parts = [order[start:stop] for start, stop in itertools.pairwise(bounds)]
        parts += [order[:0]] * (3 - len(parts))
        self.train, self.test, self.validation = (
            self.create_batch(part) if len(part) else None for part in parts
        )

    # -- batches ----------------------------------------------------------------------------------

    @keyword_only_after_batch_size
    def gen_batch(self, batch_size, *, shuffle=False, n_iters=None, n_epochs=None, drop_last=False):
        """Yield batches (indices of the same class) as `IterationPlan` orders them.

        Parameters
        ----------
        batch_size, shuffle, n_iters, n_epochs, drop_last
            As for `IterationPlan`; with neither ``n_iters`` nor ``n_epochs``, one epoch. Every
            argument after ``batch_size`` is keyword-only.

        Examples
        --------
        >>> [b.indices.tolist() for b in DatasetIndex(4).gen_batch(3, n_iters=3)]
        [[0, 1, 2], [3, 0, 1], [2, 3, 0]]
        """
        plan = IterationPlan(
            len(self), batch_size, shuffle=shuffle, n_iters=n_iters, n_epochs=n_epochs, drop_last=drop_last
        )
        for positions in plan:
            yield self.create_batch(positions)

    @keyword_only_after_batch_size
    def next_batch(self, batch_size, *, shuffle=False, n_iters=None, n_epochs=None, drop_last=False):
        """The next batch of a running iteration (arguments as for `gen_batch`).

        The iteration state lives between calls. A call whose arguments differ from the running
        ones starts a new iteration with them; `reset` starts over.

        Raises
        ------
        StopIteration
            The iteration is done (until `reset` or a call with other arguments).

        Examples
        --------
        >>> index = DatasetIndex(5)
        >>> index.next_batch(2).indices.tolist(), index.next_batch(2).indices.tolist()
        ([0, 1], [2, 3])
        >>> index.next_batch(3).indices.tolist()  # other arguments: a new iteration
        [0, 1, 2]
        """
        positions = self._cursor.next_positions(
            len(self),
            batch_size=batch_size,
            shuffle=shuffle,
            n_iters=n_iters,
            n_epochs=n_epochs,
            drop_last=drop_last,
        )
        return self.create_batch(positions)

    def reset(self, what="iter") -> None:
        """Forget the running `next_batch` iteration (``what``: ``'iter'`` or ``'all'``)."""
        _check_reset_what(what)
        self._cursor.reset()

    # -- other -------------------------------------------------------------------------------------

    def __add__(self, other):
        """The concatenation of two indices (of this index's class); warns on duplicate values."""
        if not isinstance(other, DatasetIndex):
            return NotImplemented
        values = np.concatenate([self._indices, other.indices])
        _warn_duplicates(values, f"the sum of two {type(self).__name__} objects")
        return self._derive(values, sources=(self, other))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_pos"] = None  # rebuilt on demand
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        if self._indices.flags.writeable:
            self._indices.setflags(write=False)

    def __repr__(self) -> str:
        shown = np.array2string(self._indices, threshold=8, edgeitems=3, separator=", ")
        return f"{type(self).__name__}({shown}, len={len(self)})"


# -- files -------------------------------------------------------------------------------------------


def _file_key(path: str, no_ext: bool) -> str:
    name = os.path.basename(os.path.normpath(path))
    return os.path.splitext(name)[0] if no_ext else name


def _find_paths(patterns, dirs: bool) -> list[str]:
    """Paths matching the glob ``patterns`` (files, or directories if ``dirs``), each once."""
    if isinstance(patterns, (str, os.PathLike)):
        patterns = [patterns]
    wanted = os.path.isdir if dirs else os.path.isfile
    found, seen = [], set()
    for pattern in patterns:
        pattern = os.path.expanduser(os.fspath(pattern))
        matches = [p for p in glob.glob(pattern, recursive=True) if wanted(p)]
        if not matches:
            kind = "directories" if dirs else "files"
            raise ValueError(f"no {kind} match the pattern {pattern!r}")
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
        A pattern matches nothing, or two paths give the same key (both are named).

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
            values = np.array(keys)
        elif index is not None:
            if paths is None and isinstance(index, FilesIndex):
                paths = index.paths
            if paths is None:
                raise TypeError("FilesIndex(index=...) needs paths= (a mapping of keys to full paths)")
            values = _as_values(index)
            if sort:
                values = np.sort(values)
            by_key = paths
        else:
            raise TypeError("FilesIndex needs path= (glob patterns), or index= with paths=")
        self._set_values(values)
        _warn_duplicates(values, "FilesIndex")
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
