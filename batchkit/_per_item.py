"""Per-item argument values (``P``/``PP``): resolved once per action call, checked, then indexed per call.

An action argument wrapped in ``P(...)``/``PP(...)`` gives each item its own value: the whole
list is worked out once per action call (init and post see it), and call ``i`` of the method
sees element ``i`` (`Calls` does the indexing).
"""

from __future__ import annotations

__all__ = ["check_per_item", "resolve_per_item"]


def _is_per_item(value) -> bool:
    return getattr(type(value), "_batchkit_per_item", False)


def resolve_per_item(instance, args, kwargs):
    """Replace ``P``/``PP`` arguments by their full lists; return the per-item lists apart.

    init and post see the full lists; call ``i`` of the method sees element ``i``.
    """
    if not any(map(_is_per_item, args)) and not any(map(_is_per_item, kwargs.values())):
        return args, kwargs, None
    pipeline = getattr(instance, "pipeline", None)
    per_item, args, kwargs = {}, list(args), dict(kwargs)
    for key, value in [*enumerate(args), *kwargs.items()]:
        if _is_per_item(value):
            values = list(value.resolve(batch=instance, pipeline=pipeline))
            per_item[key] = values
            if type(key) is int:
                args[key] = values
            else:
                kwargs[key] = values
    return tuple(args), kwargs, per_item


def check_per_item(per_item: dict, n_entries: int, qualname: str) -> None:
    for key, values in per_item.items():
        if len(values) != n_entries:
            where = f"argument {key}" if type(key) is int else f"argument {key!r}"
            raise ValueError(
                f"the per-item values of {where} of {qualname} number {len(values)}, "
                f"but init gave {n_entries} entries"
            )
