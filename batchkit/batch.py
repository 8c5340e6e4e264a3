"""``Batch``: an index plus named data components, with per-item views.

A component is stored as given (usually a numpy array whose first axis runs over the items)
and read back as the same object, never a copy: an action that writes into the elements it
received changes the batch.

Its parts live in modules of their own: the item views in `batchkit._items`, the run context
in `batchkit._run_context`, loading data into a batch in `batchkit._loading` (one path for
``load``, ``preloaded`` and ``from_data``) and `batchkit._file_formats` (files for ``load``).
Merging and cropping batches (`batchkit._batch_ops`) are re-exported here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ._action import action
from ._assemble import assemble
from ._batch_data import _check_dict_keys, _data_length
from ._batch_ops import crop_batch, merge_batches
from ._component_names import check_component_names
from ._items import Item, ItemAccess, ItemRecord, _Component
from ._loading import add_components, align, put
from ._run_context import _EMPTY_CONTEXT, RUN_CONTEXT_FIELDS, RunContext, _context_property, set_run_context

__all__ = ["Batch", "Item", "ItemRecord", "RunContext", "crop_batch", "merge_batches", "set_run_context"]


class Batch(ItemAccess):
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
        Data for the batch's items, aligned with ``index`` (see `from_data`); data of another
        length is cropped by index value, as `load` crops it.
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
        names = check_component_names(declared, cls.__name__)
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
            put(self, align(preloaded, indices, self.components), copy=copy)

    # -- run context (set by a pipeline run; read-only) ------------------------------------

    pipeline = _context_property("pipeline", "The pipeline running this batch (None outside a run).")
    iteration = _context_property("iteration", "The batch's number in its run, from 1 (None outside a run).")
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
        _check_dict_keys(cls, data)
        n_items = None if index is None else len(getattr(index, "indices", index))
        length = _data_length(cls, data, n_items)
        if index is None:
            index = np.arange(length)
        batch = cls(index, **attrs)
        if len(batch) != length:
            raise ValueError(f"index has {len(batch)} values but the data has {length} items")
        put(batch, data)
        return batch

    @action
    def add_components(self, components, init=None):
        """Add components to this batch (``init``: their data, one per component); an action.

        In a pipeline ``init`` may be a named expression, evaluated for each batch.

        Examples
        --------
        >>> import numpy as np
        >>> Batch(np.arange(2)).add_components(("x", "y"), init=([1, 2], [3, 4])).y
        [3, 4]
        """
        return add_components(self, components, init)

    @action
    def load(self, *args, src=None, fmt=None, dst=None, **kwargs):
        """Load the batch's items into it from memory or from files; returns the batch.

        Parameters
        ----------
        *args, **kwargs
            Passed to the file reader after the path (``numpy.load``, ``pandas.read_csv``, ...).
        src : array, tuple, list, dict, DataFrame, str or path, optional
            With ``fmt=None``, data in memory cropped by the batch's **index values**
            (``src[batch.indices]``; dicts keyed by value and pandas objects by value). With a
            ``fmt``, a file read into memory and cropped the same way; None reads one file per
            item from the batch's FilesIndex.
        fmt : None, 'npz', 'csv', 'feather' or 'parquet'
            Anything else is a ValueError listing these. The tables need pandas.
        dst : str or tuple of str, optional
            Where the data goes; None fills the components by position or name (see
            `batchkit._loading` for the rules, shared with preloaded datasets).

        Examples
        --------
        >>> import numpy as np
        >>> class Pairs(Batch):
        ...     components = ("images", "labels")
        >>> batch = Pairs(np.array([2, 5])).load(src=(np.arange(10) * 10, np.arange(10)))
        >>> batch.images.tolist(), batch.labels.tolist()
        ([20, 50], [2, 5])
        >>> Pairs(np.array([2, 5])).load(src=np.arange(10), dst="masks").masks.tolist()
        [2, 5]
        """
        from ._file_formats import load_into  # pandas and file readers only when loading

        return load_into(self, args, src, fmt, dst, kwargs)

    @action
    def do_nothing(self, *args, **kwargs):
        """Return the batch unchanged; an action whose arguments are still evaluated in a pipeline.

        >>> batch = Batch([1, 2])
        >>> batch.do_nothing(1, x=2) is batch
        True
        """
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

    def run_once(self, *args, **kwargs) -> list:
        """The init that runs an action once, with no entry arguments."""
        return [[]]

    _assemble = assemble  # batchflow's default post: results into the components named by dst

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
