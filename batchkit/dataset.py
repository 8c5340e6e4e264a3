"""``Dataset``: an index, a batch class and (optionally) data in memory, cut into batches on demand."""

from __future__ import annotations

import copy as copying
import math

import numpy as np

from ._iteration import IterationPlan, _check_reset_what, keyword_only_after_batch_size
from ._loading import check_preloaded, crop
from ._stream import BatchStream
from .batch import Batch
from .index import DatasetIndex, ValuesNotFoundError

__all__ = ["Dataset"]


def _cv_names(holder) -> list[str]:
    """The names of the ``cvN`` folds set on ``holder`` by `Dataset.cv_split`."""
    return [name for name in vars(holder) if name.startswith("cv") and name[2:].isdigit()]


class Dataset:
    """An index of items, the batch class to build, and (optionally) data already in memory.

    Parameters
    ----------
    index : DatasetIndex or anything DatasetIndex accepts
        The items (an int ``n`` gives ``0..n-1``). An index object is used as is.
    batch_class : type
        A `Batch` subclass (or ``Batch``) that batches are made of.
    preloaded : array, tuple, list, dict or pandas DataFrame, optional
        Data for the items, given to each batch cropped to its items:

        - an array (or any object indexed by an array of positions): row ``i`` belongs to the
          ``i``-th index value, whatever the values are;
        - a tuple or list: one such object per component, in the batch class's order (more
          than the class declares is an error);
        - a dict: one per component, by name; keys that are not components are ignored (a
          dict naming no component at all is an error). A component given as a dict keyed by
          index value is looked up by value;
        - a pandas DataFrame: rows are found by index value (``.loc``). If the batch class
          declares components that are columns, each batch gets those columns as arrays (other
          components stay empty); otherwise the DataFrame rows are the batch's raw data (or the
          data of its single component). A pandas Series inside a tuple or dict becomes an
          array; a DataFrame there stays a DataFrame.

        Batches, subsets and splits share it: nothing is copied until a batch is made. The
        crop goes the way of `Batch.load`'s (one loading path), except that arrays are read by
        position rather than by value. Anything else is an error naming the component and
        what is accepted.
    copy : bool
        Deep-copy each batch's crop (it is already a copy for arrays and pandas objects).
    **attrs
        Set as attributes of the dataset.

    Examples
    --------
    >>> import numpy as np
    >>> class Pairs(Batch):
    ...     components = ("images", "labels")
    >>> ds = Dataset(np.arange(100, 110), Pairs, preloaded=(np.zeros((10, 2)), np.arange(10) * 2))
    >>> batch = ds.create_batch([103, 101])
    >>> batch.labels.tolist()
    [6, 2]
    >>> [len(b) for b in ds.gen_batch(4, n_epochs=1)]
    [4, 4, 2]
    """

    def __init__(self, index, batch_class=Batch, preloaded=None, copy=False, **attrs):
        if not (isinstance(batch_class, type) and issubclass(batch_class, Batch)):
            raise TypeError(f"batch_class must be Batch or a subclass of it (got {batch_class!r})")
        self.index = self.build_index(index)
        check_preloaded(preloaded, len(self.index), batch_class)
        self.batch_class = batch_class
        self.preloaded = preloaded
        self.copy = copy
        # preloaded rows follow this index's positions: subsets keep it to find their rows.
        self._data_index = self.index
        self._stream = BatchStream()
        self.train = self.test = self.validation = None
        for name, value in attrs.items():
            if hasattr(type(self), name):
                raise ValueError(f"{name!r} is a Dataset attribute or method; choose another attribute name")
            setattr(self, name, value)

    # -- the index --------------------------------------------------------------------------------

    @staticmethod
    def build_index(index) -> DatasetIndex:
        """A `DatasetIndex` from an int, a sequence or a callable; an index is returned as is.

        Examples
        --------
        >>> Dataset.build_index(3).indices.tolist(), Dataset.build_index(lambda: [7, 8]).indices.tolist()
        ([0, 1, 2], [7, 8])
        >>> index = DatasetIndex(4)
        >>> Dataset.build_index(index) is index
        True
        """
        return index if isinstance(index, DatasetIndex) else DatasetIndex(index)

    @property
    def indices(self) -> np.ndarray:
        """The index values."""
        return self.index.indices

    @property
    def size(self) -> int:
        """The number of items."""
        return len(self.index)

    def __len__(self) -> int:
        return len(self.index)

    @property
    def data(self):
        """The preloaded data, as given."""
        return self.preloaded

    # -- batches ------------------------------------------------------------------------------------

    def create_batch(self, index, pos=False, **kwargs):
        """A ``batch_class`` instance of the given items, holding their part of ``preloaded``.

        Parameters
        ----------
        index : values, positions or DatasetIndex
            Index values (positions in this dataset's index if ``pos``); a DatasetIndex gives
            its values.
        pos : bool
            Whether ``index`` holds positions.
        **kwargs
            Passed on to the batch class.

        Raises
        ------
        KeyError
            A value is not in the dataset.
        """
        batch_index = self.index.create_batch(index, pos=pos)
        part = None
        if self.preloaded is not None:
            values = batch_index.indices
            if pos and not isinstance(index, DatasetIndex) and self._data_index is self.index:
                # Positions in the index are positions in the data: no lookup needed.
                if isinstance(index, slice):
                    positions = np.arange(*index.indices(len(self.index)))
                else:
                    positions = np.asarray(index, dtype=np.intp).reshape(-1)
            else:
                positions = self._data_index.get_pos(values)
            part = crop(self.preloaded, values, positions, self.batch_class.components)
        if self.copy:  # only when asked: a batch class may have its own __init__ without ``copy``
            kwargs = {"copy": True, **kwargs}
        # The same loading path as Batch.load, rows found by position here (see batchkit._loading).
        return self.batch_class(batch_index, dataset=self, preloaded=part, **kwargs)

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
        **kwargs,
    ):
        """Yield batches in the order of an `IterationPlan`.

        Parameters
        ----------
        batch_size, shuffle, n_iters, n_epochs, drop_last
            As for `DatasetIndex.gen_batch`: with neither ``n_iters`` nor ``n_epochs`` (None),
            batches never stop, as in batchflow. Every argument after ``batch_size`` is
            keyword-only.
        notifier, bar : Notifier, "t", "n", "a", True or dict, optional
            A progress bar over the batches, as for `Pipeline.run` (see `Notifier`).
        **kwargs
            Passed on to `create_batch`.

        Examples
        --------
        >>> batches = Dataset(3).gen_batch(2)
        >>> [next(batches).indices.tolist() for _ in range(3)]
        [[0, 1], [2, 0], [1, 2]]
        """
        if n_iters is None and n_epochs is None:
            n_iters = math.inf
        plan = IterationPlan(
            len(self), batch_size, shuffle=shuffle, n_iters=n_iters, n_epochs=n_epochs, drop_last=drop_last
        )
        from .notifier import notified

        batches = (self.create_batch(positions, pos=True, **kwargs) for positions in plan)
        yield from notified(batches, notifier, bar, plan.n_batches)

    @keyword_only_after_batch_size
    def next_batch(
        self, batch_size, *, shuffle=False, n_iters=None, n_epochs=None, drop_last=False, **kwargs
    ):
        """The next batch of the dataset's running stream (as `DatasetIndex.next_batch`).

        Successive calls form one stream until ``reset("iter")``, each with its own
        ``batch_size``, ``shuffle`` and limits; with neither limit, batches never stop.
        ``kwargs`` go to `create_batch` on every call. The dataset's stream is its own, not its
        index's.

        Raises
        ------
        StopIteration
            The call's limit is reached (until `reset`).
        """
        positions = self._stream.next_positions(
            len(self), batch_size, shuffle=shuffle, n_iters=n_iters, n_epochs=n_epochs, drop_last=drop_last
        )
        return self.create_batch(positions, pos=True, **kwargs)

    def reset(self, what="iter") -> None:
        """Forget the running `next_batch` iteration (``what``: ``'iter'`` or ``'all'``)."""
        _check_reset_what(what)
        self._stream.reset()

    # -- subsets --------------------------------------------------------------------------------------

    def create_subset(self, index):
        """A dataset of some of these items: same class, batch class, attributes and preloaded data.

        Parameters
        ----------
        index : DatasetIndex or values
            The subset's items; every value must be in this dataset.

        Raises
        ------
        ValuesNotFoundError
            Some values are not in the dataset (an `IndexError`, as in batchflow, and a
            `KeyError`); the message names them.

        Examples
        --------
        >>> ds = Dataset([10, 20, 30])
        >>> ds.create_subset([30, 10]).indices.tolist()
        [30, 10]
        """
        if not isinstance(index, DatasetIndex):
            index = self.index.create_subset(index)
        missing = [value for value in index.indices.tolist() if value not in self.index]
        if missing:
            shown = missing[:5] + (["..."] if len(missing) > 5 else [])
            raise ValuesNotFoundError(
                f"'index' must hold values of this dataset (got {len(missing)} that are not: {shown})"
            )
        subset = copying.copy(self)
        subset.index = index
        subset._stream = BatchStream()
        subset.train = subset.test = subset.validation = None
        for name in _cv_names(subset):
            delattr(subset, name)
        return subset

    @classmethod
    def from_dataset(cls, dataset, index, batch_class=None, copy=False):
        """A subset of ``dataset`` with ``index``, optionally with another batch class."""
        subset = dataset.create_subset(index)
        if batch_class is not None:
            if not (isinstance(batch_class, type) and issubclass(batch_class, Batch)):
                raise TypeError(f"batch_class must be Batch or a subclass of it (got {batch_class!r})")
            subset.batch_class = batch_class
        subset.copy = copy
        return subset

    def split(self, shares=0.8, shuffle=False) -> None:
        """Set ``train``, ``test`` and ``validation`` subsets (None when empty).

        Parameters
        ----------
        shares, shuffle
            As for `split`, which this
            calls (so the index gets its parts too).

        Examples
        --------
        >>> ds = Dataset(10)
        >>> ds.split(0.7, shuffle=1)
        >>> len(ds.train), len(ds.test), ds.validation
        (7, 3, None)
        """
        self.index.split(shares, shuffle)
        parts = self.index.train, self.index.test, self.index.validation
        self.train, self.test, self.validation = (
            None if part is None else self.create_subset(part) for part in parts
        )

    def cv_split(self, method="kfold", n_splits=5, shuffle=False) -> None:
        """K-fold cross-validation parts, set as ``cv0``, ..., ``cv{n_splits-1}``, as batchflow sets them.

        Each ``cv{i}`` is a dataset of all the items; its ``test`` is fold ``i`` and its ``train``
        the other folds, in the (shuffled) order. Folds differ in size by at most one item (the
        first ones are larger). ``dataset.train`` and ``dataset.test`` become datasets of all the
        items whose ``cv{i}`` are the folds' parts (``dataset.train.cv1 is dataset.cv1.train``).
        A re-split with fewer folds removes the stale ``cv{i}``. ``n_splits`` is kept as an
        attribute; `cv` returns a fold.

        Parameters
        ----------
        method : str
            Only ``'kfold'``.
        n_splits : int
            The number of folds, ``2 <= n_splits <= len(self)``.
        shuffle : bool, None, int, SeedSequence, Generator or RandomState
            Permute the items before cutting folds (as in `DatasetIndex.shuffle`).

        Examples
        --------
        >>> ds = Dataset(10)
        >>> ds.cv_split(n_splits=3)
        >>> ds.cv0.test.indices.tolist(), ds.cv2.train.indices.tolist()
        ([0, 1, 2, 3], [0, 1, 2, 3, 4, 5, 6])
        >>> ds.train.cv1 is ds.cv(1).train
        True
        """
        if method != "kfold":
            raise ValueError(f"'method' must be 'kfold' (got {method!r})")
        n = len(self)
        if not isinstance(n_splits, (int, np.integer)) or not 2 <= n_splits <= n:
            raise ValueError(
                f"'n_splits' must be an int from 2 to {n} (the number of items) (got {n_splits!r})"
            )
        folds = np.array_split(self.index.shuffle(shuffle), int(n_splits))
        for holder in (self, self.train, self.test):
            for name in _cv_names(holder) if holder is not None else ():
                delattr(holder, name)
        self.train, self.test = self.create_subset(self.index), self.create_subset(self.index)
        for i, fold in enumerate(folds):
            rest = np.concatenate([f for j, f in enumerate(folds) if j != i])
            fold_set = self.create_subset(self.index)
            fold_set.train = self.create_subset(self.index.create_batch(rest))
            fold_set.test = self.create_subset(self.index.create_batch(fold))
            setattr(self, f"cv{i}", fold_set)
            setattr(self.train, f"cv{i}", fold_set.train)
            setattr(self.test, f"cv{i}", fold_set.test)
        self.n_splits = int(n_splits)

    def cv(self, n: int):
        """Fold ``n`` of the last `cv_split` (``dataset.cv(1)`` is ``dataset.cv1``).

        Raises
        ------
        AttributeError
            There is no such fold.
        """
        try:
            return getattr(self, f"cv{int(n)}")
        except AttributeError:
            last = getattr(self, "n_splits", 0) - 1
            message = f"'n' must be a fold of the last cv_split, 0 to {last} (got {n!r})"
            raise AttributeError(message) from None

    # -- pipelines ------------------------------------------------------------------------------------

    def pipeline(self, config=None):
        """A new pipeline over this dataset (``config``: its configuration)."""
        from .pipeline import Pipeline  # the pipeline module imports datasets, not the other way round

        return Pipeline(dataset=self, config=config)

    @property
    def p(self):
        """A new pipeline over this dataset: ``dataset.p.some_action(...)``."""
        return self.pipeline()

    def __rshift__(self, pipeline):
        """``dataset >> pipeline`` is ``pipeline << dataset``: the pipeline bound to this dataset."""
        return pipeline << self

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {len(self)} items, batch class {self.batch_class.__name__}>"
