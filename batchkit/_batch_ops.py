"""Operations that make a batch from other batches: merging several, cropping one to some items.

`merge_batches` (behind `Batch.merge`, ``rebatch`` and a pipeline's ``merge``) joins batches
end to end; `crop_batch` (behind ``on_error="skip_items"``) keeps some items of one batch. Both
work on the index and every component together.
"""

from __future__ import annotations

import numpy as np

from ._batch_data import _length
from ._loading import put

__all__ = ["crop_batch", "merge_batches"]


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
            put(batch, part)
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
    >>> from batchkit import Batch
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
