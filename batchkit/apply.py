"""``apply_parallel``: run a per-item function over components, writing the results back.

``src`` names where items come from and ``dst`` where results go:

* a string: one component; each item is one element of it;
* a list: several components handled one after another, pairwise with a list ``dst``;
* a tuple: several components together; each item is a tuple of their elements, and a tuple
  ``dst`` takes a tuple result apart.

With ``requires_rng=True`` the function gets ``rng=``, a generator of its own per item, derived
from the batch's seed (set per batch by a pipeline run, or given as ``seed=``) and the item's
position: the draws depend on the seed only, not on the target or the number of workers.
"""

from __future__ import annotations

import functools
import types

import numpy as np

from ._calls import SINGLE, Calls
from ._fanout import Results, failure_error, note_failures, run_calls
from ._per_item import resolve_per_item
from .executors import RunOptions, check_target, get_executor

__all__ = ["CONTROL_KEYWORDS", "ApplyParallelMethod", "apply_parallel", "apply_to_batch", "store_results"]

#: the keywords apply_parallel takes for itself; all others go to the per-item function
CONTROL_KEYWORDS = frozenset(
    {"src", "dst", "target", "n_workers", "timeout", "fail_fast", "init", "post", "requires_rng", "seed", "p"}
)


def _as_column(values: list):
    """Results as one array: stacked when they agree in shape, else a 1-D object array."""
    if values and all(isinstance(v, np.ndarray) for v in values):
        if len({v.shape for v in values}) == 1 and len({v.dtype for v in values}) == 1:
            return np.stack(values)
    elif values and all(np.isscalar(v) for v in values):
        return np.asarray(values)
    column = np.empty(len(values), dtype=object)
    column[:] = [None] * len(values)
    for i, value in enumerate(values):
        column[i] = value
    return column


def _store(batch, name: str, values) -> None:
    if name in (batch.components or ()):
        setattr(batch, name, values)
    else:
        batch.add_components(name, init=values)


def _item_rngs(batch, n_items: int, seed) -> list:
    if seed is not None:
        base = np.random.SeedSequence(seed)
    else:
        base = getattr(batch, "random_seed", None) or np.random.SeedSequence()
    return [
        np.random.default_rng(np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, 3, i)))
        for i in range(n_items)
    ]


class _Drawn:
    """Per-item values of a ``P``/``PP`` argument already drawn: every component gets these."""

    _batchkit_per_item = True

    def __init__(self, values: list):
        self.values = values

    def resolve(self, batch=None, pipeline=None) -> list:
        return self.values


def _drawn_once(batch, args, kwargs):
    """``args`` and ``kwargs`` with each per-item argument drawn now, for every component alike."""
    _, _, per_item = resolve_per_item(batch, args, kwargs)
    if not per_item:
        return args, kwargs
    args, kwargs = list(args), dict(kwargs)
    for key, values in per_item.items():
        if type(key) is int:
            args[key] = _Drawn(values)
        else:
            kwargs[key] = _Drawn(values)
    return tuple(args), kwargs


class _Mask(list):
    """Which items to apply to, drawn once for all the components of a list ``src``."""


def _item_mask(batch, n_items: int, p, seed=None) -> list | None:
    if p is None or isinstance(p, _Mask):
        return p
    if seed is not None:
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(4,)))
    else:
        rng = getattr(batch, "random", None) or np.random.default_rng()
    return (rng.random(n_items) < p).tolist()


class _Masked:
    """Calls ``fn`` on an item only where its mask is true; otherwise returns the item as is."""

    def __init__(self, fn):
        self.fn = fn

    def __call__(self, item, *args, _apply=True, **kwargs):
        return self.fn(item, *args, **kwargs) if _apply else item


def _entries(batch, src) -> list:
    if isinstance(src, tuple):
        columns = [getattr(batch, name) for name in src]
        return list(zip(*columns, strict=True))
    values = getattr(batch, src)
    if values is None:
        raise ValueError(f"component {src!r} of this {type(batch).__name__} holds no data")
    return list(values)


def apply_to_batch(
    batch,
    func,
    *args,
    src=None,
    dst=None,
    target="threads",
    n_workers=None,
    timeout=None,
    fail_fast=False,
    init=None,
    post=None,
    requires_rng=False,
    seed=None,
    p=None,
    **kwargs,
):
    """Apply ``func(item, *args, **kwargs)`` to every item of ``src``; store results in ``dst``.

    See `apply_parallel`.
    """
    check_target(target)
    options = RunOptions(n_workers=n_workers, timeout=timeout, fail_fast=fail_fast)
    if src is None and init is None:
        raise TypeError("apply_parallel needs src= (a component name, a list or a tuple of them) or init=")
    if isinstance(src, list):
        dst = src if dst is None else dst
        if not isinstance(dst, list) or len(dst) != len(src):
            raise ValueError(f"a list src needs a list dst of the same length (got src={src}, dst={dst})")
        if p is not None and not isinstance(p, _Mask):
            # one draw for all the components: an image and its mask get the same choice
            p = _Mask(_item_mask(batch, len(_entries(batch, src[0])), p, seed))
        # P/PP values drawn once too, for the same reason (one random angle for both)
        args, kwargs = _drawn_once(batch, args, kwargs)
        for one_src, one_dst in zip(src, dst, strict=True):
            apply_to_batch(
                batch,
                func,
                *args,
                src=one_src,
                dst=one_dst,
                target=target,
                n_workers=n_workers,
                timeout=timeout,
                fail_fast=fail_fast,
                post=post,
                requires_rng=requires_rng,
                seed=seed,
                p=p,
                **kwargs,
            )
        return batch
    args, kwargs, per_item = resolve_per_item(batch, args, kwargs)
    entries = (
        list(init(*args, **kwargs) if callable(init) else init) if init is not None else _entries(batch, src)
    )
    per_item = dict(per_item or {})
    for key, values in per_item.items():
        if len(values) != len(entries):
            raise ValueError(
                f"per-item values of {key!r} number {len(values)}, but there are {len(entries)} items"
            )
    if requires_rng:
        per_item["rng"] = _item_rngs(batch, len(entries), seed)
    mask = _item_mask(batch, len(entries), p, seed)
    if mask is not None:
        per_item["_apply"] = mask
        func = _Masked(func)
    post_fn = getattr(batch, post) if isinstance(post, str) else post  # found before work runs
    calls = Calls(entries, SINGLE, args, kwargs, per_item)
    executor = get_executor(target)
    outcomes = run_calls(executor, func, calls, options, f"apply_parallel(src={src!r})")
    name = getattr(func, "__qualname__", repr(func))
    if outcomes.failed:
        label = f"apply_parallel({name}) on src={src!r}, target={executor.name!r}"
        note_failures(outcomes, entries, getattr(batch, "indices", None), label)
    if post_fn is not None:
        return post_fn(Results.of(outcomes), *args, src=src, dst=dst, **kwargs)
    if outcomes.failed:
        raise failure_error(outcomes, f"apply_parallel({name}) (target={executor.name!r})")
    store_results(batch, src if dst is None else dst, outcomes.values)
    return batch


def store_results(batch, dst, values: list) -> None:
    """Store one result per item into ``dst``: a component name, or a tuple taking results apart.

    Also used by a pipeline that dropped an apply step's failed items, to store the rest.
    """
    if dst is None:
        return
    if isinstance(dst, tuple):
        columns = list(zip(*values, strict=True)) if values else [[] for _ in dst]
        for name, column in zip(dst, columns, strict=True):
            _store(batch, name, _as_column(list(column)))
    else:
        _store(batch, dst, _as_column(values))


class ApplyParallelMethod:
    """A per-item method applied over components; made by `apply_parallel`.

    Calling ``batch.method(*args, src=..., dst=..., **kwargs)`` runs the method once per item of
    ``src`` (positional arguments go to the method, after the item) and returns the batch.
    """

    def __init__(self, fn, defaults: dict):
        functools.update_wrapper(self, fn)
        self._fn = fn
        self.defaults = dict(defaults)
        self.action = {"method": fn, "use_lock": None, "no_eval": []}

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __call__(self, instance, *args, **kwargs):
        options = {**self.defaults, **kwargs}
        item_function = self._fn.__get__(instance, type(instance))
        return apply_to_batch(instance, item_function, *args, **options)

    def __repr__(self) -> str:
        return f"<apply_parallel method {self.__qualname__}>"


def apply_parallel(fn=None, **defaults):
    """Make a per-item method apply over components: ``@apply_parallel`` or ``@apply_parallel(src=...)``.

    The decorated method handles one item (``def flip(self, image, axis=0)``); calling it on a
    batch applies it to every item of ``src`` and stores the results in ``dst`` (``src`` by
    default). ``defaults`` (``src``, ``dst``, ``target``, ``requires_rng``, ...) can be
    overridden per call. The method is a pipeline action.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, apply_parallel
    >>> class Images(Batch):
    ...     components = ("images",)
    ...     @apply_parallel(src="images")
    ...     def flip(self, image, axis=0):
    ...         return np.flip(image, axis)
    >>> batch = Images.from_data(data={"images": np.arange(8).reshape(2, 2, 2)})
    >>> batch.flip(axis=1).images[0].tolist()
    [[1, 0], [3, 2]]
    """
    if fn is None:
        return functools.partial(ApplyParallelMethod, defaults=defaults)
    if not callable(fn):
        raise TypeError("apply_parallel takes keyword arguments only, e.g. @apply_parallel(src='images')")
    return ApplyParallelMethod(fn, defaults)
