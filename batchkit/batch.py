"""``Batch``: an index plus named data components, with per-item views.

A component is stored as given (usually a numpy array whose first axis runs over the items)
and read back as the same object, never a copy: an action that writes into the elements it
received changes the batch.
"""

from __future__ import annotations

import keyword
from collections.abc import Mapping

import numpy as np

from ._action import action

__all__ = ["Batch", "Item", "ItemRecord", "merge_batches"]


class _Component:
    """Class-level accessor of one declared component (faster than ``__getattr__``)."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __get__(self, batch, owner=None):
        if batch is None:
            return self
        return batch._data.get(self.name)

    def __set__(self, batch, value):
        batch._data[self.name] = value

    def __repr__(self) -> str:
        return f"<component {self.name!r}>"


class Item:
    """A view of one item of a batch: ``item.<component>`` is that component's element.

    Writing ``item.images = x`` writes into the batch's component. An item pickles as a
    detached copy of its own elements only, never the whole batch.
    """

    __slots__ = ("_batch", "_position")

    def __init__(self, batch: Batch, position: int):
        object.__setattr__(self, "_batch", batch)
        object.__setattr__(self, "_position", position)

    @property
    def _components(self) -> tuple[str, ...]:
        return self._batch.components or ()

    def __getattr__(self, name):
        if name in self._components:
            values = getattr(self._batch, name)
            return None if values is None else values[self._position]
        raise AttributeError(f"{type(self._batch).__name__} item has no component {name!r}")

    def __setattr__(self, name, value):
        if name not in self._components:
            raise AttributeError(f"{type(self._batch).__name__} item has no component {name!r}")
        getattr(self._batch, name)[self._position] = value

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.__getattr__(key)
        return self.__getattr__(self._components[key])

    def __iter__(self):
        return (self.__getattr__(name) for name in self._components)

    def __len__(self) -> int:
        return len(self._components)

    def __repr__(self) -> str:
        return f"<{type(self._batch).__name__} item at position {self._position}>"

    def __reduce__(self):
        values = {name: self.__getattr__(name) for name in self._components}
        return ItemRecord, (values,)


class ItemRecord:
    """A detached item: the elements of one item, by component name (what an Item pickles to)."""

    __slots__ = ("_values",)

    def __init__(self, values: dict):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"item has no component {name!r}") from None

    def __setattr__(self, name, value):
        if name not in self._values:
            raise AttributeError(f"item has no component {name!r}")
        self._values[name] = value

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.__getattr__(key)
        return list(self._values.values())[key]

    def __iter__(self):
        return iter(self._values.values())

    def __len__(self) -> int:
        return len(self._values)

    def __reduce__(self):
        return ItemRecord, (self._values,)

    def __repr__(self) -> str:
        return f"ItemRecord({', '.join(self._values)})"


def _check_component_names(names, owner: str) -> tuple[str, ...]:
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise TypeError(f"component names of {owner} must be identifiers (got {name!r})")
        if name.startswith("_") or name in _RESERVED_NAMES:
            raise ValueError(
                f"component name {name!r} of {owner} is taken by Batch itself or private; choose another"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"component names of {owner} repeat: {names}")
    return names


def _length(value) -> int:
    try:
        return len(value)
    except TypeError:
        raise TypeError(f"component data must have a length (got {type(value).__name__})") from None


class Batch:
    """A batch of items: an index of item values plus data components.

    Subclass it, declare the components, and write actions that handle one item:

    >>> class Images(Batch):
    ...     components = ("images", "labels")

    Parameters
    ----------
    index : array-like or index object
        The batch's index values (an object with ``.indices`` is taken as an index).
    dataset, pipeline : optional
        What the batch came from; kept as attributes (not pickled).
    preloaded : dict, tuple, list or array, optional
        Data for the batch's items, aligned with ``index`` (see `from_data`).
    copy : bool
        Store a deep copy of ``preloaded`` instead of the objects given.
    **attrs
        Stored as attributes of the batch.

    Notes
    -----
    ``batch.<component>`` returns the stored object itself. ``batch[value]`` looks an item up
    by index value in O(1) and returns an `Item` view.
    """

    components: tuple[str, ...] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("components")
        if declared is None:
            return
        names = _check_component_names(declared, cls.__name__)
        clashes = [n for n in names if not isinstance(getattr(cls, n, None), (_Component, type(None)))]
        if clashes:
            raise ValueError(
                f"component name(s) {clashes} of {cls.__name__} are also methods or attributes of the "
                "class: the component could not be read as an attribute; rename one of them"
            )
        cls.components = names
        for name in names:
            if name not in cls.__dict__:
                setattr(cls, name, _Component(name))

    def __init__(self, index, dataset=None, pipeline=None, preloaded=None, copy=False, **attrs):
        self._index = index
        indices = index.indices if hasattr(index, "indices") else index
        indices = np.asarray(indices)
        if indices.ndim != 1:
            raise TypeError(f"a batch index must be 1-D (got shape {indices.shape})")
        self._indices = indices
        self.__positions = None
        self._data = {} if self.components is not None else None
        self.dataset = dataset
        self.pipeline = pipeline
        for name, value in attrs.items():
            setattr(self, name, value)
        if preloaded is not None:
            _store_data(self, preloaded, copy=copy)

    # -- construction -----------------------------------------------------------------------

    @classmethod
    def from_data(cls, index=None, data=None, **attrs):
        """A batch holding ``data``.

        Parameters
        ----------
        index : array-like, optional
            Index values; ``np.arange(n)`` by default, ``n`` being the number of items in ``data``.
        data : dict, tuple, list or array
            A dict maps component names to their data; a tuple or list gives the declared
            components in order; an array is the one declared component, or the raw data of a
            class that declares none. A dict given to a class without declared components
            makes its keys the batch's components.

        Examples
        --------
        >>> import numpy as np
        >>> class Pairs(Batch):
        ...     components = ("images", "labels")
        >>> batch = Pairs.from_data(data=(np.zeros((10, 2, 2)), np.arange(10)))
        >>> len(batch), batch.labels[3]
        (10, np.int64(3))
        """
        if data is None:
            raise TypeError("from_data needs data: a dict, a tuple or list, or an array")
        length = _data_length(cls, data)
        if index is None:
            index = np.arange(length)
        batch = cls(index, **attrs)
        if len(batch) != length:
            raise ValueError(f"index has {len(batch)} values but the data has {length} items")
        _store_data(batch, data)
        return batch

    def add_components(self, components, init=None):
        """Add components to this batch (``init``: their data, one per component)."""
        names = _check_component_names(components, type(self).__name__)
        taken = [n for n in names if n in (self.components or ()) or hasattr(type(self), n)]
        if taken:
            raise ValueError(f"{type(self).__name__} already has attribute(s) or component(s) {taken}")
        if self.components is None:
            if self._data is not None:
                raise ValueError(
                    "this batch holds raw data without components; add components to a new batch"
                )
            self._data = {}
        self.components = tuple(self.components or ()) + names
        if init is None:
            values = (None,) * len(names)
        elif len(names) == 1:
            values = (init,)
        else:
            values = tuple(init)
            if len(values) != len(names):
                raise ValueError(f"init has {len(values)} values for {len(names)} components")
        self._data.update(zip(names, values, strict=False))
        return self

    # -- index ------------------------------------------------------------------------------

    @property
    def index(self):
        """The index the batch was made from."""
        return self._index

    @property
    def indices(self) -> np.ndarray:
        """The batch's index values, in order."""
        return self._indices

    @property
    def size(self) -> int:
        """The number of items."""
        return len(self._indices)

    def __len__(self) -> int:
        return len(self._indices)

    def get_pos(self, value) -> int:
        """The position of index value ``value`` in this batch (O(1)); ``KeyError`` if absent."""
        positions = self.__positions
        if positions is None:
            keys = self._indices.tolist()
            positions = self.__positions = {key: i for i, key in enumerate(keys)}
        try:
            return positions[value]
        except (KeyError, TypeError):
            raise KeyError(f"index value {value!r} is not in this batch") from None

    # -- data -------------------------------------------------------------------------------

    @property
    def data(self):
        """The raw data (no components declared) or a dict of components by name."""
        return self._data

    def __setattr__(self, name, value):
        # Components added to this instance only (add_components, from_data with a dict) have no
        # class descriptor: their values live in _data like the declared ones.
        data = self.__dict__.get("_data")
        if type(data) is dict and name in data and not hasattr(type(self), name):
            data[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        # Reached only when normal lookup fails: components added to this instance only.
        data = self.__dict__.get("_data")
        if isinstance(data, dict) and name in data:
            return data[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute or component {name!r}")

    def __getitem__(self, value):
        position = self.get_pos(value)
        if self.components is None:
            return self._data[position]
        return Item(self, position)

    @property
    def items(self) -> list:
        """One item view per index value, in order (the raw elements when there are no components)."""
        if self.components is None:
            return list(self._data) if self._data is not None else []
        return [Item(self, i) for i in range(len(self))]

    def __iter__(self):
        return iter(self.items)

    def run_once(self, *args, **kwargs) -> list:
        """The init that runs an action once, with no entry arguments."""
        return [[]]

    @action
    def apply_parallel(
        self,
        func,
        *args,
        init=None,
        post=None,
        src=None,
        dst=None,
        target="threads",
        requires_rng=False,
        **kwargs,
    ):
        """Apply ``func(item, *args, **kwargs)`` to every item of ``src`` and store results in ``dst``.

        Parameters
        ----------
        func : callable
            Handles one item and returns its result.
        *args
            Passed to ``func`` after the item (batchflow bound them to ``init``: not here).
        init : callable or iterable, optional
            The items, instead of reading them from ``src``.
        post : str or callable, optional
            Called as ``post(results, *args, src=, dst=, **kwargs)`` instead of storing results.
        src : str, list or tuple
            A component (each item is one element of it), a list of components handled one after
            another (pairwise with a list ``dst``), or a tuple of components handled together
            (each item is a tuple of their elements).
        dst : str, list or tuple, optional
            Where results go (``src`` by default); a component not declared is added to this batch.
            A tuple ``dst`` takes each item's tuple result apart.
        target : str
            The executor (``"threads"`` by default, also when called directly).
        requires_rng : bool
            Give ``func`` an ``rng=`` generator of its own per item, derived from the batch's seed
            (``seed=`` to give one outside a pipeline) and the item's position, so the draws do
            not depend on the target or the number of workers.
        **kwargs
            Passed to ``func``; also ``n_workers=``, ``seed=`` and ``p=`` (apply to each item with
            this probability; the others stay as they are).

        Examples
        --------
        >>> import numpy as np
        >>> class Images(Batch):
        ...     components = ("images",)
        >>> batch = Images.from_data(data={"images": np.ones((3, 2, 2))})
        >>> batch.apply_parallel(np.sum, src="images", dst="totals").totals.tolist()
        [4.0, 4.0, 4.0]
        """
        from .apply import apply_to_batch

        return apply_to_batch(
            self,
            func,
            *args,
            init=init,
            post=post,
            src=src,
            dst=dst,
            target=target,
            requires_rng=requires_rng,
            **kwargs,
        )

    @classmethod
    def merge(cls, batches, batch_size=None, components=None, batch_class=None):
        """Merge batches into one of ``batch_size`` items; return ``(batch, rest)``.

        The merged batch keeps the original index values (in order) and concatenates each
        component (arrays end to end; other sequences as lists). ``rest`` holds what is left past
        ``batch_size``, or None.

        Examples
        --------
        >>> import numpy as np
        >>> class Values(Batch):
        ...     components = ("x",)
        >>> a = Values.from_data(index=[10, 11], data={"x": np.array([1, 2])})
        >>> b = Values.from_data(index=[20, 21], data={"x": np.array([3, 4])})
        >>> batch, rest = Values.merge([a, b], batch_size=3)
        >>> batch.indices.tolist(), batch.x.tolist(), rest.indices.tolist()
        ([10, 11, 20], [1, 2, 3], [21])
        """
        return merge_batches(batches, batch_size, components, batch_class or cls)

    @staticmethod
    def get_errors(results) -> list | None:
        """The exceptions among ``results`` (an action's results list), or None if there are none."""
        errors = [r for r in results if isinstance(r, BaseException)]
        return errors or None

    # -- pickling ---------------------------------------------------------------------------

    def __getstate__(self):
        state = self.__dict__.copy()
        # What the batch belongs to stays behind: a pipeline or dataset may be huge, or hold
        # locks and pools that cannot cross a process boundary.
        state["dataset"] = state["pipeline"] = None
        state["_Batch__positions"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self) -> str:
        comps = ", ".join(self.components) if self.components else "raw data"
        return f"<{type(self).__name__} of {len(self)} items: {comps}>"


_RESERVED_NAMES = frozenset(name for name in dir(Batch) if not name.startswith("__")) | {
    "dataset",
    "pipeline",
}


def _concat(parts: list, name: str):
    """Join one component's parts from several batches (arrays end to end, else lists)."""
    present = [part for part in parts if part is not None]
    if not present:
        return None
    if len(present) != len(parts):
        raise ValueError(f"component {name!r} is None in some of the batches to merge, but not all")
    if all(isinstance(part, np.ndarray) for part in present):
        return np.concatenate(present)
    return [element for part in present for element in part]


def merge_batches(batches, batch_size=None, components=None, batch_class=None):
    """Merge ``batches`` into one batch of ``batch_size`` items and the rest.

    Index values and components are concatenated in order. Returns ``(batch, rest)``: ``rest``
    holds the items past ``batch_size`` (None when there are none).
    """
    batches = [batch for batch in batches if batch is not None and len(batch)]
    if not batches:
        return None, None
    batch_class = batch_class or type(batches[0])
    if components is None:
        components = batches[0].components
    indices = np.concatenate([batch.indices for batch in batches])
    total = len(indices)
    batch_size = total if batch_size is None else batch_size
    if components is None:
        data = _concat([batch.data for batch in batches], "data")
    else:
        data = {name: _concat([getattr(batch, name) for batch in batches], name) for name in components}

    def make(lo, hi):
        if lo >= hi:
            return None
        if components is None:
            part = data[lo:hi] if data is not None else None
        else:
            part = {name: (value[lo:hi] if value is not None else None) for name, value in data.items()}
        batch = batch_class(indices[lo:hi])
        if part is not None:
            _store_data(batch, part)
        return batch

    return make(0, min(batch_size, total)), make(batch_size, total)


def _data_length(cls, data) -> int:
    if isinstance(data, Mapping):
        values = [v for v in data.values() if v is not None]
    elif isinstance(data, (tuple, list)) and cls.components is not None:
        values = [v for v in data if v is not None]
    else:
        values = [data]
    if not values:
        raise ValueError("from_data got no data: every component is None")
    lengths = {_length(value) for value in values}
    if len(lengths) > 1:
        raise ValueError(f"the components given to from_data differ in length: {sorted(lengths)}")
    return lengths.pop()


def _store_data(batch, data, copy: bool = False) -> None:
    """Store ``data`` (dict, tuple/list or array) as the batch's data.

    A module function, not a method: a subclass's own ``_put`` or ``_store`` (a common name for
    a post function) cannot shadow it.
    """
    if copy:
        import copy as copying

        data = copying.deepcopy(data)
    if isinstance(data, Mapping):
        if batch.components is None:
            batch.components = _check_component_names(tuple(data), type(batch).__name__)
            batch._data = {}
        unknown = [name for name in data if name not in batch.components]
        if unknown:
            raise ValueError(
                f"{type(batch).__name__} has no component(s) {unknown}; "
                f"its components are {list(batch.components)}"
            )
        batch._data.update(data)
    elif batch.components is None:
        batch._data = data
    elif isinstance(data, (tuple, list)):
        if len(data) > len(batch.components):
            raise ValueError(
                f"got {len(data)} data components but {type(batch).__name__} declares "
                f"{len(batch.components)}: {list(batch.components)}"
            )
        batch._data.update(zip(batch.components, data, strict=False))
    elif len(batch.components) == 1:
        batch._data[batch.components[0]] = data
    else:
        raise TypeError(
            f"{type(batch).__name__} declares {len(batch.components)} components "
            f"{list(batch.components)}: pass a dict or a tuple, not a single "
            f"{type(data).__name__}"
        )
