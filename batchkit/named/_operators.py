"""The operator table of named expressions and how an expression prints.

`BINARY` and `UNARY` map an operator's name to its function (used to evaluate an
`AlgebraicExpression`) and to how it is written; the precedences follow Python's grammar so
that a repr has parentheses exactly where Python needs them (``(B('x') + 1) * 2``) and reads
back as the expression it came from. Nothing here knows the expression classes: an operand is
an expression when its type has ``_repr_precedence``, which keeps this module at the bottom
of `batchkit.named`.
"""

from __future__ import annotations

import operator
import reprlib
from numbers import Real

import numpy as np

#: precedence of names, calls, attribute access and indexing (binds tightest)
PRIMARY = 16
_UNARY_PRECEDENCE = 14
_COMPARISON = 7

#: binary operators: name -> (function, symbol, precedence), precedences as in Python's grammar
BINARY = {
    "pow": (operator.pow, "**", 15),
    "mul": (operator.mul, "*", 13),
    "matmul": (operator.matmul, "@", 13),
    "truediv": (operator.truediv, "/", 13),
    "floordiv": (operator.floordiv, "//", 13),
    "mod": (operator.mod, "%", 13),
    "add": (operator.add, "+", 12),
    "sub": (operator.sub, "-", 12),
    "and": (operator.and_, "&", 10),
    "xor": (operator.xor, "^", 9),
    "or": (operator.or_, "|", 8),
    "lt": (operator.lt, "<", _COMPARISON),
    "le": (operator.le, "<=", _COMPARISON),
    "gt": (operator.gt, ">", _COMPARISON),
    "ge": (operator.ge, ">=", _COMPARISON),
}

#: unary operators: name -> (function, prefix); ``abs`` reads as a call
UNARY = {
    "neg": (operator.neg, "-"),
    "pos": (operator.pos, "+"),
    "invert": (operator.invert, "~"),
    "abs": (abs, None),
}


def _make_short_repr() -> reprlib.Repr:
    short = reprlib.Repr()  # keyword arguments arrived only in Python 3.12
    short.maxstring = short.maxother = 60
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 6
    short.maxlevel = 3
    return short


_short = _make_short_repr()


def operand_repr(value) -> tuple[str, int]:
    """The repr of an operand and its precedence (a constant is short, a negative number unary)."""
    text_of = getattr(type(value), "_repr_precedence", None)
    if text_of is not None:
        return repr(value), value._repr_precedence()
    if isinstance(value, Real) and not isinstance(value, bool) and value < 0:
        return _short.repr(value), _UNARY_PRECEDENCE
    if isinstance(value, np.ndarray):
        return _short.repr(value).replace("\n", ""), PRIMARY
    return _short.repr(value), PRIMARY


def wrap(value, weaker_than: int) -> str:
    """``value``'s repr, in parentheses when its precedence is below ``weaker_than``."""
    text, precedence = operand_repr(value)
    return f"({text})" if precedence < weaker_than else text


def binary_repr(op: str, left, right) -> str:
    _, symbol, precedence = BINARY[op]
    if op == "pow":  # right-associative, and binds tighter than a unary minus on its left
        return f"{wrap(left, precedence + 1)} {symbol} {wrap(right, _UNARY_PRECEDENCE)}"
    if precedence == _COMPARISON:  # no accidental chained comparison
        return f"{wrap(left, precedence + 1)} {symbol} {wrap(right, precedence + 1)}"
    return f"{wrap(left, precedence)} {symbol} {wrap(right, precedence + 1)}"


def unary_repr(op: str, operand) -> str:
    prefix = UNARY[op][1]
    if prefix is None:
        return f"{op}({operand_repr(operand)[0]})"
    return f"{prefix}{wrap(operand, _UNARY_PRECEDENCE)}"


def key_repr(key) -> str:
    """How ``key`` reads inside ``[...]``: slices as ``a:b``, tuples without parentheses."""
    if isinstance(key, tuple) and not hasattr(type(key), "_fields"):
        if len(key) == 1:
            return f"{key_repr(key[0])},"
        return ", ".join(key_repr(k) for k in key)
    if isinstance(key, slice):
        parts = ["" if part is None else operand_repr(part)[0] for part in (key.start, key.stop, key.step)]
        return ":".join(parts[:2]) if key.step is None else ":".join(parts)
    if key is Ellipsis:
        return "..."
    return operand_repr(key)[0]


def arguments_repr(args, kwargs) -> str:
    """``1, b=2``: the arguments of a call, as they would be written."""
    return ", ".join([operand_repr(a)[0] for a in args] + [f"{k}={operand_repr(v)[0]}" for k, v in kwargs])


def callable_name(fn) -> str:
    """A short readable name of ``fn`` (its qualified name when it has one)."""
    if getattr(type(fn), "_repr_precedence", None) is not None:
        return wrap(fn, PRIMARY)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    return name if isinstance(name, str) else _short.repr(fn)
