"""``@inbatch_parallel`` and ``@parallel``: fan one action out over the items of a batch.

The decorator never imports `batch`: it resolves ``init`` and ``post`` by name
on the instance it is called on, so any object with the right attributes works.
"""

from __future__ import annotations

import functools
import inspect
import types

import numpy as np

from ._auto import AUTO, explain, run_auto
from ._calls import MIXED, SINGLE, Calls, Outcomes
from ._checks import check_accepts, check_role_value, check_worker_method, looks_misspelled, missing_name
from ._fanout import Results, any_action_failed, failure_error, note_failures, run_calls
from ._per_item import check_per_item, resolve_per_item
from ._vectorized import check_vectorized, run_vectorized
from .executors import RunOptions, ability, check_target, get_executor, runs_worker_function

__all__ = ["RESERVED", "ParallelMethod", "any_action_failed", "inbatch_parallel", "parallel"]

#: call keywords that steer the fan-out (the target, and every `RunOptions` setting);
#: never passed to init, post or the method
RESERVED = frozenset({"target"}) | RunOptions.names()
#: init names whose entries are each one positional argument, whatever their type
STANDARD_INITS = frozenset({"indices", "items"})


_OPTIONS = RunOptions.names()


def _plain_function(fn):
    """The Python function behind ``fn`` (through ``@mjit`` and other wrappers)."""
    fn = getattr(fn, "py_func", fn)
    return inspect.unwrap(fn) if callable(fn) else fn


class ParallelMethod:
    """A method (or function) fanned out over init's entries; made by `inbatch_parallel`.

    Calling it runs ``init``, runs the method once per entry on the target's executor, then
    ``post``. It is a descriptor: looked up on an instance, it binds like a method.
    """

    def __init__(self, fn, *, init, post, target, extras, bind_self, options=None, vectorized=None):
        if init is None:
            raise TypeError("init is required: a method name, a callable or an iterable of entries")
        functools.update_wrapper(self, fn)
        check_role_value("init", init, self.__qualname__)
        check_role_value("post", post, self.__qualname__)
        self._fn = fn
        self.init = init
        self.post = post
        self.extras = dict(extras)
        self.bind_self = bind_self
        self.options = options or RunOptions()
        self.vectorized = vectorized
        plain = _plain_function(fn)
        self._check_signature(plain)
        self.is_coroutine = inspect.iscoroutinefunction(plain)
        if target is None:
            target = "async" if self.is_coroutine else "threads"
        self.target = self._check_target(_checked(target))
        # The mpc contract belongs to how the method is written, not to where one call runs:
        # a method declared for a worker-function target returns the worker function, and
        # keeps doing so when a call picks another target (target="for" to debug it, say).
        self.returns_worker = bind_self and self.target != AUTO and runs_worker_function(self.target)
        if not bind_self:
            for role, value in (("init", init), ("post", post)):
                if isinstance(value, str):
                    raise TypeError(
                        f"{role}={value!r} names a method, but {self.__qualname__} is a plain "
                        f"function with no batch to look it up on: pass a callable"
                        + (" or an iterable of entries" if role == "init" else "")
                    )

    def _check_signature(self, plain) -> None:
        try:
            parameters = inspect.signature(plain).parameters
        except (TypeError, ValueError):  # builtins and the like have no signature to check
            return
        taken = sorted(RESERVED.intersection(parameters))
        if taken:
            raise TypeError(
                f"{plain.__qualname__} declares the parameter(s) {taken}, which inbatch_parallel "
                f"reserves to choose the executor per call ({sorted(RESERVED)}); rename them"
            )

    def _check_target(self, target):
        if self.is_coroutine and target != AUTO and not ability(target, "runs_coroutines"):
            raise TypeError(
                f"{self.__qualname__} is a coroutine function: it needs a target that runs "
                f"coroutines, such as 'async' (or 'for', one item at a time), not target={target!r}"
            )
        return target

    def __repr__(self) -> str:
        return f"<ParallelMethod {self.__qualname__} init={self.init!r} target={self.target!r}>"

    def check_spelling(self, owner) -> None:
        """Check the init and post names when a Batch class is made, where that is safe.

        A name with a near miss on the class (``"_init_imgs"`` beside ``"_init_images"``) is a
        typo: refused now. A name matching nothing at all may come from a subclass (a base
        class whose components are declared later), so it is checked by `check_names` when
        a pipeline is built, and at each call before any item runs.
        """
        for role in ("init", "post"):
            value = getattr(self, role)
            if isinstance(value, str) and looks_misspelled(value, owner):
                raise missing_name(role, value, owner, self.__qualname__)

    def check_names(self, cls) -> None:
        """Raise AttributeError (with "did you mean") if init or post names nothing on ``cls``."""
        for role in ("init", "post"):
            value = getattr(self, role)
            if isinstance(value, str):
                error = missing_name(role, value, cls, self.__qualname__)
                if error is not None:
                    raise error

    def __get__(self, instance, owner=None):
        if instance is None or not self.bind_self:
            return self
        return types.MethodType(self, instance)

    # -- one call ---------------------------------------------------------------------------

    def __call__(self, *args, **kwargs):
        if self.bind_self:
            if not args:
                raise TypeError(f"{self.__qualname__} needs the instance as first argument")
            instance, args = args[0], args[1:]
        else:
            instance = None
        target = kwargs.pop("target", None)
        target = self.target if target is None else self._check_target(_checked(target))
        options = self.options.updated(**{name: kwargs.pop(name) for name in _OPTIONS if name in kwargs})
        args, kwargs, per_item = resolve_per_item(instance, args, kwargs)
        full_kwargs = {**self.extras, **kwargs} if self.extras else kwargs
        # post is looked up and checked before any item runs: a misspelled post, or one that
        # cannot take the action's arguments, must not throw the work away
        post = None if self.post is None else self._resolve("post", instance)
        if post is not None:
            check_accepts(
                post, (None, *args), full_kwargs, _role("post", self.post), self.__qualname__, "results"
            )
        entries, shape = self._entries(instance, args, full_kwargs)
        if per_item:
            check_per_item(per_item, len(entries), self.__qualname__)
        if entries:
            fn = self._callable(instance, args, kwargs)
            calls = Calls(entries, shape, args, kwargs, per_item, fail_fast=options.fail_fast)
            run = functools.partial(
                _run_on, target, options=options, desc=self.__qualname__, key=self._fn, method=self.bind_self
            )
            if self.vectorized is None:
                outcomes = run(fn, calls)
            else:
                outcomes = run_vectorized(run, fn, calls, self.vectorized)
        else:  # nothing to run: not even the worker-function method is called
            outcomes = Outcomes(0)
        executor = get_executor(explain(self._fn).target if target == AUTO and entries else _concrete(target))
        label = f"{self.__qualname__}, target={executor.name!r}"
        if outcomes.failed:
            note_failures(outcomes, entries, getattr(instance, "indices", None), label)
        if post is None:
            if outcomes.failed:
                raise failure_error(outcomes, f"{self.__qualname__} (target={executor.name!r})")
            return instance if self.bind_self else outcomes.values
        return post(Results.of(outcomes), *args, **full_kwargs)

    def _resolve(self, role: str, instance):
        """The init or post callable (or, for init, the ready iterable)."""
        value = getattr(self, role)
        if not isinstance(value, str):
            return value
        try:
            return getattr(instance, value)
        except AttributeError:
            error = missing_name(role, value, type(instance), self.__qualname__)
            if error is None:  # the attribute exists but raised AttributeError itself
                raise
            raise error from None

    def _entries(self, instance, args, full_kwargs):
        init = self._resolve("init", instance)
        standard = isinstance(self.init, str) and (
            self.init in STANDARD_INITS or self.init in (getattr(instance, "components", None) or ())
        )
        if callable(init):
            check_accepts(init, args, full_kwargs, _role("init", self.init), self.__qualname__)
            entries = init(*args, **full_kwargs)
        else:
            entries = init
        if entries is None:
            if standard:  # a component that holds no data
                raise ValueError(
                    f"init={self.init!r} of {self.__qualname__} names a component of "
                    f"{type(instance).__name__} that holds no data (it is None)"
                )
            raise TypeError(
                f"{_role('init', self.init)} of {self.__qualname__} returned None, not a list of entries"
            )
        if type(entries) is not list:
            entries = _to_list(entries, self.init, self.__qualname__)
        return entries, SINGLE if standard else MIXED

    def _callable(self, instance, args, kwargs):
        """What the executor runs per entry: the bound method, or the worker function."""
        if not self.bind_self:
            return self._fn  # a plain function runs as it is, on every target
        if not self.returns_worker:
            # On a process target this bound method pickles the batch, once per chunk.
            return self._fn.__get__(instance, type(instance))
        check_worker_method(self._fn, args, kwargs, self.__qualname__, self.target)
        worker = self._fn(instance, *args, **kwargs)
        if not callable(worker):
            raise TypeError(
                f"{self.__qualname__} is declared with target={self.target!r}: it is called once "
                f"in the caller and must return the function that runs per item "
                f"(got {type(worker).__name__}). If it was written to handle one item, move its "
                "body into a module-level function taking the item and return that function."
            )
        return worker


def _checked(target):
    """A target, checked; ``"auto"`` passes (it is chosen per function, see `_auto`)."""
    return target if target == AUTO else check_target(target)


def _concrete(target):
    return "threads" if target == AUTO else target  # "auto" with nothing run: no choice made


def _run_on(target, fn, calls, *, options, desc, key, method):
    """One fan-out call on ``target``, or on the target chosen for ``key`` when it is "auto"."""
    if target == AUTO:
        return run_auto(fn, calls, options, desc, key=key, method=method)[0]
    return run_calls(get_executor(target), fn, calls, options, desc)


def _role(role: str, value) -> str:
    """``post='_post'``, or ``post=my_post`` for a callable (its name, not its repr)."""
    if isinstance(value, str):
        return f"{role}={value!r}"
    return f"{role}={getattr(value, '__qualname__', type(value).__name__)}"


def _to_list(entries, init, qualname) -> list:
    if isinstance(entries, np.ndarray) and entries.ndim == 1 and entries.dtype.kind in "biufcUSO":
        # Python scalars: faster to pass around and to pickle than numpy scalars, and equal to them
        return entries.tolist()
    try:
        return list(entries)
    except TypeError:
        raise TypeError(
            f"init={init!r} of {qualname} must give an iterable of entries (got {type(entries).__name__})"
        ) from None


def inbatch_parallel(
    *args,
    init=None,
    post=None,
    target=None,
    n_workers=None,
    timeout=None,
    fail_fast=False,
    vectorized=None,
    **extras,
):
    """Run a method once per entry of ``init``, in parallel, then ``post`` on the results.

    Parameters
    ----------
    init : str, callable or iterable
        Where the calls come from. A string names a method, property or component of the batch:
        ``"indices"`` (one call per index value), ``"items"`` (per item view), ``"run_once"``
        (one call with no entry), or a component (per element). A method or callable is called
        with the action's positional and keyword arguments plus ``extras`` and returns one entry
        per call: a list or other sequence gives positional arguments, a dict keyword
        arguments, a 2-tuple ``(list or tuple, dict)`` both; anything else is one positional argument.
        An iterable is used as the entries directly.
    post : str or callable, optional
        Called as ``post(results, *args, **kwargs)`` with the same arguments as ``init``.
        ``results`` is in init order; a failed call's slot holds its exception. The action
        returns what ``post`` returns. Without ``post`` the action returns the batch, or raises
        `ParallelError` if any call failed.
    target : str or Executor, optional
        ``"threads"`` (the default), ``"async"`` (the default for ``async def``), ``"mpc"``
        (processes) or ``"for"`` (a plain loop), or any name given to `register_target`.
    n_workers : int, optional
        How many items run at once (by default: for threads, one per CPU for items that keep a
        CPU busy and ``min(32, cpus + 4)`` for items that mostly wait, measured per function;
        ``cpus`` for processes; all of them for async). As in joblib, ``-1`` is one per CPU,
        ``-2`` all CPUs but one.
    timeout : float, optional
        Seconds an item may run before it fails alone with `ItemTimeout` (given as a keyword
        with the other decorator settings; each call may override it).
    fail_fast : bool, optional
        Start no new item after the first failure; the items never started get
        `ItemCancelled` in their slots.
    vectorized : int, optional
        Call the method with up to this many items at once: each argument that init gives per
        item is stacked into one array (when the items agree in shape and dtype; a list
        otherwise), the action's own arguments are passed once, and the method must return
        one result per item. A call that raises runs again item by item, so ``post`` still
        gets each failure in its item's slot. ``timeout`` then applies per call.
    **extras
        Passed to ``init`` and ``post`` (not to the method).

    Notes
    -----
    Each call of the action may pass ``target=``, ``n_workers=``, ``timeout=`` and
    ``fail_fast=`` to override the decorator; they are reserved and reach neither init, post
    nor the method. ``timeout`` fails an item that runs longer with `ItemTimeout`;
    ``fail_fast`` starts no new item after the first failure (see the errors guide).

    A method *declared* with ``target="mpc"`` is called once in the caller and must return the
    function that runs per entry (with the entry's arguments, then the action's); it keeps that
    form when a call picks another target, e.g. ``target="for"`` to debug it. A method declared
    with another target, called with ``target="mpc"``, is itself sent to the workers: its batch
    is pickled once per chunk, and what it writes into ``self`` stays in the worker.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, inbatch_parallel
    >>> class Squares(Batch):
    ...     components = ("values",)
    ...     @inbatch_parallel(init="values", target="for")
    ...     def square(self, value):
    ...         value[...] = value ** 2
    >>> batch = Squares.from_data(data={"values": np.arange(4.0).reshape(4, 1)})
    >>> batch.square().values.ravel().tolist()
    [0.0, 1.0, 4.0, 9.0]
    """
    example = "@inbatch_parallel(init='indices', post='_post', target='threads')"
    options = dict(n_workers=n_workers, timeout=timeout, fail_fast=fail_fast)
    return _decorator(args, example, init, post, target, options, extras, vectorized, bind_self=True)


def parallel(
    *args,
    init=None,
    post=None,
    target=None,
    n_workers=None,
    timeout=None,
    fail_fast=False,
    vectorized=None,
    **extras,
):
    """`inbatch_parallel` for a plain function: no ``self``, and ``init``/``post`` callables.

    Without ``post`` the call returns the list of results (or raises
    `ParallelError`). With ``target="mpc"`` the function itself runs in
    the worker processes.

    Examples
    --------
    >>> from batchkit import parallel
    >>> @parallel(init=lambda n: range(n), target="for")
    ... def double(x, n):
    ...     return 2 * x
    >>> double(3)
    [0, 2, 4]
    """
    example = "@parallel(init=..., post=...)"
    options = dict(n_workers=n_workers, timeout=timeout, fail_fast=fail_fast)
    return _decorator(args, example, init, post, target, options, extras, vectorized, bind_self=False)


def _decorator(args, example, init, post, target, options, extras, vectorized, *, bind_self):
    """The decorator both `inbatch_parallel` and `parallel` return, after their checks."""
    if args:
        name = example[1 : example.index("(")]
        raise TypeError(f"{name} takes keyword arguments only, e.g. {example}")
    if target is not None:
        _checked(target)
    # settings named like a RunOptions field are options, not extras for init and post
    options = RunOptions(**options, **{name: extras.pop(name) for name in _OPTIONS & set(extras)})
    return functools.partial(
        ParallelMethod,
        init=init,
        post=post,
        target=target,
        extras=extras,
        bind_self=bind_self,
        options=options,
        vectorized=check_vectorized(vectorized),
    )
