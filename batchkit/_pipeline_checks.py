"""Checks at build time: a step is checked against the batch class when it is added.

An action name the batch class lacks fails at once, with the names it has that come close; a
plain method not marked ``@action`` is named as such; a keyword the action does not take
fails too, as do init and post names an ``@inbatch_parallel`` action cannot find (its own
``check_names``). Without a batch class yet, a name is checked against every Batch subclass,
and the steps again once the class is known (`Pipeline._check_all`).
"""

from __future__ import annotations

import difflib
import inspect

__all__ = ["BUILTINS"]

#: actions a pipeline runs itself, whatever the batch class
BUILTINS = frozenset({"update", "save_to", "call", "namespace_call", "rebatch", "merge", "join", "write_to"})


def _batch_subclasses():
    from .batch import Batch

    seen, stack = [], [Batch]
    while stack:
        cls = stack.pop()
        seen.append(cls)
        stack.extend(cls.__subclasses__())
    return seen


def _action_names(cls) -> list[str]:
    return [name for name in dir(cls) if not name.startswith("_") and _is_action(getattr(cls, name, None))]


def _is_action(attribute) -> bool:
    return isinstance(getattr(attribute, "action", None), dict)


def _accepted_keywords(attribute):
    """The keyword names an action accepts, or None when it accepts any."""
    from ._parallel import RESERVED, ParallelMethod
    from .apply import CONTROL_KEYWORDS, ApplyParallelMethod

    fn, reserved = attribute, set()
    for _ in range(8):  # through @action, @inbatch_parallel and @mjit to the user's function
        if isinstance(fn, ParallelMethod):
            reserved |= RESERVED
        elif isinstance(fn, ApplyParallelMethod):
            reserved |= CONTROL_KEYWORDS
        inner = getattr(fn, "__wrapped__", None) or getattr(fn, "_fn", None) or getattr(fn, "py_func", None)
        if inner is None or inner is fn:
            break
        fn = inner
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    names = {p.name for p in parameters if p.kind is not inspect.Parameter.POSITIONAL_ONLY}
    return names | reserved


def _check_names(attribute, batch_class) -> None:
    """Let an action check itself against the batch class (``check_names``, when it has one).

    An ``@inbatch_parallel`` action validates its init and post names this way. It may sit
    under ``@action`` or another wrapper, so the wrappers are looked through as in
    `_accepted_keywords`; the first ``check_names`` found is called.
    """
    fn = attribute
    for _ in range(8):
        check = getattr(fn, "check_names", None)
        if callable(check):
            check(batch_class)
            return
        inner = getattr(fn, "__wrapped__", None) or getattr(fn, "_fn", None)
        if inner is None or inner is fn:
            return
        fn = inner


def _check_action(batch_class, name: str, kwargs: dict | None = None) -> None:
    """Raise if ``batch_class`` (or, when None, every Batch subclass) cannot run ``name(**kwargs)``."""
    classes = [batch_class] if batch_class is not None else _batch_subclasses()
    owners = [cls for cls in classes if _is_action(getattr(cls, name, None))]
    if not owners:
        if batch_class is not None and callable(getattr(batch_class, name, None)):
            raise AttributeError(
                f"{batch_class.__name__}.{name} is a method but not an action: decorate it with @action"
            )
        known = sorted({n for cls in classes for n in _action_names(cls)} | BUILTINS)
        close = difflib.get_close_matches(name, known, n=3)
        where = batch_class.__name__ if batch_class is not None else "any Batch class"
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise AttributeError(f"{where} has no action {name!r}{hint}")
    if batch_class is None:
        return
    attribute = getattr(batch_class, name)
    _check_names(attribute, batch_class)
    if not kwargs:
        return
    accepted = _accepted_keywords(attribute)
    unexpected = sorted(set(kwargs) - accepted) if accepted is not None else []
    if unexpected:
        raise TypeError(f"unexpected keyword arguments for {batch_class.__name__}.{name}(): {unexpected}")


def _check_callable_name(batch_class, name: str) -> None:
    if batch_class is not None and not callable(getattr(batch_class, name, None)):
        close = difflib.get_close_matches(name, [n for n in dir(batch_class) if not n.startswith("_")], n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise AttributeError(f"{batch_class.__name__} has no method {name!r}{hint}")
