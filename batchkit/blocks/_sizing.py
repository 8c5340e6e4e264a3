"""How one axis is cut into blocks: the count of blocks that fits the limits, then the ranges.

The rules, per split axis of length ``L`` with ``overlap`` ``o``:

* the valid ranges of the blocks tile ``[0, L)``: no gap, no overlap;
* a block reaches ``o`` elements past its valid range on each side inside the source, none past
  the source's edges, so neighbouring blocks share ``2 * o`` elements;
* block sizes (overlap included) differ by at most one: edge blocks, with overlap on one side
  only, get the larger valid ranges;
* a block is at most ``size_max`` and at least ``size_min`` long (an axis shorter than
  ``size_min`` is one block), and every valid range holds at least one element, so a split
  needs ``size_max >= 2 * o + 1``.

The counts that fit form one interval (`count_range`); among them the smallest is taken, or
when a worker count is given the smallest whose total over the split axes is a multiple of it
(`balanced_counts`).
"""

from __future__ import annotations

import itertools
import math

__all__ = ["axis_ranges", "balanced_counts", "count_range"]

#: at most this many combinations of per-axis counts are tried when balancing
MAX_COMBINATIONS = 20_000


def count_range(length: int, size_max: int | None, size_min: int, overlap: int, axis: int) -> tuple[int, int]:
    """The smallest and largest block counts along an axis that fit the limits.

    Examples
    --------
    >>> count_range(100, 30, 10, 2, axis=0)
    (4, 16)
    >>> count_range(20, None, 1, 0, axis=0)
    (1, 20)
    """
    if length <= 1 or length < size_min:
        return 1, 1
    fits_whole = size_max is None or length <= size_max
    # ceil((L + 2o(n-1)) / n) <= size_max  <=>  n >= (L - 2o) / (size_max - 2o)
    lo = 1 if fits_whole else max(2, -(-(length - 2 * overlap) // (size_max - 2 * overlap)))
    # floor((L + 2o(n-1)) / n) >= max(size_min, 2o + 1)  <=>  n <= (L - 2o) / (that - 2o)
    least = max(size_min, 2 * overlap + 1)
    hi = (length - 2 * overlap) // (least - 2 * overlap) if length > 2 * overlap else 1
    if not fits_whole and hi < lo:
        raise ValueError(
            f"axis {axis} of length {length} cannot be split into blocks of {size_min} to "
            f"{size_max} elements with overlap={overlap} on each inner side: the fewest blocks "
            f"short enough for size_max ({lo}) are shorter than size_min. Lower size_min, "
            f"raise size_max or lower overlap."
        )
    return lo, max(lo, hi)


def axis_ranges(length: int, n_blocks: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """``(start, stop, valid_start, valid_stop)`` of each of ``n_blocks`` blocks along an axis.

    Examples
    --------
    >>> axis_ranges(10, 2, 1)
    [(0, 6, 0, 5), (4, 10, 5, 10)]
    >>> axis_ranges(7, 1, 3)
    [(0, 7, 0, 7)]
    """
    if n_blocks == 1:
        return [(0, length, 0, length)]
    total = length + 2 * overlap * (n_blocks - 1)  # the block sizes, overlap included, sum to this
    size, extra = divmod(total, n_blocks)
    ranges, valid_start = [], 0
    for k in range(n_blocks):
        block_size = size + (k < extra)
        inner_sides = (k > 0) + (k < n_blocks - 1)
        valid_stop = valid_start + block_size - overlap * inner_sides
        start = valid_start - overlap if k > 0 else 0
        stop = valid_stop + overlap if k < n_blocks - 1 else length
        ranges.append((start, stop, valid_start, valid_stop))
        valid_start = valid_stop
    return ranges


def balanced_counts(ranges: list[tuple[int, int]], n_workers: int | None) -> list[int]:
    """Per-axis counts within ``ranges``: the smallest, or a total that is a multiple of ``n_workers``.

    Among the combinations whose product is a multiple of ``n_workers``, the one with the
    smallest product wins (ties: the first in order, which splits later axes more); when none
    fits the limits, the smallest counts are kept.

    Examples
    --------
    >>> balanced_counts([(3, 10)], 4)
    [4]
    >>> balanced_counts([(1, 3), (1, 3)], 4)
    [2, 2]
    >>> balanced_counts([(3, 3)], 2)
    [3]
    """
    smallest = [lo for lo, _ in ranges]
    if not n_workers or n_workers == 1 or math.prod(smallest) % n_workers == 0:
        return smallest
    per_axis = max(2, int(MAX_COMBINATIONS ** (1 / len(ranges))))
    options = [range(lo, min(hi, lo + min(n_workers, per_axis) - 1) + 1) for lo, hi in ranges]
    best = None
    for counts in itertools.product(*options):
        total = math.prod(counts)
        if total % n_workers == 0 and (best is None or total < math.prod(best)):
            best = counts
    return list(best) if best is not None else smallest
