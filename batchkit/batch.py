"""``Batch``: an index plus named data components, with per-item views.

A component is stored as given (usually a numpy array whose first axis runs over the items)
and read back as the same object, never a copy: an action that writes into the elements it
received changes the batch.
"""

from __future__ import annotations

import dataclasses
import keyword
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ._action import action

__all__ = ["Batch", "Item", "ItemRecord", "RunContext", "crop_batch", "merge_batches", "set_run_context"]


@dataclass(frozen=True)
class RunContext:
    """What a pipeline run attaches to each of its batches, as one read-only record.

    A batch reads it through properties of the same names (``batch.iteration``,
    ``batch.random``, ...), batchflow's attribute names; none of them can be a component. A
    batch made outside a run has an empty context unless its constructor was given some of it
    (``Batch(index, pipeline=p, iteration=3)``).

    Attributes
    ----------
    pipeline : Pipeline or None
        The pipeline running the batch (not pickled with the batch).
    iteration : int or None
        The batch's number in the run, from 0.
    n_iterations : int or None
        How many batches the run makes (None when endless or unknown, as after a ``rebatch``).
    random_seed : numpy.random.SeedSequence or None
        The batch's seed, derived from the run's ``seed`` and the batch's number.
    random : numpy.random.Generator or None
        The batch's generator, made from ``random_seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, Dataset
    >>> dataset = Dataset(6, Batch)
    >>> batches = list(dataset.p.gen_batch(4, seed=1))
    >>> [batch.iteration for batch in batches], batches[0].n_iterations
    ([0, 1], 2)
    >>> isinstance(batches[0].run_context, RunContext), isinstance(batches[0].random, np.random.Generator)
    (True, True)
    """

    pipeline: object = None
    iteration: int | None = None
    n_iterations: int | None = None
    random_seed: np.random.SeedSequence | None = None
    random: np.random.Generator | None = None


#: the run context's fields: read-only properties of every batch, never component names
RUN_CONTEXT_FIELDS = tuple(field.name for field in dataclasses.fields(RunContext))
_EMPTY_CONTEXT = RunContext()


def set_run_context(batch, context: RunContext):
    """Attach ``context`` to ``batch`` (what a run does to each batch); return the batch.

    A module function, not a method, so that no subclass can shadow it.
    """
    if not isinstance(context, RunContext):
        raise TypeError(f"a batch's run context must be a RunContext (got {type(context).__name__})")
    object.__setattr__(batch, "_run_context", context)
    return batch


def _context_property(name: str, doc: str) -> property:
    def read(batch):
        return getattr(batch.__dict__.get("_run_context", _EMPTY_CONTEXT), name)

    def refuse(batch, value):
        raise AttributeError(
            f"{type(batch).__name__}.{name} is part of the batch's run context, which is read-only: "
            f"a pipeline run sets it; outside a run pass {name}= to the constructor"
        )

    return property(read, refuse, doc=doc)


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
        if name in RUN_CONTEXT_FIELDS or name == "run_context":
            raise ValueError(
                f"component name {name!r} of {owner} is taken by the run context (batch.{name} is "
                "set by a pipeline run, see RunContext); choose another"
            )
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
    dataset : optional
        What the batch came from; kept as an attribute (not pickled).
    pipeline : optional
        The pipeline the batch belongs to: the ``pipeline`` of its `RunContext` (not pickled).
    preloaded : dict, tuple, list or array, optional
        Data for the batch's items, aligned with ``index`` (see `from_data`).
    copy : bool
        Store a deep copy of ``preloaded`` instead of the objects given.
    **attrs
        Stored as attributes of the batch; ``iteration``, ``n_iterations``, ``random_seed`` and
        ``random`` go to its `RunContext` instead.

    Notes
    -----
    What a pipeline run attaches to a batch is one read-only `RunContext`, read through the
    properties ``pipeline``, ``iteration``, ``n_iterations``, ``random_seed`` and ``random``
    (batchflow's names) or as ``run_context``.

    ``batch.<component>`` returns the stored object itself. ``batch[value]`` looks an item up
    by index value in O(1) and returns an `Item` view.
    """

    components: tuple[str, ...] | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # actions that can check themselves against the class (a misspelled init or post name)
        for attribute in list(cls.__dict__.values()):
            check = getattr(attribute, "check_spelling", None)
            if callable(check):
                check(cls)
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
        context = {name: attrs.pop(name) for name in RUN_CONTEXT_FIELDS[1:] if name in attrs}
        if pipeline is not None or context:
            set_run_context(self, RunContext(pipeline=pipeline, **context))
        for name, value in attrs.items():
            setattr(self, name, value)
        if preloaded is not None:
            _store_data(self, preloaded, copy=copy)

    # -- run context (set by a pipeline run; read-only) ------------------------------------

    pipeline = _context_property("pipeline", "The pipeline running this batch (None outside a run).")
    iteration = _context_property("iteration", "The batch's number in its run, from 0 (None outside a run).")
    n_iterations = _context_property("n_iterations", "How many batches the run makes (None if unknown).")
    random_seed = _context_property("random_seed", "The batch's SeedSequence, derived from the run's seed.")
    random = _context_property("random", "The batch's numpy Generator, made from ``random_seed``.")

    @property
    def run_context(self) -> RunContext:
        """Everything the run attached to this batch, as one frozen `RunContext`."""
        return self.__dict__.get("_run_context", _EMPTY_CONTEXT)

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
        state["dataset"] = None
        context = state.get("_run_context")
        if context is not None and context.pipeline is not None:
            state["_run_context"] = dataclasses.replace(context, pipeline=None)
        state["_Batch__positions"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)

    def __repr__(self) -> str:
        comps = ", ".join(self.components) if self.components else "raw data"
        return f"<{type(self).__name__} of {len(self)} items: {comps}>"


_RESERVED_NAMES = frozenset(name for name in dir(Batch) if not name.startswith("__")) | {
    "dataset",
    *RUN_CONTEXT_FIELDS,
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


def _crop_value(value, keep: np.ndarray, n: int, name: str):
    """The elements of one component (or of raw data) at positions ``keep``."""
    if value is None:
        return None
    length = _length(value)
    if length != n:
        raise ValueError(
            f"{name} has {length} elements for the batch's {n} items, so it cannot be cropped "
            "with the index; a component must hold one element per item"
        )
    if isinstance(value, np.ndarray):
        return value[keep]
    if isinstance(value, (list, tuple)):
        return type(value)(value[i] for i in keep.tolist())
    if hasattr(value, "iloc"):  # pandas
        return value.iloc[keep]
    return value[keep]


def crop_batch(batch, keep):
    """Keep only the items at positions ``keep`` of ``batch``: its index and every component.

    The batch is changed in place (its class, attributes and run context stay) and returned.
    Nothing changes if some component cannot be cropped (it has not one element per item).

    Examples
    --------
    >>> import numpy as np
    >>> class Pairs(Batch):
    ...     components = ("x", "names")
    >>> batch = Pairs.from_data(index=[10, 11, 12], data=(np.array([1, 2, 3]), ["a", "b", "c"]))
    >>> batch = crop_batch(batch, [0, 2])
    >>> batch.indices.tolist(), batch.x.tolist(), batch.names, batch.get_pos(12)
    ([10, 12], [1, 3], ['a', 'c'], 1)
    """
    keep = np.asarray(keep, dtype=np.intp).reshape(-1)
    n = len(batch)
    if keep.size and (keep.min() < 0 or keep.max() >= n):
        raise IndexError(f"positions to keep must be within 0..{n - 1} (got {keep.tolist()})")
    index = batch.index
    if hasattr(index, "create_batch") and hasattr(index, "indices"):
        new_index = index.create_batch(keep)  # an index of the same class (FilesIndex keeps paths)
        new_indices = np.asarray(new_index.indices)
    else:
        new_indices = np.asarray(batch.indices)[keep]
        new_index = new_indices
    data = batch.data
    if batch.components is None:
        new_data = _crop_value(data, keep, n, "the batch's data")
    else:
        new_data = {name: _crop_value(value, keep, n, f"component {name!r}") for name, value in data.items()}
    # everything is computed: now change the batch, all at once
    object.__setattr__(batch, "_index", new_index)
    object.__setattr__(batch, "_indices", new_indices)
    object.__setattr__(batch, "_Batch__positions", None)
    if batch.components is None:
        object.__setattr__(batch, "_data", new_data)
    else:
        batch.data.update(new_data)
    return batch


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
