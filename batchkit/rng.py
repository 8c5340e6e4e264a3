"""Random generators: one way to turn a seed of any usual kind into a ``numpy.random.Generator``."""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["make_rng", "spawn_rngs"]

# Entropy words drawn from a legacy RandomState to seed a Generator from it.
_ENTROPY_WORDS = 4


def _check_int_seed(seed) -> int:
    seed = int(seed)
    if seed < 0:
        raise ValueError(f"a seed must be a non-negative int (got {seed}); pass abs(seed) or another int")
    return seed


def make_rng(seed=None) -> np.random.Generator:
    """A ``numpy.random.Generator`` made from ``seed``.

    Parameters
    ----------
    seed : None, True, int, numpy.random.SeedSequence, numpy.random.Generator, numpy.random.BitGenerator \
or numpy.random.RandomState
        - ``None`` or ``True``: a generator seeded from fresh OS entropy.
        - a non-negative int or a ``SeedSequence``: a generator seeded from it (the same stream every run).
        - a ``Generator``: returned as is, so draws advance the caller's generator.
        - a ``BitGenerator``: wrapped in a ``Generator`` that shares its state.
        - a legacy ``RandomState``: a new ``Generator`` seeded with a few words drawn from it. The
          ``RandomState`` advances by those draws only; the result is reproducible whenever the
          ``RandomState`` was seeded, but the two streams are not the same stream.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    TypeError
        ``seed`` is of another type (``False`` included: it means "no randomness", not a seed).
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
    """
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (bool, np.bool_)):
        if seed:
            return np.random.default_rng()
        raise TypeError(
            "make_rng(False): False means no randomness and has no generator; "
            "pass None or True for fresh entropy, or an int seed"
        )
    if isinstance(seed, numbers.Integral):
        return np.random.default_rng(_check_int_seed(seed))
    if isinstance(seed, (np.random.SeedSequence, np.random.BitGenerator)):
        return np.random.default_rng(seed)
    if isinstance(seed, np.random.RandomState):
        words = seed.randint(0, 2**32, size=_ENTROPY_WORDS, dtype=np.uint64)
        return np.random.default_rng(np.random.SeedSequence([int(w) for w in words]))
    raise TypeError(
        f"cannot make a random generator from a {type(seed).__name__} ({seed!r}); pass None, True, "
        "an int, a numpy SeedSequence, a Generator, a BitGenerator or a RandomState"
    )


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
        words = make_rng(seed).integers(0, 2**32, size=_ENTROPY_WORDS, dtype=np.uint64)
        sequence = np.random.SeedSequence([int(w) for w in words])
    return [np.random.default_rng(child) for child in sequence.spawn(int(n))]
