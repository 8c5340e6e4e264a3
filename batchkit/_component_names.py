"""The rules for component names: identifiers, not taken by `Batch` itself or by the run context."""

from __future__ import annotations

import functools
import keyword

from ._run_context import RUN_CONTEXT_FIELDS

__all__ = ["check_component_names"]


@functools.cache
def _reserved_names() -> frozenset:
    # Batch's own attribute names, looked up once Batch exists (batch.py imports this module).
    from .batch import Batch

    return frozenset(name for name in dir(Batch) if not name.startswith("__")) | {
        "dataset",
        *RUN_CONTEXT_FIELDS,
    }


def check_component_names(names, owner: str) -> tuple[str, ...]:
    """``names`` (a name or an iterable of names) as a tuple, checked for a class named ``owner``.

    >>> check_component_names("images", "Scans")
    ('images',)
    >>> check_component_names(("x", "load"), "Scans")
    Traceback (most recent call last):
    ...
    ValueError: component name 'load' of Scans is taken by Batch itself or private; choose another
    """
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    for name in names:
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise TypeError(f"component names of {owner} must be identifiers (got {name!r})")
        if name in RUN_CONTEXT_FIELDS or name == "run_context":
            raise ValueError(
                f"component name {name!r} of {owner} is taken by the run context (batch.{name} is "
                "set by a pipeline run, see RunContext); choose another"
            )
        if name.startswith("_") or name in _reserved_names():
            raise ValueError(
                f"component name {name!r} of {owner} is taken by Batch itself or private; choose another"
            )
    if len(set(names)) != len(names):
        raise ValueError(f"component names of {owner} repeat: {names}")
    return names
