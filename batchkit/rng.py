"""Random generators: one way to turn a seed of any usual kind into a ``numpy.random.Generator``.

The bit generator is SFC64, batchflow's: the same int seed gives the same shuffles and splits
in both libraries.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["make_rng", "make_seed_sequence", "order_source", "spawn_rngs", "spawn_seed_sequence"]

# Entropy words drawn from a legacy RandomState to seed a Generator from it.
_ENTROPY_WORDS = 4


def _check_int_seed(seed) -> int:
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"a seed must be a non-negative int (got {seed}); pass abs(seed) or another int")
    return seed


def _sfc64(seed=None) -> np.random.Generator:
    return np.random.Generator(np.random.SFC64(seed))


def make_rng(seed=None) -> np.random.Generator | None:
    """A ``numpy.random.Generator`` (on the SFC64 bit generator) made from ``seed``.

    Parameters
    ----------
    seed : None, True, int, numpy.random.SeedSequence, numpy.random.Generator, numpy.random.BitGenerator \
or numpy.random.RandomState
        - ``None`` or ``True``: a generator seeded from fresh OS entropy.
        - ``False``: no randomness: ``None`` is returned (as in batchflow).
        - a non-negative int or a ``SeedSequence``: a generator seeded from it (the same stream every run).
        - a ``Generator``: returned as is, so draws advance the caller's generator.
        - a ``BitGenerator``: wrapped in a ``Generator`` that shares its state.
        - a legacy ``RandomState``: a new ``Generator`` seeded with a few words drawn from it. The
          ``RandomState`` advances by those draws only; the result is reproducible whenever the
          ``RandomState`` was seeded, but the two streams are not the same stream.

    Returns
    -------
    numpy.random.Generator or None

    Raises
    ------
    TypeError
        ``seed`` is of another type.
    ValueError
        ``seed`` is a negative int.

    Examples
    --------
    >>> a, b = make_rng(42), make_rng(42)
    >>> a.integers(100, size=3).tolist() == b.integers(100, size=3).tolist()
    True
    >>> g = make_rng(0)
    >>> make_rng(g) is g
    True
    >>> make_rng(42).permutation(10).tolist()  # batchflow's make_rng(42) gives the same
    [8, 9, 1, 3, 6, 4, 5, 0, 7, 2]
    """
    if seed is None:
        return _sfc64()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        return _sfc64() if seed else None
    if isinstance(seed, numbers.Integral):
        return _sfc64(_check_int_seed(seed))
    if isinstance(seed, np.random.SeedSequence):
        return _sfc64(seed)
    if isinstance(seed, np.random.BitGenerator):
        return np.random.Generator(seed)
    if isinstance(seed, np.random.RandomState):
        words = seed.randint(0, 2**32, size=_ENTROPY_WORDS, dtype=np.uint64)
        return _sfc64(np.random.SeedSequence([int(w) for w in words]))
    raise TypeError(
        f"cannot make a random generator from a {type(seed).__name__} ({seed!r}); pass None, True, "
        "an int, a numpy SeedSequence, a Generator, a BitGenerator or a RandomState"
    )


def order_source(shuffle):
    """What draws the permutations of a shuffle: ``make_rng(shuffle)``, or a ``RandomState`` itself.

    A ``RandomState`` permutes with its own stream (not a Generator seeded from it), so that a
    seeded ``RandomState`` gives batchflow's orders.

    Examples
    --------
    >>> order_source(np.random.RandomState(42)).permutation(5).tolist()
    [1, 4, 2, 0, 3]
    >>> order_source(42).permutation(5).tolist()
    [4, 1, 0, 3, 2]
    """
    if isinstance(shuffle, np.random.RandomState):
        return shuffle
    return make_rng(shuffle)


def spawn_rngs(seed, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed``.

    With an int, ``None`` or a ``SeedSequence`` they come from ``SeedSequence.spawn``: for an int
    seed, generator ``i`` is the same whatever ``n`` is. A ``Generator`` or ``RandomState`` is
    asked for entropy once (and so advances), and the children derive from that.

    Parameters
    ----------
    seed : None, True, int, SeedSequence, Generator, BitGenerator or RandomState
        As for `make_rng`.
    n : int
        How many generators (``n >= 0``).

    Returns
    -------
    list of numpy.random.Generator

    Examples
    --------
    >>> first = [g.integers(1000) for g in spawn_rngs(7, 3)]
    >>> again = [g.integers(1000) for g in spawn_rngs(7, 5)][:3]
    >>> first == again
    True
    """
    if not isinstance(n, numbers.Integral) or isinstance(n, (bool, np.bool_)) or n < 0:
        raise ValueError(f"spawn_rngs needs a non-negative int count (got {n!r})")
    if seed is None or seed is True:
        sequence = np.random.SeedSequence()
    elif isinstance(seed, np.random.SeedSequence):
        sequence = seed
    elif isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_)):
        sequence = np.random.SeedSequence(_check_int_seed(seed))
    else:
        # Generators, bit generators and RandomStates: draw entropy from them (make_rng checks the type).
        rng = make_rng(seed)
        if rng is None:
            raise TypeError("spawn_rngs(False): False means no randomness; pass None, True or a seed")
        words = rng.integers(0, 2**32, size=_ENTROPY_WORDS, dtype=np.uint64)
        sequence = np.random.SeedSequence([int(w) for w in words])
    return [_sfc64(child) for child in sequence.spawn(int(n))]


def make_seed_sequence(shuffle=False) -> np.random.SeedSequence:
    """A ``numpy.random.SeedSequence``, as batchflow makes one.

    Parameters
    ----------
    shuffle : bool, None, int, SeedSequence, or an object with a ``random_seed``
        ``False``, ``True`` or None: fresh OS entropy; a non-negative int: that entropy (the
        same sequence every run); a ``SeedSequence``: itself; a batch (or anything with a
        ``random_seed`` that is a SeedSequence): its seed.

    Examples
    --------
    >>> make_seed_sequence(5).entropy
    5
    >>> sequence = np.random.SeedSequence(1)
    >>> make_seed_sequence(sequence) is sequence
    True
    """
    if shuffle is None or isinstance(shuffle, (bool, np.bool_)):
        return np.random.SeedSequence()
    if isinstance(shuffle, numbers.Integral):
        return np.random.SeedSequence(_check_int_seed(shuffle))
    if isinstance(shuffle, np.random.SeedSequence):
        return shuffle
    if isinstance(getattr(shuffle, "random_seed", None), np.random.SeedSequence):
        return shuffle.random_seed
    raise TypeError(
        f"cannot make a seed sequence from a {type(shuffle).__name__} ({shuffle!r}); pass a bool, "
        "None, an int, a SeedSequence, or a batch"
    )


def spawn_seed_sequence(source) -> np.random.SeedSequence:
    """A new child of ``source``'s seed sequence: each call gives the next, independent one.

    Parameters
    ----------
    source : SeedSequence, or a batch or pipeline with a ``random_seed``

    Examples
    --------
    >>> parent = np.random.SeedSequence(5)
    >>> [spawn_seed_sequence(parent).spawn_key for _ in range(2)]
    [(0,), (1,)]
    """
    sequence = source if isinstance(source, np.random.SeedSequence) else getattr(source, "random_seed", None)
    if not isinstance(sequence, np.random.SeedSequence):
        raise ValueError(
            f"spawn_seed_sequence needs a SeedSequence, or a batch or pipeline that has one "
            f"(got {type(source).__name__}: {source!r:.80})"
        )
    return sequence.spawn(1)[0]
