"""``L``: a list of objects (a component holding one object per item), worked on item by item.

``L("shapes").area`` is ``[shape.area for shape in batch.shapes]``; a call or an index applies
to each object the same way, and each step gives a list again, so steps chain:
``L("shapes").scaled(2).area``. Arithmetic on the result is plain list arithmetic.
"""

from __future__ import annotations

from ._base import NamedExpression, evaluate
from ._operators import arguments_repr, key_repr, operand_repr

__all__ = ["L"]


class L(NamedExpression):
    """A list of objects, with attribute access, indexing and calls applied to each (batchflow's ``L``).

    Parameters
    ----------
    source : str, named expression or sequence
        A batch component's name, an expression giving the objects (``B("shapes")``), or the
        objects themselves.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from batchkit import L
    >>> halves = L([Fraction(1, 2), Fraction(3, 4)])
    >>> halves.denominator.get()
    [2, 4]
    >>> halves.limit_denominator(2).get()
    [Fraction(1, 2), Fraction(1, 1)]
    >>> halves.as_integer_ratio()[0].get()
    [1, 3]
    """

    __slots__ = ("_source", "_steps")

    def __init__(self, source, _steps: tuple = ()):
        object.__setattr__(self, "_source", source)
        object.__setattr__(self, "_steps", tuple(_steps))

    def _then(self, step: tuple) -> L:
        return L(self._source, (*self._steps, step))

    def _objects(self, batch, pipeline, size) -> list:
        if isinstance(self._source, str):
            if batch is None:
                raise ValueError(f"{self!r} needs a batch to evaluate, and got none")
            return list(getattr(batch, self._source))
        return list(evaluate(self._source, batch, pipeline, size))

    def _evaluate(self, batch, pipeline, size):
        objects = self._objects(batch, pipeline, size)
        for kind, *payload in self._steps:
            if kind == "getattr":
                objects = [getattr(obj, payload[0]) for obj in objects]
            elif kind == "getitem":
                key = evaluate(payload[0], batch, pipeline, size)
                objects = [obj[key] for obj in objects]
            else:
                args = evaluate(payload[0], batch, pipeline, size)
                kwargs = {name: evaluate(value, batch, pipeline, size) for name, value in payload[1]}
                objects = [obj(*args, **kwargs) for obj in objects]
        return objects

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(
                f"'L' expression has no attribute {name!r} "
                "(private and dunder names do not build expressions)"
            )
        return self._then(("getattr", name))

    def __getitem__(self, key):
        return self._then(("getitem", key))

    def __call__(self, *args, **kwargs):
        return self._then(("call", args, tuple(kwargs.items())))

    def __repr__(self) -> str:
        source = repr(self._source) if isinstance(self._source, str) else operand_repr(self._source)[0]
        text = f"L({source})"
        for kind, *payload in self._steps:
            if kind == "getattr":
                text += f".{payload[0]}"
            elif kind == "getitem":
                text += f"[{key_repr(payload[0])}]"
            else:
                text += f"({arguments_repr(payload[0], payload[1])})"
        return text
