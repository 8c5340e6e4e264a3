"""The machinery of `named`: the expression base class, operators, reprs, evaluation."""

from __future__ import annotations

import copy
import operator
import reprlib
from numbers import Real

import numpy as np

from .variables import MODES, apply_mode

__all__ = [
    "AlgebraicExpression",
    "NamedExpression",
    "W",
    "evaluate",
    "evaluate_top",
    "pipeline_of",
]

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


def check_mode(mode) -> str:
    """The one-letter spelling of an assignment ``mode`` (``ValueError`` if there is none)."""
    try:
        return MODES[mode]
    except (KeyError, TypeError):
        raise ValueError(f"mode must be one of {sorted(set(MODES))} (got {mode!r})") from None


def assign_mode(current, value, mode: str):
    """The new value after assigning ``value`` over ``current`` in ``mode`` (one letter).

    Lists grow and dicts or sets update in place; a numpy array gets a new array: ``"a"`` adds
    ``value`` as one more element along the first axis, ``"e"`` concatenates ``value``.
    """
    if mode == "w":
        return value
    if isinstance(current, np.ndarray) and mode in ("a", "e"):
        value = np.asarray(value)
        return np.concatenate([current, value[np.newaxis] if mode == "a" else value])
    try:
        return apply_mode(current, value, mode)
    except AttributeError:
        verb = {"a": "append to", "e": "extend", "u": "update"}[mode]
        raise TypeError(f"cannot {verb} a {type(current).__name__} (mode {mode!r})") from None


def check_name(kind: str, name, optional: bool = False):
    if (name is None and optional) or isinstance(name, str):
        return name
    raise TypeError(f"{kind}() takes a name (str{' or None' if optional else ''}), got {name!r}")


def need(what, thing: str, expr):
    if what is None:
        raise ValueError(f"{expr!r} needs a {thing} to evaluate, and got none")
    return what


def config_lookup(config, name: str):
    if config is None:
        raise KeyError(f"config has no key {name!r} (the pipeline has no config)")
    try:
        return config[name]
    except (KeyError, TypeError, IndexError):
        if "/" not in name:
            raise KeyError(f"config has no key {name!r}") from None
    node, path = config, []
    for part in name.split("/"):
        try:
            node = node[part]
        except (KeyError, TypeError, IndexError):
            where = f" under {'/'.join(path)!r}" if path else ""
            raise KeyError(f"config has no key {name!r} ({part!r} is missing{where})") from None
        path.append(part)
    return node


def merge_size(outer, inner):
    if outer is None:
        return inner
    outer = (outer,) if np.ndim(outer) == 0 else tuple(outer)
    if inner is None:
        return outer
    return outer + ((inner,) if np.ndim(inner) == 0 else tuple(inner))


_NOTE = "batchkit: failed to evaluate the named expression "
_ATOMS = frozenset({int, float, str, bytes, bool, complex, type(None), np.ndarray})


def _restore(cls, state):
    obj = object.__new__(cls)
    for name, value in state.items():
        object.__setattr__(obj, name, value)
    return obj


class NamedExpression:
    """Base of all named expressions: evaluate with `get`, assign with `set`.

    Arithmetic (``+ - * / // % ** @``, unary ``- +``, ``abs``), ordering comparisons
    (``< <= > >=``), bitwise operators (``& | ^ ~``), attribute access, indexing and calls all
    build an `AlgebraicExpression`. ``==`` and ``!=`` keep their identity meaning, so an
    expression can be a dict key. Private and dunder attribute names are not turned into
    expressions; neither are ``get`` and ``set``, which are methods.
    """

    __slots__ = ()
    __array_ufunc__ = None  # numpy defers to the reflected operators: ``array + B("x")`` is an expression
    _mode = "w"

    def _evaluate(self, batch, pipeline, size):
        raise NotImplementedError

    def _current(self, batch, pipeline):
        raise NotImplementedError

    def _store(self, value, batch, pipeline):
        raise TypeError(f"{self!r} cannot be assigned (only B, V, C, attributes and items of them can)")

    def _assignable(self) -> bool:
        return type(self)._store is not NamedExpression._store

    def _repr_precedence(self) -> int:
        return PRIMARY

    def get(self, batch=None, pipeline=None, *, size=None):
        """Evaluate the expression for ``batch`` in ``pipeline``.

        Parameters
        ----------
        batch : Batch, optional
            The batch (``B``, ``D``, ``I`` and random draws need it).
        pipeline : optional
            The pipeline (``V`` and ``C`` need it); ``batch.pipeline`` when not given.
        size : int or tuple, optional
            Prepended to the size of every random draw (``R``) in the expression.
        """
        return evaluate_top(self, batch, pipeline_of(batch, pipeline), size)

    def set(self, value, batch=None, pipeline=None, mode=None):
        """Assign ``value`` to what the expression names.

        Parameters
        ----------
        value
            Stored as given (evaluate it first if it is an expression).
        batch, pipeline : optional
            As for `get`.
        mode : {"w", "a", "e", "u"} or {"write", "append", "extend", "update"}, optional
            Write (replace), append to a list, extend a list, update a dict or set. Default:
            the mode the expression was made with, ``"w"`` unless given.
        """
        mode = check_mode(self._mode if mode is None else mode)
        pipeline = pipeline_of(batch, pipeline)
        try:
            self._assign(value, batch, pipeline, mode)
        except Exception as error:
            error.add_note(f"batchkit: failed to assign to the named expression {self!r} (mode {mode!r})")
            raise

    def _assign(self, value, batch, pipeline, mode):
        if not self._assignable():
            NamedExpression._store(self, value, batch, pipeline)  # raises: not assignable
        if mode != "w":
            value = assign_mode(self._current(batch, pipeline), value, mode)
        self._store(value, batch, pipeline)

    # -- immutability, pickling, no accidental protocols -------------------------------------

    def __setattr__(self, name, value):
        raise AttributeError(f"named expressions are immutable (cannot set {name!r})")

    def __delattr__(self, name):
        raise AttributeError(f"named expressions are immutable (cannot delete {name!r})")

    def __reduce__(self):
        slots = [s for cls in type(self).__mro__ for s in getattr(cls, "__slots__", ())]
        return _restore, (type(self), {name: getattr(self, name) for name in slots})

    def __iter__(self):
        raise TypeError(f"{self!r} is not iterable: evaluate it first (eval_expr or .get)")

    # -- building bigger expressions ---------------------------------------------------------

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(
                f"{type(self).__name__!r} expression has no attribute {name!r} "
                "(private and dunder names do not build expressions)"
            )
        return AlgebraicExpression("getattr", (self, name))

    def __getitem__(self, key):
        return AlgebraicExpression("getitem", (self, key))

    def __call__(self, *args, **kwargs):
        return AlgebraicExpression("call", (self, args, tuple(kwargs.items())))

    def __neg__(self):
        return AlgebraicExpression("neg", (self,))

    def __pos__(self):
        return AlgebraicExpression("pos", (self,))

    def __abs__(self):
        return AlgebraicExpression("abs", (self,))

    def __invert__(self):
        return AlgebraicExpression("invert", (self,))


def _binary(op: str, reflected: bool = False):
    if reflected:

        def method(self, other):
            return AlgebraicExpression(op, (other, self))

    else:

        def method(self, other):
            return AlgebraicExpression(op, (self, other))

    left, right = ("other", "self") if reflected else ("self", "other")
    method.__name__ = f"__r{op}__" if reflected else f"__{op}__"
    method.__qualname__ = f"NamedExpression.{method.__name__}"
    method.__doc__ = f"``{left} {BINARY[op][1]} {right}``, evaluated lazily."
    return method


for _op in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "matmul", "and", "or", "xor"):
    setattr(NamedExpression, f"__{_op}__", _binary(_op))
    setattr(NamedExpression, f"__r{_op}__", _binary(_op, reflected=True))
for _op in ("lt", "le", "gt", "ge"):  # Python reflects these itself: ``1 < x`` is ``x > 1``
    setattr(NamedExpression, f"__{_op}__", _binary(_op))
del _op


class AlgebraicExpression(NamedExpression):
    """An operator, attribute access, indexing or call applied to expressions (and constants).

    Built by the operators of `NamedExpression`; not meant to be made directly.
    """

    __slots__ = ("_op", "_operands")

    def __init__(self, op: str, operands: tuple):
        object.__setattr__(self, "_op", op)
        object.__setattr__(self, "_operands", operands)

    def _evaluate(self, batch, pipeline, size):
        op, operands = self._op, self._operands
        if op in BINARY:
            left, right = (evaluate(x, batch, pipeline, size) for x in operands)
            return BINARY[op][0](left, right)
        if op in UNARY:
            return UNARY[op][0](evaluate(operands[0], batch, pipeline, size))
        target = evaluate(operands[0], batch, pipeline, size)
        if op == "getattr":
            return getattr(target, operands[1])
        if op == "getitem":
            return target[evaluate(operands[1], batch, pipeline, size)]
        args = evaluate(operands[1], batch, pipeline, size)
        return target(*args, **{k: evaluate(v, batch, pipeline, size) for k, v in operands[2]})

    def _assignable(self) -> bool:
        return self._op in ("getattr", "getitem")

    def _current(self, batch, pipeline):
        target = evaluate(self._operands[0], batch, pipeline, None)
        if self._op == "getattr":
            return getattr(target, self._operands[1], None)
        try:
            return target[evaluate(self._operands[1], batch, pipeline, None)]
        except (KeyError, IndexError):
            return None

    def _store(self, value, batch, pipeline):
        if not self._assignable():
            return super()._store(value, batch, pipeline)
        target = evaluate(self._operands[0], batch, pipeline, None)
        if self._op == "getattr":
            setattr(target, self._operands[1], value)
        else:
            target[evaluate(self._operands[1], batch, pipeline, None)] = value

    def _repr_precedence(self) -> int:
        if self._op in BINARY:
            return BINARY[self._op][2]
        return _UNARY_PRECEDENCE if self._op in ("neg", "pos", "invert") else PRIMARY

    def __repr__(self) -> str:
        op, operands = self._op, self._operands
        if op in BINARY:
            return binary_repr(op, *operands)
        if op in UNARY:
            return unary_repr(op, operands[0])
        target = wrap(operands[0], PRIMARY)
        if op == "getattr":
            return f"{target}.{operands[1]}"
        if op == "getitem":
            return f"{target}[{key_repr(operands[1])}]"
        return f"{target}({arguments_repr(operands[1], operands[2])})"


class W:
    """Wraps an expression so that `eval_expr` returns it unevaluated (as ``.expr``)."""

    __slots__ = ("expr",)

    def __init__(self, expr):
        self.expr = expr

    def __reduce__(self):
        return W, (self.expr,)

    def __repr__(self) -> str:
        return f"W({self.expr!r})"


def pipeline_of(batch, pipeline):
    """``pipeline``, or the batch's own when not given."""
    if pipeline is None and batch is not None:
        return getattr(batch, "pipeline", None)
    return pipeline


def evaluate_noted(expr, batch, pipeline, size):
    """``expr`` evaluated; an error from inside gets a note naming the innermost failing expression."""
    try:
        return expr._evaluate(batch, pipeline, size)
    except Exception as error:
        if not any(note.startswith(_NOTE) for note in getattr(error, "__notes__", ())):
            error.add_note(f"{_NOTE}{expr!r}")
        raise


def evaluate_top(expr, batch, pipeline, size):
    """`evaluate_noted`, plus a note naming ``expr`` when a part of it failed."""
    try:
        return evaluate_noted(expr, batch, pipeline, size)
    except Exception as error:
        note = f"{_NOTE}{expr!r}"
        if note not in error.__notes__:
            error.add_note(f"batchkit: ... as part of {expr!r}")
        raise


def evaluate_items(items, batch, pipeline, size, top=False):
    """The evaluated items, or None when none of them changed."""
    values = [evaluate(item, batch, pipeline, size, top) for item in items]
    return None if all(v is i for v, i in zip(values, items, strict=True)) else values


def evaluate(obj, batch, pipeline, size, top=False):
    """``obj`` with its named expressions evaluated, through containers (``top``: outermost ones).

    An outermost expression adds a note naming itself to an error from inside it.
    """
    kind = type(obj)
    if kind in _ATOMS:
        return obj
    if isinstance(obj, NamedExpression):
        return (evaluate_top if top else evaluate_noted)(obj, batch, pipeline, size)
    if isinstance(obj, W):
        return obj.expr
    if isinstance(obj, (list, tuple, set, frozenset)):
        values = evaluate_items(list(obj), batch, pipeline, size, top)
        if values is None:
            return obj
        if kind in (list, tuple, set, frozenset):
            return kind(values)
        if isinstance(obj, tuple) and hasattr(kind, "_fields"):
            return kind(*values)
        try:
            return kind(values)
        except TypeError:
            return next(t for t in (list, tuple, set, frozenset) if isinstance(obj, t))(values)
    if isinstance(obj, dict):
        pairs = evaluate_items(list(obj.items()), batch, pipeline, size, top)
        if pairs is None:
            return obj
        if kind is dict:
            return dict(pairs)
        new = copy.copy(obj)  # keeps a subclass's extras (a defaultdict's factory)
        new.clear()
        new.update(pairs)
        return new
    if kind is slice and any(isinstance(p, NamedExpression) for p in (obj.start, obj.stop, obj.step)):
        return slice(*(evaluate(p, batch, pipeline, size, top) for p in (obj.start, obj.stop, obj.step)))
    return obj
