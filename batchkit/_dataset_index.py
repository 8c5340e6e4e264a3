"""`DatasetIndex`: the values that identify a dataset's items, their positions, splits and batches."""

from __future__ import annotations

import math

import numpy as np

from ._index_values import as_values, is_scalar_value, warn_duplicates
from ._iteration import IterationPlan, _check_reset_what, _is_shuffled, keyword_only_after_batch_size
from ._splits import calc_split, split_positions
from ._stream import BatchStream
from .rng import order_source

__all__ = ["DatasetIndex"]


class DatasetIndex:
    """The values that identify a dataset's items, in order.

    Parameters
    ----------
    index : int, 1-D sequence or array, DatasetIndex or callable
        An int ``n`` gives ``0..n-1``; a sequence or array gives its values (copied); another
        index gives a copy of its values; a callable is called and its result used.

    Attributes
    ----------
    indices, index : numpy.ndarray
        The values, read-only (``index`` is batchflow's name).
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
        self._set_values(as_values(index))
        warn_duplicates(self._indices, type(self).__name__)

    def _set_values(self, values: np.ndarray) -> None:
        values.setflags(write=False)
        self._indices = values
        self._pos = None
        self.train = self.test = self.validation = None
        self._stream = BatchStream()

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
    def index(self) -> np.ndarray:
        """The index values, in order (batchflow's name for `indices`)."""
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
        if is_scalar_value(index):
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

        A `FilesIndex` subset keeps the paths of its values. The values need not be in this index
        (as in batchflow); `Dataset.create_subset` checks that they are.
        """
        values = as_values(index)
        warn_duplicates(values, f"the subset of {type(self).__name__}")
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

    def calc_split(self, shares=0.8) -> tuple[int, int, int]:
        """``(n_train, n_test, n_validation)``: how many items a `split` with ``shares`` gives each part.

        The counts sum to ``len(self)``: test and validation are rounded from their shares
        (numpy's rounding), train takes the rest. See `batchkit._splits.calc_split` for the rules.

        Raises
        ------
        ValueError
            More than three shares, shares summing to more than 1, or fewer items than subsets.

        Examples
        --------
        >>> DatasetIndex(10).calc_split([0.5, 0.3, 0.1])
        (5, 3, 2)
        """
        return calc_split(len(self), shares)

    def shuffle(self, shuffle) -> np.ndarray:
        """A permutation of the positions ``0..n-1``.

        Parameters
        ----------
        shuffle : bool, None, int, SeedSequence, Generator or RandomState
            ``False``: ``arange(n)``; ``True`` or ``None``: random; a seed, ``SeedSequence`` or
            ``Generator``: drawn from ``make_rng(shuffle)`` (the same order as batchflow for the
            same seed); a ``RandomState``: its own ``permutation``.

        Examples
        --------
        >>> DatasetIndex(10).shuffle(42).tolist()
        [8, 9, 1, 3, 6, 4, 5, 0, 7, 2]
        """
        n = len(self)
        return order_source(shuffle).permutation(n) if _is_shuffled(shuffle) else np.arange(n)

    def split(self, shares=0.8, shuffle=False) -> None:
        """Cut the index into ``train``, ``test`` and ``validation`` parts (set as attributes).

        Every item lands in exactly one part, with the counts of `calc_split`. The parts are cut
        from the order (``self.shuffle(shuffle)``) validation first, then test, then train, as
        batchflow cuts them. An empty part is None.

        Parameters
        ----------
        shares : float or sequence of up to 3 floats
            As for `calc_split`.
        shuffle : bool, None, int, SeedSequence, Generator or RandomState
            As for `shuffle`: ``False`` splits in index order.

        Examples
        --------
        >>> index = DatasetIndex(10)
        >>> index.split([0.6, 0.25])
        >>> index.train.indices.tolist(), index.test.indices.tolist(), index.validation.indices.tolist()
        ([4, 5, 6, 7, 8, 9], [2, 3], [0, 1])
        """
        counts = self.calc_split(shares)
        parts = split_positions(self.shuffle(shuffle), counts)
        self.train, self.test, self.validation = (
            self.create_batch(part) if len(part) else None for part in parts
        )

    # -- batches ----------------------------------------------------------------------------------

    @keyword_only_after_batch_size
    def gen_batch(
        self,
        batch_size,
        *,
        shuffle=False,
        n_iters=None,
        n_epochs=None,
        drop_last=False,
        notifier=False,
        bar=None,
    ):
        """Yield batches (indices of the same class) as `IterationPlan` orders them.

        Each call is an iteration of its own (`next_batch`'s stream is not touched).

        Parameters
        ----------
        batch_size, shuffle, n_iters, n_epochs, drop_last
            As for `IterationPlan`. With neither ``n_iters`` nor ``n_epochs``, batches never stop
            (epochs follow one another, reshuffled each epoch when shuffling), as in batchflow.
            Every argument after ``batch_size`` is keyword-only.
        notifier, bar : Notifier, "t", "n", "a", True or dict, optional
            A progress bar over the batches, as for `Pipeline.run` (see `Notifier`).

        Examples
        --------
        >>> batches = DatasetIndex(4).gen_batch(3)
        >>> [next(batches).indices.tolist() for _ in range(3)]
        [[0, 1, 2], [3, 0, 1], [2, 3, 0]]
        >>> [b.indices.tolist() for b in DatasetIndex(4).gen_batch(3, n_epochs=1)]
        [[0, 1, 2], [3]]
        """
        if n_iters is None and n_epochs is None:  # no limit: batchflow's endless stream
            n_iters = math.inf
        plan = IterationPlan(
            len(self), batch_size, shuffle=shuffle, n_iters=n_iters, n_epochs=n_epochs, drop_last=drop_last
        )
        from .notifier import notified

        batches = (self.create_batch(positions) for positions in plan)
        yield from notified(batches, notifier, bar, plan.n_batches)

    @keyword_only_after_batch_size
    def next_batch(self, batch_size, *, shuffle=False, n_iters=None, n_epochs=None, drop_last=False):
        """The next batch of the index's running stream (see `batchkit._stream`).

        Successive calls form one stream, epoch after epoch, until ``reset("iter")``; each call
        takes its own ``batch_size``, ``shuffle`` and limits: ``n_iters`` counts every batch the
        stream has given, ``n_epochs`` ends the stream with that epoch (the batch that crosses
        the end is cut short there). With neither, batches never stop.

        Raises
        ------
        StopIteration
            The call's limit is reached (until `reset`).

        Examples
        --------
        >>> index = DatasetIndex(5)
        >>> index.next_batch(2).indices.tolist(), index.next_batch(2).indices.tolist()
        ([0, 1], [2, 3])
        >>> index.next_batch(3).indices.tolist()  # the stream goes on into the next epoch
        [4, 0, 1]
        >>> index.reset("iter")
        >>> index.next_batch(2, n_epochs=1).indices.tolist()
        [0, 1]
        """
        positions = self._stream.next_positions(
            len(self), batch_size, shuffle=shuffle, n_iters=n_iters, n_epochs=n_epochs, drop_last=drop_last
        )
        return self.create_batch(positions)

    def reset(self, what="iter") -> None:
        """Start the `next_batch` stream over (``what``: ``'iter'`` or ``'all'``)."""
        _check_reset_what(what)
        self._stream.reset()

    # -- other -------------------------------------------------------------------------------------

    def __add__(self, other):
        """The concatenation of two indices (of this index's class); warns on duplicate values."""
        if not isinstance(other, DatasetIndex):
            return NotImplemented
        values = np.concatenate([self._indices, other.indices])
        warn_duplicates(values, f"the sum of two {type(self).__name__} objects")
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
