"""Named expressions: values an action's arguments take from the batch or the pipeline, per batch.

An expression names something that exists only when a batch runs: a batch attribute (``B``), a
pipeline variable (``V``), a config item (``C``), a dataset attribute (``D``), a function call
(``F``), a random draw (``R``) or the iteration counters (``I``). Operators, attribute access,
indexing and calls on an expression build a bigger expression, evaluated lazily by
`eval_expr` (or ``expr.get(batch, pipeline)``). ``W`` shields an expression from
evaluation; ``P`` and ``PP`` mark per-item arguments of an ``inbatch_parallel`` action.

Expressions are immutable, hashable (by identity: ``==`` is not overloaded) and picklable.

Examples
--------
>>> import numpy as np
>>> from batchkit import Batch
>>> class Images(Batch):
...     components = ("images",)
>>> batch = Images.from_data(data=np.zeros((4, 8, 8)))
>>> expr = B("images").shape[0] + 1
>>> expr
B('images').shape[0] + 1
>>> expr.get(batch)
5
>>> eval_expr({"n": expr, "size": [B("images").shape[1:], 3]}, batch=batch)
{'n': 5, 'size': [(8, 8), 3]}
"""

from __future__ import annotations

import copy
import difflib

import numpy as np

from . import _named_ops as ops
from ._named_ops import (
    AlgebraicExpression,
    NamedExpression,
    W,
    check_name,
    config_lookup,
    evaluate,
    evaluate_top,
    merge_size,
    need,
    pipeline_of,
)
from .rng import make_rng

__all__ = [
    "PP",
    "AlgebraicExpression",
    "B",
    "C",
    "D",
    "F",
    "I",
    "NamedExpression",
    "P",
    "R",
    "V",
    "W",
    "eval_expr",
    "is_named",
]


class _NotGiven:
    """The "no default" marker of ``C`` (one instance; pickles by reference)."""

    def __reduce__(self):
        return "_NOT_GIVEN"

    def __repr__(self) -> str:
        return "<not given>"


_NOT_GIVEN = _NotGiven()


class _ByName(type):
    """``B.images`` is ``B("images")`` (as in batchflow)."""

    def __getattr__(cls, name):
        if name.startswith("_"):
            raise AttributeError(f"type object {cls.__name__!r} has no attribute {name!r}")
        return cls(name)


class B(NamedExpression, metaclass=_ByName):
    """A batch attribute or component, ``getattr(batch, name)``; the batch itself when ``name`` is None.

    Parameters
    ----------
    name : str, optional
        The attribute or component.
    mode : str
        The default mode of `set` (``setattr(batch, name, value)``).
    copy : bool
        Evaluate to a deep copy.
    """

    __slots__ = ("_copy", "_mode", "_name")

    def __init__(self, name=None, mode="w", copy=False):
        object.__setattr__(self, "_name", check_name("B", name, optional=True))
        object.__setattr__(self, "_mode", ops.check_mode(mode))
        object.__setattr__(self, "_copy", bool(copy))

    def _evaluate(self, batch, pipeline, size):
        batch = need(batch, "batch", self)
        value = batch if self._name is None else getattr(batch, self._name)
        return copy.deepcopy(value) if self._copy else value

    def _assignable(self) -> bool:
        return self._name is not None

    def _current(self, batch, pipeline):
        return getattr(need(batch, "batch", self), self._name, None)

    def _store(self, value, batch, pipeline):
        if self._name is None:
            raise TypeError("B() is the batch itself and cannot be assigned; name an attribute: B('name')")
        setattr(need(batch, "batch", self), self._name, value)

    def __repr__(self) -> str:
        parts = [] if self._name is None else [repr(self._name)]
        parts += [f"mode={self._mode!r}"] if self._mode != "w" else []
        parts += ["copy=True"] if self._copy else []
        return f"B({', '.join(parts)})"


class V(NamedExpression, metaclass=_ByName):
    """A pipeline variable: ``pipeline.get_variable(name)``; set by ``pipeline.set_variable``.

    Parameters
    ----------
    name : str
        The variable.
    mode : str
        The default mode of `set`, passed on as
        ``pipeline.set_variable(name, value, mode=mode)`` (one letter: ``"w"``, ``"a"``, ``"e"``, ``"u"``).
    """

    __slots__ = ("_mode", "_name")

    def __init__(self, name, mode="w"):
        object.__setattr__(self, "_name", check_name("V", name))
        object.__setattr__(self, "_mode", ops.check_mode(mode))

    def _evaluate(self, batch, pipeline, size):
        return need(pipeline, "pipeline", self).get_variable(self._name)

    def _assign(self, value, batch, pipeline, mode):
        need(pipeline, "pipeline", self).set_variable(self._name, value, mode=mode)

    def __repr__(self) -> str:
        return f"V({self._name!r}{'' if self._mode == 'w' else f', mode={self._mode!r}'})"


class C(NamedExpression, metaclass=_ByName):
    """A config item: ``pipeline.config[name]``; ``"a/b"`` reads ``config["a"]["b"]``.

    Parameters
    ----------
    name : str, optional
        The key (the whole config when None).
    default : optional
        Returned when the key is missing; without it a missing key raises ``KeyError``.
    """

    __slots__ = ("_default", "_name")

    def __init__(self, name=None, default=_NOT_GIVEN):
        object.__setattr__(self, "_name", check_name("C", name, optional=True))
        object.__setattr__(self, "_default", default)

    def _evaluate(self, batch, pipeline, size):
        config = getattr(need(pipeline, "pipeline", self), "config", None)
        if self._name is None:
            return config
        try:
            return config_lookup(config, self._name)
        except KeyError:
            if self._default is _NOT_GIVEN:
                raise
            return self._default

    def _assignable(self) -> bool:
        return self._name is not None

    def _current(self, batch, pipeline):
        try:
            return config_lookup(getattr(pipeline, "config", None), self._name)
        except KeyError:
            return None

    def _store(self, value, batch, pipeline):
        if self._name is None:
            raise TypeError("C() is the whole config and cannot be assigned; name a key: C('name')")
        node = need(pipeline, "pipeline", self).config
        parts = [self._name] if "/" not in self._name or self._name in node else self._name.split("/")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value

    def __repr__(self) -> str:
        parts = [] if self._name is None else [repr(self._name)]
        parts += [] if self._default is _NOT_GIVEN else [f"default={ops.operand_repr(self._default)[0]}"]
        return f"C({', '.join(parts)})"


class D(NamedExpression, metaclass=_ByName):
    """A dataset attribute: ``getattr(batch.dataset or pipeline.dataset, name)`` (the dataset if None)."""

    __slots__ = ("_name",)

    def __init__(self, name=None):
        object.__setattr__(self, "_name", check_name("D", name, optional=True))

    def _evaluate(self, batch, pipeline, size):
        dataset = getattr(batch, "dataset", None) if batch is not None else None
        if dataset is None:
            dataset = getattr(pipeline, "dataset", None)
        dataset = need(dataset, "dataset (on the batch or the pipeline)", self)
        return dataset if self._name is None else getattr(dataset, self._name)

    def __repr__(self) -> str:
        return "D()" if self._name is None else f"D({self._name!r})"


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
        arguments = ops.arguments_repr(self._args, self._kwargs)
        return f"F({ops.callable_name(self._fn)}{', ' + arguments if arguments else ''})"


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
        return f"R({ops.arguments_repr((self._name, *self._args), kwargs)})"


_ITERATION = {"current": "current", "c": "current", "max": "max", "m": "max", "ratio": "ratio", "r": "ratio"}


class I(NamedExpression):  # noqa: E742 - batchflow's name
    """Iteration counters read from the batch, counted as batchflow counts them.

    Parameters
    ----------
    what : {"current", "c", "max", "m", "ratio", "r"}
        ``"current"``: the batch's number in the run, **from 1** (``batch.iteration``);
        ``"max"``: how many batches the run makes, or None when that is unknown (an endless
        stream, after a ``rebatch``); ``"ratio"``: current / max, which raises ``ValueError``
        when the total is unknown. Outside a run (no iteration set) each raises ``ValueError``.
    """

    __slots__ = ("_what",)

    def __init__(self, what="current"):
        if what not in _ITERATION:
            raise ValueError(f"I() takes one of {sorted(_ITERATION)} (got {what!r})")
        object.__setattr__(self, "_what", _ITERATION[what])

    def _current(self, batch) -> int:
        value = getattr(batch, "iteration", None)
        if value is None:
            raise ValueError(f"{self!r}: the batch's iteration is unknown (it is not in a run)")
        return value

    def _evaluate(self, batch, pipeline, size):
        batch = need(batch, "batch", self)
        total = getattr(batch, "n_iterations", None)
        if self._what == "max":
            return total
        current = self._current(batch)
        if self._what == "current":
            return current
        if total is None:
            raise ValueError(f"{self!r}: the run's number of batches is unknown, so there is no ratio")
        return current / total

    def __repr__(self) -> str:
        return f"I({self._what!r})"


def _batch_length(batch, marker) -> int:
    if batch is None:
        raise ValueError(f"{marker!r} needs the batch: it gives one value per item")
    return len(batch)


class P:
    """Per-item values of an ``inbatch_parallel`` action's argument: call ``i`` gets value ``i``.

    Parameters
    ----------
    source : NamedExpression, list, tuple, range or numpy.ndarray
        An expression evaluated with ``size=len(batch)`` (so ``P(R("normal"))`` draws one value
        per item) that must give one value per item, or the per-item values themselves.
    """

    __slots__ = ("source",)
    _batchkit_per_item = True

    def __init__(self, source):
        if not isinstance(source, (NamedExpression, list, tuple, range, np.ndarray)) or (
            isinstance(source, np.ndarray) and source.ndim == 0
        ):
            raise TypeError(
                f"{type(self).__name__}() takes a named expression or a list, tuple or array of "
                f"per-item values (got {type(source).__name__})"
            )
        self.source = source

    def resolve(self, batch=None, pipeline=None) -> list:
        """The list of per-item values for ``batch``: one per item (``ValueError`` otherwise)."""
        n = _batch_length(batch, self)
        pipeline = pipeline_of(batch, pipeline)
        if isinstance(self.source, NamedExpression):
            values = evaluate_top(self.source, batch, pipeline, n)
        else:
            values = eval_expr(self.source, batch, pipeline)
        try:
            count = len(values)
        except TypeError:
            raise ValueError(
                f"{self!r} gave a {type(values).__name__}, which has no length: "
                f"expected one value per item ({n})"
            ) from None
        if count != n:
            raise ValueError(f"{self!r} gave {count} values for a batch of {n} items")
        return values if type(values) is list else list(values)

    def __reduce__(self):
        return type(self), (self.source,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({ops.operand_repr(self.source)[0]})"


class PP(P):
    """Per-item values computed by evaluating an expression once per item (for values whose shape varies)."""

    __slots__ = ()

    def __init__(self, source):
        if not isinstance(source, NamedExpression):
            raise TypeError(f"PP() takes a named expression (got {type(source).__name__})")
        super().__init__(source)

    def resolve(self, batch=None, pipeline=None) -> list:
        """One evaluation of the expression per item of ``batch``, as a list."""
        n = _batch_length(batch, self)
        pipeline = pipeline_of(batch, pipeline)
        return [evaluate_top(self.source, batch, pipeline, None) for _ in range(n)]


def is_named(obj) -> bool:
    """Whether ``obj`` is a named expression (``W``, ``P`` and ``PP`` are markers, not expressions).

    Examples
    --------
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
    >>> class Pipeline:
    ...     config = {"model": {"depth": 3}}
    ...     def get_variable(self, name):
    ...         return {"lr": 0.5}[name]
    >>> eval_expr([V("lr") * 2, {C("model/depth"): W(V("lr"))}], pipeline=Pipeline())
    [1.0, {3: V('lr')}]
    """
    return evaluate(obj, batch, pipeline_of(batch, pipeline), None, top=True)
