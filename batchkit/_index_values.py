"""The values of an index: building them from what users pass, and checking them."""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np

from ._iteration import _is_int

__all__ = ["ValuesNotFoundError", "as_values", "is_scalar_value", "warn_duplicates"]


def as_values(index, allow_empty: bool = False) -> np.ndarray:
    """A 1-D array of index values from anything `DatasetIndex` accepts (an index gives a copy)."""
    from ._dataset_index import DatasetIndex  # the index module imports this one

    if callable(index) and not isinstance(index, DatasetIndex):
        index = index()
    if isinstance(index, DatasetIndex):
        return index.indices.copy()
    if _is_int(index):
        if index < 1:
            raise ValueError(f"an index needs at least one item (got {index})")
        return np.arange(index)
    if isinstance(index, (str, bytes)):  # one value, as batchflow takes it (a name, a file id)
        return np.array([index])
    if isinstance(index, (bool, np.bool_, float)) or index is None:
        raise TypeError(
            f"an index is built from an int, a 1-D sequence or array, a string (one value), an index "
            f"or a callable (got {type(index).__name__} {index!r})"
        )
    if not hasattr(index, "__len__") and isinstance(index, Iterable):
        index = list(index)
    values = np.array(index)  # a copy: the index must not change under its position map
    if values.ndim != 1:
        raise TypeError(f"an index must be 1-D (got an array of shape {values.shape})")
    if len(values) == 0 and not allow_empty:
        raise ValueError("an index needs at least one item (got an empty sequence)")
    return values


def warn_duplicates(values: np.ndarray, what: str) -> None:
    """Warn when ``values`` repeat (``get_pos`` then finds the first of each)."""
    n_unique = len(set(values.tolist()))
    if n_unique != len(values):
        warnings.warn(
            f"{what} has {len(values) - n_unique} duplicate value(s); get_pos finds the first of each",
            UserWarning,
            stacklevel=3,
        )


def is_scalar_value(value) -> bool:
    """Whether ``value`` is one index value (a str or a 0-d array counts as one)."""
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 0
    return not isinstance(value, Iterable)


class ValuesNotFoundError(IndexError, KeyError):
    """Values asked for are not in the index (an `IndexError`, as in batchflow, and a `KeyError`).

    >>> issubclass(ValuesNotFoundError, IndexError) and issubclass(ValuesNotFoundError, KeyError)
    True
    """

    def __str__(self) -> str:  # KeyError would show the message quoted
        return str(self.args[0]) if self.args else ""
