"""The base of named expressions: `NamedExpression`, `AlgebraicExpression`, `W` and evaluation.

`NamedExpression` is the immutable, picklable base class: `get` evaluates, `set` assigns, and
operators, attribute access, indexing and calls build an `AlgebraicExpression`, the node that
applies them. The two live together because each needs the other (the base class builds the
nodes, the nodes are expressions). `evaluate` walks containers and evaluates the expressions in
them, adding a note that names the failing expression to an error; `W` shields an expression
from it. The concrete expressions (`B`, `V`, `R`...) are subclasses defined in the modules
above this one, which implement ``_evaluate`` (and, when assignable, ``_current`` and
``_store``).
"""

from __future__ import annotations

import copy

import numpy as np

from ._modes import assign_mode, check_mode
from ._operators import (
    _UNARY_PRECEDENCE,
    BINARY,
    PRIMARY,
    UNARY,
    arguments_repr,
    binary_repr,
    key_repr,
    unary_repr,
    wrap,
)

__all__ = [
    "AlgebraicExpression",
    "NamedExpression",
    "W",
    "eval_expr",
    "evaluate",
    "evaluate_top",
    "is_named",
    "pipeline_of",
]

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


def is_named(obj) -> bool:
    """Whether ``obj`` is a named expression (``W``, ``P`` and ``PP`` are markers, not expressions).

    Examples
    --------
    >>> from batchkit.named import B, V
    >>> is_named(B("images") + 1), is_named(3), is_named(W(V("x")))
    (True, False, False)
    """
    return isinstance(obj, NamedExpression)


def eval_expr(obj, batch=None, pipeline=None):
    """Evaluate the named expressions in ``obj`` for ``batch`` in ``pipeline``.

    Goes through lists, tuples (named tuples included), dicts (keys and values) and sets, and
    returns ``obj`` itself when nothing in it is an expression. ``W(expr)`` gives ``expr``
    unevaluated; ``P``/``PP`` markers are returned as they are (``inbatch_parallel`` resolves
    them). An error keeps its type and gets a note naming the expression that failed.

    Parameters
    ----------
    obj
        An expression, a container of them, or anything else (returned as is).
    batch : Batch, optional
    pipeline : optional
        ``batch.pipeline`` when not given.

    Examples
    --------
    >>> from batchkit.named import C, V
    >>> class Pipeline:
    ...     config = {"model": {"depth": 3}}
    ...     def get_variable(self, name):
    ...         return {"lr": 0.5}[name]
    >>> eval_expr([V("lr") * 2, {C("model/depth"): W(V("lr"))}], pipeline=Pipeline())
    [1.0, {3: V('lr')}]
    """
    return evaluate(obj, batch, pipeline_of(batch, pipeline), None, top=True)
