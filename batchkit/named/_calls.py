"""The expressions computing a value by a call: `F` (a function) and `R` (a random draw).

Both evaluate their arguments first, so any argument can itself be an expression. `R` calls a
method of a numpy random generator: the batch's or the pipeline's (``random``) unless given a
seed, and takes the ``size`` asked at evaluation (``P(R("normal"))`` draws one value per item).
"""

from __future__ import annotations

import difflib

import numpy as np

from ..rng import make_rng
from ._base import NamedExpression, evaluate
from ._operators import arguments_repr, callable_name


def merge_size(outer, inner):
    if outer is None:
        return inner
    outer = (outer,) if np.ndim(outer) == 0 else tuple(outer)
    if inner is None:
        return outer
    return outer + ((inner,) if np.ndim(inner) == 0 else tuple(inner))


class F(NamedExpression):
    """A call: ``fn(*args, **kwargs)`` with every argument evaluated first.

    ``F(fn)(a, b=c)`` is the same as ``F(fn, a, b=c)``; ``fn`` may itself be an expression.
    """

    __slots__ = ("_args", "_fn", "_kwargs")

    def __init__(self, fn, *args, **kwargs):
        if not callable(fn):
            raise TypeError(f"F() takes a callable (got {type(fn).__name__})")
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_args", args)
        object.__setattr__(self, "_kwargs", tuple(kwargs.items()))

    def __call__(self, *args, **kwargs):
        return F(self._fn, *self._args, *args, **{**dict(self._kwargs), **kwargs})

    def _evaluate(self, batch, pipeline, size):
        fn = evaluate(self._fn, batch, pipeline, size)
        args = evaluate(self._args, batch, pipeline, size)
        return fn(*args, **{k: evaluate(v, batch, pipeline, size) for k, v in self._kwargs})

    def __repr__(self) -> str:
        arguments = arguments_repr(self._args, self._kwargs)
        return f"F({callable_name(self._fn)}{', ' + arguments if arguments else ''})"


_RNG_METHODS = sorted(
    {n for kind in (np.random.Generator, np.random.RandomState) for n in dir(kind) if not n.startswith("_")}
)


class R(NamedExpression):
    """A random draw ``rng.<name>(*args, size=size, **kwargs)``; a non-str ``name`` is ``rng.choice(name)``.

    Parameters
    ----------
    name : str or array-like
        A method of ``numpy.random.Generator`` (``"normal"``, ``"integers"``...), or the values to
        choose from.
    *args, **kwargs
        Its arguments (expressions allowed).
    seed : optional
        The generator is ``make_rng(seed)`` at each evaluation (an int seed draws the same values
        every time; pass a Generator for a stream). Without it: ``batch.random``, else
        ``pipeline.random``, else a fresh generator.
    size : int or tuple, optional
        The draw's size. A size given when evaluating (``get(..., size=n)``) is prepended:
        ``(n,) + size``.
    """

    __slots__ = ("_args", "_kwargs", "_name", "_seed", "_size")

    def __init__(self, name, *args, seed=None, size=None, **kwargs):
        if isinstance(name, str) and name not in _RNG_METHODS:
            close = difflib.get_close_matches(name, _RNG_METHODS, n=3)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise AttributeError(f"R({name!r}): numpy random generators have no method {name!r}{hint}")
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_args", args)
        object.__setattr__(self, "_kwargs", tuple(kwargs.items()))
        object.__setattr__(self, "_seed", seed)
        object.__setattr__(self, "_size", size)

    def _rng(self, batch, pipeline):
        if self._seed is not None:
            return make_rng(self._seed)
        for owner in (batch, pipeline):
            rng = getattr(owner, "random", None) if owner is not None else None
            if rng is not None and not callable(rng):  # a generator, not a method named "random"
                return rng
        return np.random.default_rng()

    def _evaluate(self, batch, pipeline, size):
        rng = self._rng(batch, pipeline)
        args = evaluate(self._args, batch, pipeline, None)
        kwargs = {k: evaluate(v, batch, pipeline, None) for k, v in self._kwargs}
        size = merge_size(size, evaluate(self._size, batch, pipeline, None))
        if size is not None:
            kwargs["size"] = size
        if isinstance(self._name, str):
            return getattr(rng, self._name)(*args, **kwargs)
        return rng.choice(evaluate(self._name, batch, pipeline, None), *args, **kwargs)

    def __repr__(self) -> str:
        extra = [("seed", self._seed), ("size", self._size)]
        kwargs = self._kwargs + tuple((k, v) for k, v in extra if v is not None)
        return f"R({arguments_repr((self._name, *self._args), kwargs)})"
