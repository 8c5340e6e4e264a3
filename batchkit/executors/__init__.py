"""The target registry: one canonical name per executor.

``get_executor(name)`` returns the process-wide executor of that target, creating it on first
use; ``register_target(name, factory)`` plugs in a new one.
"""

from __future__ import annotations

import atexit
import difflib
import threading
from collections.abc import Callable

from .._calls import Calls, Outcomes
from ..errors import TargetError
from ._base import Executor, RunOptions, chunk_bounds, in_worker
from ._dask_task import in_remote_task
from .aio import AsyncExecutor
from .distributed import DaskExecutor
from .processes import ProcessExecutor
from .sequential import SequentialExecutor
from .threads import ThreadExecutor

__all__ = [
    "Calls",
    "Executor",
    "Outcomes",
    "RunOptions",
    "ability",
    "check_target",
    "chunk_bounds",
    "get_executor",
    "in_worker",
    "register_target",
    "runs_worker_function",
    "shutdown_executors",
    "target_names",
]

_FACTORIES: dict[str, Callable[[], Executor]] = {
    "threads": ThreadExecutor,
    "async": AsyncExecutor,
    "mpc": ProcessExecutor,
    "for": SequentialExecutor,
    "dask": DaskExecutor,
}
_INSTANCES: dict[str, Executor] = {}
_LOCK = threading.Lock()


def target_names() -> list[str]:
    """The names of every registered target."""
    return list(_FACTORIES)


def register_target(name: str, factory: Callable[[], Executor], *, replace: bool = False) -> None:
    """Make ``target=name`` run on executors made by ``factory``.

    Parameters
    ----------
    name : str
        The target's name, as used in ``@inbatch_parallel(target=name)``.
    factory : callable
        Called with no arguments, once, when the target is first used; returns an
        `Executor`.
    replace : bool
        Allow replacing an existing target (its executor is closed first).

    Raises
    ------
    TargetError
        If ``name`` is taken and ``replace`` is false.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"'name' must be a non-empty str (got {name!r})")
    if not callable(factory):
        raise TypeError(f"'factory' must be callable (got {factory!r})")
    with _LOCK:
        if name in _FACTORIES and not replace:
            raise TargetError(f"target {name!r} is already registered; pass replace=True to replace it")
        old = _INSTANCES.pop(name, None)
        _FACTORIES[name] = factory
    if old is not None:
        old.close()


def check_target(target) -> str | Executor:
    """Return ``target`` if it names a registered target or is an Executor; raise otherwise."""
    if isinstance(target, Executor) or (isinstance(target, str) and target in _FACTORIES):
        return target
    hint = ""
    if isinstance(target, str):
        close = difflib.get_close_matches(target, _FACTORIES, n=1, cutoff=0.5)
        close = close or [name for name in _FACTORIES if name.startswith(target[:1])]
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise TargetError(
        f"unknown target {target!r}: expected one of {', '.join(map(repr, _FACTORIES))} "
        f"or an Executor instance.{hint}"
    )


def ability(target, name: str) -> bool:
    """Whether ``target``'s executor declares the ability ``name`` (an `Executor` attribute).

    Read from the executor class when the factory is one, so that no executor is created.
    """
    if isinstance(target, Executor):
        return bool(getattr(target, name))
    check_target(target)
    factory = _FACTORIES[target]
    if isinstance(factory, type):
        return bool(getattr(factory, name, False))
    return bool(getattr(get_executor(target), name))


def runs_worker_function(target) -> bool:
    """Whether ``target``'s executor runs a worker function (the ``mpc`` contract)."""
    return ability(target, "runs_worker_function")


def get_executor(target) -> Executor:
    """The executor of ``target`` (a registered name or an Executor instance).

    Inside a task on a dask worker, a target that runs a worker function (``mpc``, ``dask``)
    gives the ``for`` executor: a worker process may not start processes of its own, and the
    cluster already runs one worker per core.
    """
    if in_remote_task() and ability(target, "runs_worker_function"):
        target = "for"
    if isinstance(target, Executor):
        return target
    executor = _INSTANCES.get(target)
    if executor is not None:
        return executor
    check_target(target)
    with _LOCK:
        executor = _INSTANCES.get(target)
        if executor is None:
            executor = _FACTORIES[target]()
            if not isinstance(executor, Executor):
                raise TargetError(
                    f"the factory of target {target!r} must return an Executor (got {executor!r})"
                )
            _INSTANCES[target] = executor
    return executor


def shutdown_executors() -> None:
    """Close every executor created so far; later calls start them again."""
    with _LOCK:
        executors = list(_INSTANCES.values())
        _INSTANCES.clear()
    for executor in executors:
        executor.close()


atexit.register(shutdown_executors)
