"""How many items go to train, test and validation: `calc_split`, batchflow's rule.

Test and validation counts are rounded (numpy's rounding, half to even) from their shares, a
part with a positive share gets at least one item, and train takes what is left, so the three
counts always sum to the number of items (batchflow's could exceed it when the roundings up
overshot; here validation, then test, give the extra items back). The parts of a
split are cut from the (shuffled) order validation first, then test, then train, as batchflow
cuts them, so a seeded split gives batchflow's parts.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["calc_split", "split_positions"]


def _is_share(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _count(share: float, n_items: int, at_least_one: bool = False) -> int:
    """``share`` of ``n_items``, rounded; at least one item for a positive share (or if asked)."""
    if share <= 1e-12 and not at_least_one:
        return 0
    return max(1, int(np.round(share * n_items)))


def calc_split(n_items: int, shares=0.8) -> tuple[int, int, int]:
    """``(n_train, n_test, n_validation)`` for ``n_items`` items cut by ``shares``.

    Parameters
    ----------
    n_items : int
        The number of items.
    shares : float or sequence of up to 3 floats
        A float ``s`` (or ``[s]``) means train ``s`` and test ``1 - s``. A sequence of two or
        three shares takes the first two as the train and test shares; validation gets the rest,
        ``1 - (train + test)`` (a third share is not read). With a sequence, test always gets at
        least one item, as in batchflow.

    Raises
    ------
    ValueError
        More than three shares, a share outside [0, 1], train and test summing to more than 1,
        or fewer items than subsets (2 for a single share, 3 for a sequence of two or three).

    Examples
    --------
    >>> calc_split(10, [0.5, 0.3, 0.1])
    (5, 3, 2)
    >>> calc_split(10, 0.75)  # the test count rounds half to even: 2.5 -> 2
    (8, 2, 0)
    >>> calc_split(10, 0.96)  # a positive share gets at least one item
    (9, 1, 0)
    """
    if _is_share(shares):
        shares = [shares]
    shares = list(shares)
    if not 1 <= len(shares) <= 3 or not all(_is_share(s) for s in shares):
        raise ValueError(f"'shares' must be a float or a sequence of 1 to 3 floats (got {shares!r})")
    if any(not 0 <= s <= 1 for s in shares):
        raise ValueError(f"'shares' must be fractions in [0, 1] (got {shares!r})")
    train = float(shares[0])
    test = float(shares[1]) if len(shares) > 1 else 1.0 - train
    if train + test > 1 + 1e-9:
        raise ValueError(f"the train and test shares must sum to at most 1 (got {shares!r})")
    n_subsets = 2 if len(shares) == 1 else 3
    if n_items < n_subsets:
        raise ValueError(f"{n_items} item(s) cannot be split into {n_subsets} subsets (shares {shares!r})")
    n_test = _count(test, n_items, at_least_one=len(shares) > 1)
    n_valid = 0 if len(shares) == 1 else _count(1.0 - (train + test), n_items)
    # Two roundings up can overshoot: validation gives back first, then test.
    n_valid = min(n_valid, n_items - n_test)
    n_test = min(n_test, n_items)
    return n_items - n_test - n_valid, n_test, n_valid


def split_positions(order: np.ndarray, counts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The train, test and validation positions cut from ``order`` (validation first, then test).

    >>> [part.tolist() for part in split_positions(np.arange(10), (6, 2, 2))]
    [[4, 5, 6, 7, 8, 9], [2, 3], [0, 1]]
    """
    _, n_test, n_valid = counts
    return order[n_valid + n_test :], order[n_valid : n_valid + n_test], order[:n_valid]
