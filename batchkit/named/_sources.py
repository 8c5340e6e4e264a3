"""The expressions naming a value that exists when a batch runs: `B`, `V`, `C`, `D` and `I`.

A batch attribute or component (`B`), a pipeline variable (`V`), a config item (`C`), a
dataset attribute (`D`) and the iteration counters (`I`). `B`, `V` and `C` can also be
assigned (``expr.set(value, batch, pipeline)``). ``B.images`` spells ``B("images")`` (and so
for `V`, `C`, `D`), as in batchflow.
"""

from __future__ import annotations

import copy

from ._base import NamedExpression
from ._modes import check_mode
from ._operators import operand_repr


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
        object.__setattr__(self, "_mode", check_mode(mode))
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
        object.__setattr__(self, "_mode", check_mode(mode))

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
        parts += [] if self._default is _NOT_GIVEN else [f"default={operand_repr(self._default)[0]}"]
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
