"""Loading data into a batch: one path for ``Batch.load``, ``Dataset(preloaded=...)`` and ``from_data``.

Two steps, each in one function:

1. `crop` takes a batch's items out of a source in memory. The source as a whole is an array
   (or anything indexed by an array), a tuple or list of such (one per component), a dict of them
   by component name, or a pandas DataFrame. One component's data is found:

   - array-like, list or tuple: by **position** when the caller knows the items' positions (a
     dataset's preloaded data, row ``i`` for the ``i``-th index value), else by **index value**
     (``src[batch.indices]``, batchflow's ``Batch.load``);
   - a dict keyed by index value: by value;
   - a pandas DataFrame or Series: by value (``.loc[batch.indices]``; a Series gives an array).

2. `put` stores the crop in the batch, by the ``dst`` rules of ``Batch.load``:

   - ``dst=None``, a class without components: the crop becomes ``batch.data`` (a dict makes
     its keys the batch's components);
   - ``dst=None``, a class with components: a tuple fills them in order (trailing ones left
     None; more items than components is an error), a dict or DataFrame by name (other keys are
     ignored; a dict naming no component at all is an error), a single array the one component
     (an error when there are several);
   - ``dst`` a name or tuple of names: the data goes there (a tuple source by position, a dict
     or DataFrame by name, a single array into the one named component), components that do
     not exist yet are added.
"""

from __future__ import annotations

import copy as copying
from collections.abc import Mapping

import numpy as np

from ._component_names import check_component_names

__all__ = ["add_components", "align", "check_preloaded", "crop", "put"]

_ACCEPTED = (
    "an array (or anything indexed by an array of positions), a list or tuple, a dict keyed by index "
    "value, or a pandas DataFrame or Series"
)


def is_pandas(data) -> bool:
    """Whether ``data`` is a pandas object with ``.loc`` (pandas is not imported for this)."""
    return type(data).__module__.startswith("pandas") and hasattr(data, "loc")


def is_dataframe(data) -> bool:
    """Whether ``data`` is a pandas DataFrame."""
    return is_pandas(data) and hasattr(data, "columns")


def _as_array_or_list(elements: list):
    """The elements as one array when they stack, else as a list (elements of other shapes)."""
    try:
        return np.array(elements)
    except ValueError:
        return elements


def _by_value(data: Mapping, values, name: str):
    try:
        return _as_array_or_list([data[value] for value in values.tolist()])
    except KeyError as error:
        raise KeyError(
            f"{name} is a dict keyed by index value, but has no key {error.args[0]!r}; "
            "give it a key for every index value"
        ) from None


def crop_one(data, values: np.ndarray, positions: np.ndarray | None = None, name: str = "the data"):
    """One component's items: ``data`` cropped to the batch (see the module docstring).

    Examples
    --------
    >>> crop_one(np.arange(100, 110), np.array([3, 1])).tolist()  # by index value
    [103, 101]
    >>> crop_one(np.arange(100, 110), np.array([13, 11]), positions=np.array([3, 1])).tolist()
    [103, 101]
    >>> crop_one({"a": 1, "b": 2}, np.array(["b", "a"])).tolist()
    [2, 1]
    """
    if data is None:
        return None
    if is_pandas(data):
        rows = data.loc[values]
        # A Series is one value per item: an array, so that items are read by position.
        return rows if is_dataframe(rows) else rows.to_numpy()
    if isinstance(data, Mapping):
        return _by_value(data, values, name)
    where = values if positions is None else positions
    if isinstance(data, (list, tuple)):
        try:
            return type(data)(data[i] for i in where.tolist())
        except (IndexError, TypeError):
            raise IndexError(_not_found(name, data, where, positions is None)) from None
    if isinstance(data, (str, bytes, set, frozenset)) or not hasattr(data, "__getitem__"):
        raise TypeError(f"{name} must be {_ACCEPTED} (got {type(data).__name__})")
    try:
        return data[where]
    except IndexError:
        raise IndexError(_not_found(name, data, where, positions is None)) from None


def _not_found(name: str, data, where, by_value: bool) -> str:
    length = len(data) if hasattr(data, "__len__") else "?"
    what = "index values used as positions" if by_value else "positions"
    return f"{name} has {length} rows, too few for the {what} {where.tolist()[:8]}"


def crop(source, values, positions=None, components=None):
    """The batch's part of ``source``: a crop of each part (see the module docstring).

    ``components`` (the batch class's) limits a dict to its component keys: other keys are not
    read at all, so they may hold anything.
    """
    values = np.asarray(values)
    if isinstance(source, Mapping):
        keys = [key for key in source if components is None or key in components]
        return {key: crop_one(source[key], values, positions, f"component {key!r}") for key in keys}
    if isinstance(source, (tuple, list)):
        return type(source)(
            crop_one(data, values, positions, f"component {i} of the tuple") for i, data in enumerate(source)
        )
    if is_dataframe(source):
        return source.loc[values]
    return crop_one(source, values, positions)


def _has_rows(data, n: int) -> bool:
    """Whether ``data`` holds one row per item already (None and unsized data count as fitting)."""
    if data is None or isinstance(data, Mapping):
        return data is None
    try:
        return len(data) == n
    except TypeError:
        return True


def align(source, values, components=None):
    """``source`` as given when it already holds one row per item, else its crop by index value.

    What ``Batch(index, preloaded=...)`` stores: a dataset passes its batches their own rows, and
    data of another length (the whole data set, say) is cropped by value, as batchflow's batches
    crop their preloaded data, instead of making a batch whose components are of another length.

    >>> align(np.arange(100), np.array([2, 5])).tolist()
    [2, 5]
    >>> align(np.array([7, 8]), np.array([2, 5])).tolist()
    [7, 8]
    """
    values = np.asarray(values)
    n = len(values)
    if isinstance(source, Mapping):
        parts = [data for key, data in source.items() if components is None or key in components]
    elif isinstance(source, tuple) and components is None:
        parts = list(source) if not _has_rows(source, n) else [source]
    elif isinstance(source, (tuple, list)) and components is not None:
        parts = list(source)
    else:
        parts = [source]
    if all(_has_rows(part, n) for part in parts):
        return source
    return crop(source, values, components=components)


def _frame_columns(frame, names) -> dict:
    return {name: frame[name].to_numpy() for name in names if name in frame.columns}


def _for_components(batch, data) -> dict:
    """``data`` (a crop) as {component: value} for a class that declares components (``dst=None``)."""
    components = batch.components
    owner = type(batch).__name__
    if isinstance(data, (tuple, list)):
        if len(data) > len(components):
            raise ValueError(
                f"{owner} declares {len(components)} components {list(components)} but got a "
                f"{type(data).__name__} of {len(data)}; pass at most one per component, in order"
            )
        return dict(zip(components, data, strict=False))
    if isinstance(data, Mapping):
        found = {name: data[name] for name in components if name in data}
        if data and not found:
            raise ValueError(
                f"{owner} declares components {list(components)} but got a dict of {list(data)}; "
                "name the dict's keys after the components"
            )
        return found
    if is_dataframe(data):
        found = _frame_columns(data, components)
        if found:
            return found
        if len(components) > 1:
            raise ValueError(
                f"the DataFrame has no column named after a component: columns {list(data.columns)}, "
                f"components {list(components)}; rename the columns, or pass a dict"
            )
        return {components[0]: data}
    if len(components) == 1:
        return {components[0]: data}
    raise TypeError(
        f"{owner} declares {len(components)} components {list(components)}: pass a dict or a tuple, "
        f"not a single {type(data).__name__}"
    )


def _for_names(data, names: tuple[str, ...]) -> dict:
    """``data`` (a crop) as {name: value} for an explicit ``dst``."""
    if isinstance(data, (tuple, list)):
        if len(data) != len(names):
            raise ValueError(f"'dst' names {len(names)} components {list(names)} for {len(data)} sources")
        return dict(zip(names, data, strict=True))
    if isinstance(data, Mapping):
        missing = [name for name in names if name not in data]
        if missing:
            raise KeyError(f"'dst' names {missing}, which the source does not have (its keys: {list(data)})")
        return {name: data[name] for name in names}
    if is_dataframe(data):
        found = _frame_columns(data, names)
        if len(found) == len(names):
            return found
        if len(names) == 1:
            return {names[0]: data}  # the rows themselves, as batchflow stores them
        missing = [name for name in names if name not in found]
        raise KeyError(f"'dst' names {missing}, which are not columns (columns: {list(data.columns)})")
    if len(names) != 1:
        raise ValueError(
            f"'dst' names {len(names)} components {list(names)} for a single {type(data).__name__}"
        )
    return {names[0]: data}


def add_components(batch, components, init=None):
    """Add components to ``batch`` (``init``: their data, one per component); returns the batch."""
    names = check_component_names(components, type(batch).__name__)
    taken = [n for n in names if n in (batch.components or ()) or hasattr(type(batch), n)]
    if taken:
        raise ValueError(f"{type(batch).__name__} already has attribute(s) or component(s) {taken}")
    if batch.components is None:
        if batch._data is not None:
            raise ValueError("this batch holds raw data without components; add components to a new batch")
        batch._data = {}
    if init is None:
        values = (None,) * len(names)
    elif len(names) == 1:
        values = (init,)
    else:
        values = tuple(init)
        if len(values) != len(names):
            raise ValueError(f"init has {len(values)} values for {len(names)} components")
    batch.components = tuple(batch.components or ()) + names
    batch._data.update(zip(names, values, strict=True))
    return batch


def put(batch, data, dst=None, copy: bool = False) -> None:
    """Store ``data`` (a crop) in ``batch`` by the ``dst`` rules (see the module docstring)."""
    if copy:
        data = copying.deepcopy(data)
    owner = type(batch).__name__
    if dst is not None:
        names = check_component_names(dst, owner)
        parts = _for_names(data, names)
        new = [name for name in names if name not in (batch.components or ())]
        if new:
            add_components(batch, new)
        batch._data.update(parts)
        return
    if batch.components is not None:
        batch._data.update(_for_components(batch, data))
    elif isinstance(data, Mapping):
        batch.components = check_component_names(tuple(data), owner)
        batch._data = dict(data)
    else:
        batch._data = data


# -- checks of a dataset's preloaded data, when the dataset is made ------------------------------------


def _length_or_none(data):
    try:
        return len(data)
    except TypeError:
        return None


def check_preloaded(preloaded, n_items: int, batch_class) -> None:
    """Preloaded data must fit the batch class, and data found by position needs one row per value."""
    if preloaded is None or is_pandas(preloaded):
        return
    components = batch_class.components
    owner = batch_class.__name__
    if isinstance(preloaded, Mapping):
        parts = [(k, v) for k, v in preloaded.items() if components is None or k in components]
        if components is not None and preloaded and not parts:
            raise ValueError(
                f"{owner} declares components {list(components)} but the preloaded dict has keys "
                f"{list(preloaded)}; name the keys after the components"
            )
    elif isinstance(preloaded, (tuple, list)):
        if components is not None and len(preloaded) > len(components):
            raise ValueError(
                f"{owner} declares {len(components)} components {list(components)} but preloaded is a "
                f"{type(preloaded).__name__} of {len(preloaded)}; pass at most one per component, in order"
            )
        parts = [(components[i] if components else i, data) for i, data in enumerate(preloaded)]
    elif components is not None and len(components) > 1:
        raise TypeError(
            f"{owner} declares {len(components)} components {list(components)}: pass preloaded as a "
            f"dict or a tuple, not a single {type(preloaded).__name__}"
        )
    else:
        parts = [("data", preloaded)]
    for name, data in parts:
        if data is None or is_pandas(data) or isinstance(data, Mapping):
            continue  # found by value
        if isinstance(data, (str, bytes, set, frozenset)) or not hasattr(data, "__getitem__"):
            raise TypeError(
                f"preloaded {name!r} must be an array (or anything indexed by an array of positions), a "
                f"list, a dict keyed by index value, or a pandas DataFrame or Series "
                f"(got {type(data).__name__})"
            )
        length = _length_or_none(data)
        if length is not None and length != n_items:
            raise ValueError(
                f"preloaded {name!r} has {length} rows but the index has {n_items} values; "
                "pass one row per index value, in index order (or a DataFrame indexed by value)"
            )
