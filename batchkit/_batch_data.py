"""How many items the data given to ``Batch.from_data`` holds (storing it is `batchkit._loading`'s).

A dict maps component names to their data, a tuple or list gives the declared components in
order, anything else is the one declared component or a class's raw data (see
`Batch.from_data`). Functions, not `Batch` methods, so that no subclass can shadow them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

__all__ = ["_check_dict_keys", "_data_length", "_length"]


def _length(value) -> int:
    try:
        return len(value)
    except TypeError:
        raise TypeError(f"component data must have a length (got {type(value).__name__})") from None


def _arrays_of_one_length(data) -> int | None:
    """The common length of a tuple of 1-D-or-more arrays (None if ``data`` is not one)."""
    if not isinstance(data, tuple) or len(data) < 2:
        return None
    if not all(isinstance(part, np.ndarray) and part.ndim >= 1 for part in data):
        return None
    lengths = {len(part) for part in data}
    return lengths.pop() if len(lengths) == 1 else None


def _data_length(cls, data, n_items: int | None = None) -> int:
    """The number of items in ``data`` for a batch of class ``cls`` (``n_items``: the index's, if given).

    A class without components given a tuple of arrays of one length holds them as its raw data
    when the index says how many items there are; without an index the tuple is ambiguous (a
    batch of as many items as arrays, or the arrays' rows?) and an error says so.
    """
    if isinstance(data, Mapping):
        values = [v for v in data.values() if v is not None]
    elif isinstance(data, (tuple, list)) and cls.components is not None:
        values = [v for v in data if v is not None]
    else:
        rows = _arrays_of_one_length(data) if cls.components is None else None
        if rows is not None and rows != len(data):
            if n_items == rows:
                return rows
            if n_items is None:
                raise ValueError(
                    f"{cls.__name__} declares no components but got a tuple of {len(data)} arrays of "
                    f"{rows} rows each; declare components = (...) on the class, pass a dict, or "
                    "pass index= to hold the tuple as the raw data"
                )
        values = [data]
    if not values:
        raise ValueError("from_data got no data: every component is None")
    lengths = {_length(value) for value in values}
    if len(lengths) > 1:
        raise ValueError(f"the components given to from_data differ in length: {sorted(lengths)}")
    return lengths.pop()


def _check_dict_keys(cls, data) -> None:
    """``from_data`` is stricter than ``load`` and preloaded data (which ignore other keys): a dict
    given to it is meant whole, so a key that is no declared component is an error."""
    if isinstance(data, Mapping) and cls.components is not None:
        unknown = [name for name in data if name not in cls.components]
        if unknown:
            raise ValueError(
                f"{cls.__name__} has no component(s) {unknown}; its components are {list(cls.components)}"
            )
