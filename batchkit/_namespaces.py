"""Namespaces of a pipeline: modules whose functions become steps by name (``add_namespace``)."""

from __future__ import annotations

import importlib
import sys

__all__ = ["as_modules", "find_function"]


def as_modules(namespaces) -> tuple:
    """The modules given, importing those given by name.

    Examples
    --------
    >>> [module.__name__ for module in as_modules(["math", sys])]
    ['math', 'sys']
    """
    modules = []
    for namespace in namespaces:
        if isinstance(namespace, str):
            namespace = importlib.import_module(namespace)
        modules.append(namespace)
    return tuple(modules)


def find_function(namespaces, name: str):
    """The callable ``name`` of the first of ``namespaces`` having one, then of ``__main__``; else None.

    Examples
    --------
    >>> import math
    >>> find_function((math,), "sqrt") is math.sqrt, find_function((math,), "no_such_thing")
    (True, None)
    """
    for namespace in (*namespaces, sys.modules.get("__main__")):
        fn = getattr(namespace, name, None) if namespace is not None else None
        if callable(fn):
            return fn
    return None
