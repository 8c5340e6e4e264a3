"""Mistakes found before any item runs, each with a message that says what to do.

* `check_role_value`: an ``init``/``post`` that can be neither a name, a callable nor (for init)
  entries, refused when the decorator is applied;
* `missing_name`: a name that resolves to nothing on the batch class, with "did you mean";
* `check_accepts`: an init or post whose signature cannot take the action's arguments;
* `check_crossing`: action arguments that cannot cross to worker processes, found once per
  call (naming the argument), not once per item; open files among them refused outright.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import io
import numbers
import pickle
import weakref
from collections.abc import Iterable

import numpy as np

__all__ = ["check_accepts", "check_crossing", "check_role_value", "missing_name", "suggest"]

_SIGNATURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
#: values that always pickle: not worth pickling a second time just to check
_PLAIN = (numbers.Number, str, bytes, bytearray, type(None), range, slice)


def check_role_value(role: str, value, owner: str) -> None:
    """Refuse an ``init`` or ``post`` that can never work, when the decorator is applied."""
    if value is None or isinstance(value, str) or callable(value):
        return
    if role == "init" and isinstance(value, Iterable):
        return
    expected = (
        "a method name (str), a callable returning one entry per call, or an iterable of entries"
        if role == "init"
        else "a method name (str) or a callable taking (results, *args, **kwargs)"
    )
    raise TypeError(f"{role}= of {owner} must be {expected} (got {value!r})")


def suggest(name: str, candidates) -> str:
    """`` Did you mean 'x'?`` for the closest of ``candidates``, or ``""``."""
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _names_of(cls) -> tuple[set, tuple]:
    declared = getattr(cls, "components", None) or ()
    components = (declared,) if isinstance(declared, str) else tuple(declared)
    return {name for name in dir(cls) if not name.startswith("__")}, components


def missing_name(role: str, value: str, cls, owner: str) -> AttributeError | None:
    """The error for ``role=value`` when ``value`` names nothing on ``cls``; None if it resolves."""
    attributes, components = _names_of(cls)
    if value in attributes or value in components:
        return None
    return AttributeError(
        f"{role}={value!r} of {owner} names no method, property or component of {cls.__name__} "
        f"(components: {list(components)}).{suggest(value, [*attributes, *components])}"
    )


def looks_misspelled(value: str, cls) -> bool:
    """Whether ``value`` is missing from ``cls`` while a near name exists (a likely typo)."""
    attributes, components = _names_of(cls)
    return (
        value not in attributes
        and value not in components
        and bool(suggest(value, [*attributes, *components]))
    )


def _signature(fn) -> inspect.Signature | None:
    """``fn``'s signature, cached per function (a bound method drops its first parameter)."""
    func = getattr(fn, "__func__", fn)
    try:
        signature = _SIGNATURES.get(func)
    except TypeError:  # not weak-referenceable: look it up each time
        signature = None
    if signature is None:
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):  # builtins and the like: nothing to check
            return None
        with contextlib.suppress(TypeError):  # not weak-referenceable: not cached
            _SIGNATURES[func] = signature
    if func is not fn and signature.parameters:  # a bound method: self is given already
        signature = signature.replace(parameters=tuple(signature.parameters.values())[1:])
    return signature


def check_accepts(fn, args: tuple, kwargs: dict, role: str, owner: str, first: str = "") -> None:
    """Raise a TypeError naming the rule when ``fn`` cannot be called with these arguments."""
    signature = _signature(fn)
    if signature is None:
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as why:
        given = ", ".join([*([first] if first else []), *map(_kind, args[1 if first else 0 :])])
        named = ", ".join(f"{key}=" for key in kwargs)
        raise TypeError(
            f"{role} of {owner} is called with {'the results list, then ' if first else ''}the action's "
            f"positional and keyword arguments (here: ({given}{', ' if given and named else ''}{named})), "
            f"but {getattr(fn, '__qualname__', fn)}{signature} cannot take them: {why}. Give it the same "
            "parameters as the action (or *args, **kwargs)."
        ) from None


def check_worker_method(method, args: tuple, kwargs: dict, owner: str, target) -> None:
    """Explain the worker-function contract when the method cannot be called the way it is."""
    signature = _signature(method)
    if signature is None:
        return
    try:
        signature.bind(None, *args, **kwargs)
    except TypeError as why:
        raise TypeError(
            f"{owner} is declared with target={target!r}, so it is called once, in the caller, with "
            f"the action's own arguments only, and must return the function the workers run per "
            f"item; {owner}{signature} cannot be called that way ({why}). If it was written to "
            "handle one item, move its body into a module-level function taking the item and "
            "return that function: def work(item): ... then `return work`."
        ) from None


def _kind(value) -> str:
    return type(value).__name__


def _is_open_file(value) -> bool:
    """A file object backed by the operating system (in-memory buffers are plain data)."""
    return isinstance(value, io.IOBase) and not isinstance(value, (io.BytesIO, io.StringIO))


def check_crossing(calls, target: str, owner: str) -> None:
    """Refuse, before any item runs, what cannot cross to ``target``'s worker processes.

    The action's own arguments are the same for every item: one that cannot be pickled is
    reported once, by position or name, and an open file is refused (cloudpickle would copy its
    contents). Entries differ per item, and scanning them would cost a pass over every call: an
    entry that cannot cross fails its own item when its chunk is pickled, and the process
    targets' pickler refuses open files there too.
    """
    named = [(f"argument {i}", value) for i, value in enumerate(calls.args)]
    named += [(f"argument {key!r}", value) for key, value in calls.kwargs.items()]
    for where, value in named:
        if _is_open_file(value):
            raise TypeError(_file_message(f"{where} of {owner}", value, target))
        if isinstance(value, _PLAIN) or (isinstance(value, np.ndarray) and value.dtype != object):
            continue
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            import cloudpickle

            try:
                cloudpickle.dumps(value)
            except Exception as why:
                raise TypeError(
                    f"{where} of {owner} (of type {type(value).__name__}) cannot be pickled to cross "
                    f"to the worker processes of target={target!r}: {why}. Pass something that "
                    "pickles (a path, an array, plain data) or use target='threads'."
                ) from why


def _file_message(where: str, file, target: str) -> str:
    name = getattr(file, "name", None)
    what = f"an open file ({name!r})" if name is not None else f"an open file ({type(file).__name__})"
    return (
        f"{where} is {what}: it cannot cross to the worker processes of target={target!r} "
        "(they would get a copy, or nothing). Pass its path and open it in the item."
    )
