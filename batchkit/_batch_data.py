"""Storing data in a batch: the data ``from_data`` and the constructor's ``preloaded`` are given.

A dict maps component names to their data, a tuple or list gives the declared components in
order, anything else is the one declared component or a class's raw data (see
`Batch.from_data`). Functions, not `Batch` methods, so that no subclass can shadow them.
"""

from __future__ import annotations

from collections.abc import Mapping


def _length(value) -> int:
    try:
        return len(value)
    except TypeError:
        raise TypeError(f"component data must have a length (got {type(value).__name__})") from None


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
            # Batch's own rules for component names, which know Batch's attribute names: looked up
            # when needed, as batch.py imports this module
            from .batch import _check_component_names

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
