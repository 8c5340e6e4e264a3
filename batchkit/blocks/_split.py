"""`split_into_blocks`: the settings checked, each split axis sized, the grid of blocks built."""

from __future__ import annotations

import itertools
import math
import numbers
import operator

from .._cpus import resolve_workers
from ._block import Block
from ._sizing import axis_ranges, balanced_counts, count_range

__all__ = ["normalize_axes", "source_shape", "split_into_blocks"]


def source_shape(source) -> tuple[int, ...]:
    """The shape of an array, a memmap, anything with ``.shape``, or a shape tuple itself."""
    if isinstance(source, tuple) and all(isinstance(n, numbers.Integral) for n in source):
        shape = source
    elif hasattr(source, "shape"):
        shape = source.shape
    else:
        raise TypeError(
            f"'source' must be an array, a memmap or a shape tuple of ints (got {type(source).__name__})"
        )
    shape = tuple(int(n) for n in shape)
    if not shape or any(n < 0 for n in shape):
        raise ValueError(f"'source' must have at least one axis and no negative length (got shape {shape})")
    return shape


def normalize_axes(axes, ndim: int) -> tuple[int, ...]:
    """The split axes as sorted, non-negative ints: None gives ``(0,)``, ``"all"`` every axis.

    Examples
    --------
    >>> normalize_axes(None, 3), normalize_axes(-1, 3), normalize_axes("all", 2)
    ((0,), (2,), (0, 1))
    """
    if axes is None:
        return (0,)
    if isinstance(axes, str):
        if axes != "all":
            raise ValueError(f"'axes' must be None, an int, a sequence of ints or 'all' (got {axes!r})")
        return tuple(range(ndim))
    listed = [axes] if isinstance(axes, numbers.Integral) else list(axes)
    normalized = []
    for axis in listed:
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"'axes' must hold ints (got {axis!r} in {axes!r})")
        if not -ndim <= axis < ndim:
            raise ValueError(
                f"axis {axis} in axes={axes!r} is out of range for a source of {ndim} dimension(s): "
                f"use axes from {-ndim} to {ndim - 1}"
            )
        normalized.append(operator.index(axis) % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"'axes' names an axis twice (got {axes!r})")
    if not normalized:
        raise ValueError("'axes' must name at least one axis")
    return tuple(sorted(normalized))


def _per_axis(name: str, value, n_axes: int, *, least: int, allow_none: bool) -> list:
    """One value per split axis, from one value for all or a sequence of one per axis."""
    values = list(value) if isinstance(value, (list, tuple)) else [value] * n_axes
    if len(values) != n_axes:
        raise ValueError(f"'{name}' must be one value or one per split axis ({n_axes}) (got {value!r})")
    for item in values:
        if item is None and allow_none:
            continue
        if isinstance(item, bool) or not isinstance(item, numbers.Integral) or item < least:
            expected = f"an int >= {least}" + (" or None" if allow_none else "")
            raise ValueError(f"'{name}' must be {expected} (got {value!r})")
    return [None if item is None else int(item) for item in values]


def _check_limits(axes, size_max, size_min, overlap) -> None:
    for axis, most, least, depth in zip(axes, size_max, size_min, overlap, strict=True):
        if most is None:
            continue
        if least is not None and least > most:
            raise ValueError(
                f"size_min={least} is larger than size_max={most} (axis {axis}): "
                "lower size_min or raise size_max"
            )
        if most < 2 * depth + 1:
            raise ValueError(
                f"overlap={depth} is too large for size_max={most} (axis {axis}): a block holds "
                f"its overlap on both inner sides plus at least one valid element, so it needs "
                f"size_max >= {2 * depth + 1}; raise size_max or lower overlap"
            )


def split_into_blocks(source, *, axes=None, size_max=None, size_min=None, overlap=0, n_workers=None):
    """Split a source into blocks whose valid regions tile it, each with overlap around it.

    Parameters
    ----------
    source : array, memmap or tuple of int
        What to split: anything with a ``shape``, or the shape itself. Its data is not read.
    axes : int, sequence of int or "all", optional
        The axes to split along (default: the first). The other axes stay whole in every block.
    size_max : int or sequence of int, optional
        The most elements a block (overlap included) holds along a split axis; one value for
        every split axis or one per axis. None: no limit.
    size_min : int or sequence of int, optional
        The fewest elements a block holds along a split axis, unless the axis is shorter.
    overlap : int or sequence of int
        The elements a block holds past its valid region on each side inside the source
        (none past the source's edges). A filter of radius ``r`` needs ``overlap >= r``.
    n_workers : int, optional
        Make the number of blocks a multiple of this where the size limits allow it, so that
        ``n_workers`` workers get equal shares (without ``size_max``, the source is then cut
        into ``n_workers`` blocks).

    Returns
    -------
    list of Block
        In C order over the grid of blocks; ``block.index`` is the position in this list.

    Raises
    ------
    ValueError
        For settings no split can meet (``size_min > size_max``, an overlap too large for
        ``size_max``, an axis out of range), naming the value and what to change.

    Examples
    --------
    >>> blocks = split_into_blocks((10, 4), size_max=6, overlap=1)
    >>> [block.info() for block in blocks]  # doctest: +NORMALIZE_WHITESPACE
    ['block 0/2 at (0, 0) of grid (2, 1): shape (6, 4) of (10, 4), slicing [0:6, :], valid [0:5, :]',
     'block 1/2 at (1, 0) of grid (2, 1): shape (6, 4) of (10, 4), slicing [4:10, :], valid [5:10, :]']
    >>> len(split_into_blocks((12, 12), axes="all", size_max=5))
    9
    >>> split_into_blocks((12, 12), axes="all", size_max=5, n_workers=4)[0].grid
    (3, 4)
    """
    shape = source_shape(source)
    axes = normalize_axes(axes, len(shape))
    n = len(axes)
    size_max = _per_axis("size_max", size_max, n, least=1, allow_none=True)
    size_min = _per_axis("size_min", size_min, n, least=1, allow_none=True)
    overlap = _per_axis("overlap", overlap, n, least=0, allow_none=False)
    _check_limits(axes, size_max, size_min, overlap)
    n_workers = resolve_workers(n_workers)
    limits = [
        count_range(shape[axis], most, least or 1, depth, axis)
        for axis, most, least, depth in zip(axes, size_max, size_min, overlap, strict=True)
    ]
    counts = balanced_counts(limits, n_workers)
    per_axis = [[(0, length, 0, length)] for length in shape]
    grid = [1] * len(shape)
    for axis, count, depth in zip(axes, counts, overlap, strict=True):
        per_axis[axis] = axis_ranges(shape[axis], count, depth)
        grid[axis] = count
    n_blocks = math.prod(grid)
    blocks = []
    for index, position in enumerate(itertools.product(*(range(len(ranges)) for ranges in per_axis))):
        pieces = [ranges[k] for ranges, k in zip(per_axis, position, strict=True)]
        slicing = tuple(slice(start, stop) for start, stop, _, _ in pieces)
        valid = tuple(slice(start, stop) for _, _, start, stop in pieces)
        blocks.append(Block(index, n_blocks, position, grid, slicing, valid, shape))
    return blocks
