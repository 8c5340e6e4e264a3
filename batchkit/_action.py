"""``@action``: mark a batch method as a pipeline action."""

from __future__ import annotations

import functools
import threading
import types

__all__ = ["ActionMethod", "action", "named_lock"]

_LOCKS: dict[str, threading.RLock] = {}
_LOCKS_GUARD = threading.Lock()


def named_lock(name: str) -> threading.RLock:
    """The process-wide reentrant lock called ``name`` (created on first use)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(name)
        if lock is None:
            lock = _LOCKS[name] = threading.RLock()
        return lock


class ActionMethod:
    """A batch method usable in pipelines; made by `action`. Still callable directly."""

    def __init__(self, fn, *, use_lock=None, no_eval=None):
        if not callable(fn):
            raise TypeError(f"action decorates a method (got {fn!r})")
        functools.update_wrapper(self, fn)
        self._fn = fn
        if use_lock is True:
            # module and qualified name: same-named classes of two packages get two locks
            lock_name = f"action:{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
        elif isinstance(use_lock, str):
            lock_name = use_lock
        elif use_lock in (None, False):
            lock_name = None
        else:
            raise TypeError(f"'use_lock' must be a bool or a lock name (got {use_lock!r})")
        if isinstance(no_eval, str):
            no_eval = [no_eval]
        self.lock_name = lock_name
        self._lock = named_lock(lock_name) if lock_name else None
        # what pipelines look for, in batchflow's shape
        self.action = {"method": fn, "use_lock": lock_name, "no_eval": list(no_eval or ())}

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return types.MethodType(self, instance)

    def __call__(self, instance, *args, **kwargs):
        method = self._fn.__get__(instance, type(instance))
        if self._lock is None:
            return method(*args, **kwargs)
        with self._lock:  # released however the action ends
            return method(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<action {getattr(self, '__qualname__', self._fn)!r}>"


def action(fn=None, *, use_lock=None, no_eval=None):
    """Mark a method as a pipeline action; it stays callable directly.

    Parameters
    ----------
    use_lock : bool or str, optional
        ``True`` serialises calls of this action across all batches and threads; a string names
        a lock shared by every action that gives the same name. The lock is always released,
        also when the action raises.
    no_eval : str or list of str, optional
        Keyword arguments that pipelines pass unevaluated.

    Examples
    --------
    >>> from batchkit import Batch, action
    >>> class Counter(Batch):
    ...     @action(use_lock=True)
    ...     def count(self):
    ...         return len(self)
    >>> Counter([1, 2, 3]).count()
    3
    """
    if fn is None:
        return functools.partial(ActionMethod, use_lock=use_lock, no_eval=no_eval)
    return ActionMethod(fn, use_lock=use_lock, no_eval=no_eval)
