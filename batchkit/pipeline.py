"""``Pipeline``: a lazy, immutable chain of batch actions, run over a dataset.

Building a pipeline only records actions, each checked against the batch class when it is
added (an unknown name or keyword fails at once, not at run time). Running it is the job of
`_run`.
"""

from __future__ import annotations

import difflib
import functools
import inspect
from dataclasses import dataclass, field, replace

from ._iteration import keyword_only_after_batch_size
from .variables import Variables

__all__ = ["Action", "Pipeline"]

#: actions a pipeline runs itself, whatever the batch class
BUILTINS = frozenset({"update", "save_to", "call", "rebatch", "merge", "join", "write_to"})


@dataclass(frozen=True)
class Action:
    """One recorded step: a batch method (``kind="method"``), a built-in, or a sub-pipeline."""

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    kind: str = "method"
    pipeline: Pipeline | None = None
    repeat: int = 1
    probability: object = None

    def __repr__(self) -> str:
        if self.kind == "pipeline":
            extra = f" x{self.repeat}" if self.repeat != 1 else ""
            extra += f" @{self.probability!r}" if self.probability is not None else ""
            return f"<{self.pipeline!r}{extra}>"
        return f"{self.name}(...)"


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


class _Hooks:
    """``pipeline.before`` / ``pipeline.after``: steps run once per run, before or after the batches.

    Each method returns a new main pipeline, so chaining goes on:
    ``dataset.p.before.call(setup).load().after.call(report)``.
    """

    def __init__(self, pipeline: Pipeline, where: str):
        self._pipeline = pipeline
        self._where = where

    def _add(self, action: Action) -> Pipeline:
        steps = (*getattr(self._pipeline, f"_{self._where}"), action)
        return self._pipeline._evolve(**{self._where: steps})

    def call(self, fn, *args, save_to=None, **kwargs) -> Pipeline:
        """Call ``fn(*args, **kwargs)`` once per run (named expressions are evaluated first)."""
        if not callable(fn):
            raise TypeError(f"call needs a callable (got {fn!r})")
        return self._add(Action("call", (fn, *args), {"save_to": save_to, **kwargs}, kind="builtin"))

    def update(self, expr, value=None, mode=None) -> Pipeline:
        """Assign ``value`` to ``expr`` (a ``V(...)`` variable, say) once per run."""
        return self._add(Action("update", (expr, value), {"mode": mode}, kind="builtin"))

    def init_variable(self, name, default=None) -> Pipeline:
        return self._pipeline.init_variable(name, default)

    def __repr__(self) -> str:
        return f"<{self._where} hooks of {self._pipeline!r}>"


class Pipeline:
    """A lazy, immutable chain of actions over the batches of a dataset.

    Every method that adds a step returns a new pipeline and leaves this one as it was. Batch
    actions are added by name, as attributes: ``pipeline.load(src).resize(size=(64, 64))``.

    Parameters
    ----------
    dataset : Dataset, optional
        Where the batches come from (also set later with ``pipeline << dataset``).
    config : dict, optional
        Values that ``C(name)`` expressions read; ``"a/b"`` reads ``config["a"]["b"]``.
    batch_class : type, optional
        The batch class actions are checked against when there is no dataset yet.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import B, Batch, Dataset, V, action
    >>> class Numbers(Batch):
    ...     components = ("x",)
    ...     @action
    ...     def double(self):
    ...         self.x = self.x * 2
    ...         return self
    >>> dataset = Dataset(10, batch_class=Numbers, preloaded={"x": np.arange(10)})
    >>> pipeline = dataset.pipeline().init_variable("seen", []).double().update(V("seen"), B("x"), mode="e")
    >>> _ = pipeline.run(batch_size=4, bar=False)
    >>> [int(x) for x in pipeline.v("seen")]
    [0, 2, 4, 6, 8, 10, 12, 14, 16, 18]
    """

    def __init__(
        self,
        dataset=None,
        config=None,
        *,
        batch_class=None,
        _actions=(),
        _variables=None,
        _before=(),
        _after=(),
    ):
        self._dataset = dataset
        self.config = dict(config or {})
        self._batch_class = batch_class
        self._actions = tuple(_actions)
        self._variables = _variables if _variables is not None else Variables()
        self._before = tuple(_before)
        self._after = tuple(_after)
        self._lazy_run: tuple | None = None
        self._next_state = None
        self.random = None
        #: what the last run did (a `RunReport`), None before the first run
        self.last_run = None

    # -- building ---------------------------------------------------------------------------

    def _evolve(self, **changes) -> Pipeline:
        """A new pipeline with ``changes``; variables are re-declared at their defaults."""
        values = {
            "dataset": self._dataset,
            "config": self.config,
            "batch_class": self._batch_class,
            "_actions": self._actions,
            "_variables": self._variables.fresh_copy(),
            "_before": self._before,
            "_after": self._after,
        }
        values.update(
            {
                ("_" + k if k in ("actions", "variables", "before", "after") else k): v
                for k, v in changes.items()
            }
        )
        new = Pipeline(**values)
        new._lazy_run = self._lazy_run
        return new

    @property
    def dataset(self):
        """The dataset the pipeline runs over (None until one is given)."""
        return self._dataset

    @property
    def batch_class(self):
        """The batch class actions are checked against: the dataset's, or the one given."""
        if self._batch_class is not None:
            return self._batch_class
        return getattr(self._dataset, "batch_class", None)

    @property
    def actions(self) -> tuple[Action, ...]:
        """The recorded steps, in order."""
        return self._actions

    @property
    def num_actions(self) -> int:
        return len(self._actions)

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        _check_action(self.batch_class, name)
        return functools.partial(self._add_action, name)

    def _add_action(self, name, *args, **kwargs) -> Pipeline:
        _check_action(self.batch_class, name, kwargs)
        return self._evolve(actions=(*self._actions, Action(name, args, kwargs)))

    def _add_builtin(self, name, args=(), kwargs=None) -> Pipeline:
        return self._evolve(
            actions=(*self._actions, Action(name, tuple(args), dict(kwargs or {}), "builtin"))
        )

    def update(self, expr, value=None, mode=None) -> Pipeline:
        """Per batch, assign ``value`` (evaluated) to ``expr`` (``B(...)``, ``V(...)``, ...).

        ``mode``: ``"w"`` write, ``"a"`` append, ``"e"`` extend, ``"u"`` update; by default the
        expression's own (``V("losses", mode="a")``), which is ``"w"`` unless given.
        """
        return self._add_builtin("update", (expr, value), {"mode": mode})

    save_to = update

    def call(self, fn, *args, save_to=None, **kwargs) -> Pipeline:
        """Per batch, call ``fn``: a batch method name, or a callable given the batch first.

        The result goes to ``save_to`` (a named expression) when given.
        """
        if not (callable(fn) or isinstance(fn, str)):
            raise TypeError(f"call needs a callable or a batch method name (got {fn!r})")
        if isinstance(fn, str):
            _check_callable_name(self.batch_class, fn)
        return self._add_builtin("call", (fn, *args), {"save_to": save_to, **kwargs})

    def rebatch(self, batch_size, merge=None, components=None, batch_class=None) -> Pipeline:
        """Regroup the batches flowing out of the steps so far into batches of ``batch_size``.

        ``merge(batches, batch_size, components, batch_class)`` may replace
        `merge`.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"'batch_size' of rebatch must be a positive int (got {batch_size!r})")
        return self._add_builtin(
            "rebatch", (batch_size,), {"merge": merge, "components": components, "batch_class": batch_class}
        )

    def merge(self, *pipelines, fn=None, components=None, batch_class=None) -> Pipeline:
        """Per batch, merge it with the next batch of each of ``pipelines`` into one batch."""
        _check_pipelines(pipelines, "merge")
        return self._add_builtin(
            "merge", pipelines, {"fn": fn, "components": components, "batch_class": batch_class}
        )

    def join(self, *pipelines) -> Pipeline:
        """Per batch, pass the next batch of each of ``pipelines`` to the next action, first."""
        _check_pipelines(pipelines, "join")
        return self._add_builtin("join", pipelines)

    def write_to(self, path, components=None, mode="new", run_id=None) -> Pipeline:
        """Write each batch's components to ``path`` as it finishes (see `store`).

        Nothing is kept in memory: read the result back with `read_output`.
        """
        return self._add_builtin(
            "write_to", (path,), {"components": components, "mode": mode, "run_id": run_id}
        )

    # -- variables --------------------------------------------------------------------------

    def init_variable(self, name, default=None) -> Pipeline:
        """A new pipeline with variable ``name`` declared (``default`` copied at each reset)."""
        variables = self._variables.fresh_copy()
        variables.declare(name, default)
        return self._evolve(variables=variables)

    def init_variables(self, *names, **defaults) -> Pipeline:
        pipeline = self
        for name in names:
            pipeline = pipeline.init_variable(name)
        for name, default in defaults.items():
            pipeline = pipeline.init_variable(name, default)
        return pipeline

    def get_variable(self, name, default=None, create=False):
        """The current value of variable ``name``."""
        return self._variables.get(name, default, create)

    v = get_variable

    def set_variable(self, name, value, mode="w") -> None:
        """Assign ``value`` to variable ``name`` now (thread-safe; see `update` for modes)."""
        self._variables.set(name, value, mode)

    def has_variable(self, name) -> bool:
        return name in self._variables

    def delete_variable(self, name) -> None:
        self._variables.delete(name)

    # -- hooks ------------------------------------------------------------------------------

    @property
    def before(self) -> _Hooks:
        """Steps run once at the start of every run."""
        return _Hooks(self, "before")

    @property
    def after(self) -> _Hooks:
        """Steps run once at the end of every run (also after a failure)."""
        return _Hooks(self, "after")

    # -- operators --------------------------------------------------------------------------

    def __add__(self, other: Pipeline) -> Pipeline:
        if not isinstance(other, Pipeline):
            return NotImplemented
        combined = Pipeline(
            self._dataset if self._dataset is not None else other._dataset,
            {**self.config, **other.config},
            batch_class=self._batch_class or other._batch_class,
            _actions=self._actions + other._actions,
            _variables=self._variables.merged(other._variables),
            _before=self._before + other._before,
            _after=self._after + other._after,
        )
        combined._check_all()  # the steps of either side, against the batch class now known
        return combined

    def __lshift__(self, other) -> Pipeline:
        if isinstance(other, dict):
            return self._evolve(config={**self.config, **other})
        if hasattr(other, "create_batch") and hasattr(other, "index"):
            pipeline = self._evolve(dataset=other)
            pipeline._check_all()
            return pipeline
        raise TypeError(f"pipeline << x takes a dataset or a config dict (got {type(other).__name__})")

    def __mul__(self, times) -> Pipeline:
        if isinstance(times, bool) or not isinstance(times, int) or times < 0:
            raise ValueError(f"a pipeline can be repeated a non-negative int number of times (got {times!r})")
        return self._wrapped(repeat=times)

    def __matmul__(self, probability) -> Pipeline:
        if isinstance(probability, (int, float)) and not 0 <= probability <= 1:
            raise ValueError(f"probability must be within [0, 1] (got {probability!r})")
        return self._wrapped(probability=probability)

    def _wrapped(self, **options) -> Pipeline:
        inner = Pipeline(self._dataset, self.config, batch_class=self._batch_class, _actions=self._actions)
        action = Action("pipeline", kind="pipeline", pipeline=inner)
        # the hooks stay on the outer pipeline: they run once per run, not once per repeat
        return self._evolve(actions=(replace(action, **options),))

    def _check_all(self) -> None:
        """Check every recorded batch action against the batch class (now that it is known)."""
        batch_class = self.batch_class
        if batch_class is None:
            return
        for action in self._actions:
            if action.kind == "method":
                _check_action(batch_class, action.name, action.kwargs)
            elif action.kind == "pipeline":
                action.pipeline._evolve(batch_class=batch_class)._check_all()

    def __repr__(self) -> str:
        names = ", ".join(repr(action) for action in self._actions) or "no actions"
        return f"<Pipeline: {names}>"

    # -- running (see batchkit._run) ----------------------------------------------------------

    @keyword_only_after_batch_size
    def run(
        self,
        batch_size=None,
        *,
        n_epochs=None,
        n_iters=None,
        shuffle=False,
        drop_last=False,
        prefetch=0,
        bar="auto",
        on_batch=None,
        on_error="raise",
        log_file=None,
        seed=None,
        journal=None,
        lazy=False,
        **batch_kwargs,
    ):
        """Run every batch of the dataset through the pipeline; return the pipeline.

        No batch is kept once its ``on_batch`` callback returned, so memory stays flat however
        many batches run. What the run did is in ``pipeline.last_run`` afterwards (a `RunReport`).

        Parameters
        ----------
        batch_size : int
            Items per batch. Every argument after it is keyword-only.
        n_epochs, n_iters : int, optional
            Passes over the dataset, or a number of batches; one epoch when neither is given.
        shuffle : bool, int, SeedSequence or Generator
            Item order, reshuffled at every epoch (see `gen_batch`).
        drop_last : bool
            Drop each epoch's short tail instead of topping it up from the next epoch.
        prefetch : int
            Run up to this many batches at once (threads); results still come in order.
        bar : bool, "auto" or dict
            A tqdm progress bar over batches; ``"auto"`` shows it in a terminal or notebook; a dict
            gives tqdm's options.
        on_batch : callable, optional
            Called with each finished batch, in order, in the calling thread.
        on_error : {"raise", "skip", "skip_items"}
            ``"raise"`` stops at the first failed batch. ``"skip"`` logs a failed batch, leaves
            it out and goes on. ``"skip_items"`` drops the items that failed in an action (a
            `ParallelError` says which) from their batch, index and components together, and
            goes on with the rest; a batch whose error names no items, or whose items all
            failed, is skipped as with ``"skip"``. Both skipping policies warn once at the end
            with the counts, and raise `PipelineError` if every batch failed.
        log_file : str or path, optional
            Also write to this file the run's progress, every skipped batch and dropped item
            with its traceback, what anything logs to the ``batchkit`` logger during the run
            (INFO and up) and every warning shown during the run.
        seed : int, optional
            Seeds the per-batch and per-item random generators (``shuffle``'s int by default).
        journal : str or path, optional
            A file recording each finished batch (durably, once its ``write_to`` parts are on
            disk). Running the same script again with the same journal skips those batches and
            finishes the rest, so each batch is in the output exactly once, in order, even
            after a crash. A journal of another run is refused. A shuffled run needs a
            ``seed``; ``rebatch``, ``join`` and ``merge`` cannot be journaled.
        lazy : bool
            Only store these arguments for a later ``run()`` or ``next_batch()``.
        **batch_kwargs
            Passed to the dataset's ``create_batch``.
        """
        from ._run import run_pipeline

        arguments = _run_arguments(locals())
        if lazy:
            self._lazy_run = arguments
            return self
        run_pipeline(self, **self._stored_or(arguments))
        return self

    def run_later(self, *args, **kwargs) -> Pipeline:
        """Store run arguments for a later ``run()``, ``gen_batch()`` or ``next_batch()``."""
        return self.run(*args, lazy=True, **kwargs)

    def _stored_or(self, arguments: dict) -> dict:
        """``arguments``, or the stored ``run(lazy=True)`` ones when no batch size was given."""
        if arguments["batch_size"] is not None:
            return arguments
        if self._lazy_run is None:
            raise TypeError("give batch_size (or store run arguments first with run(..., lazy=True))")
        return dict(self._lazy_run)

    @keyword_only_after_batch_size
    def gen_batch(
        self,
        batch_size=None,
        *,
        n_epochs=None,
        n_iters=None,
        shuffle=False,
        drop_last=False,
        prefetch=0,
        bar=False,
        on_batch=None,
        on_error="raise",
        log_file=None,
        seed=None,
        journal=None,
        **batch_kwargs,
    ):
        """Yield each batch after it went through the pipeline (arguments as in `run`).

        Every argument after ``batch_size`` is keyword-only. With a ``journal``, a batch is
        recorded as finished before it is yielded.
        """
        from ._run import generate

        arguments = _run_arguments(locals())
        return generate(self, **self._stored_or(arguments))

    @keyword_only_after_batch_size
    def next_batch(
        self,
        batch_size=None,
        *,
        n_epochs=None,
        n_iters=None,
        shuffle=False,
        drop_last=False,
        prefetch=0,
        on_error="raise",
        seed=None,
        **batch_kwargs,
    ):
        """The next processed batch; a call with other arguments than the last one starts anew.

        Every argument after ``batch_size`` is keyword-only. Without ``n_epochs`` and
        ``n_iters``, batches keep coming, epoch after epoch. Raises ``StopIteration`` when the
        iteration asked for is over. It keeps no journal.
        """
        from ._run import Failed, generate

        arguments = _run_arguments(
            {**locals(), "bar": False, "on_batch": None, "log_file": None, "journal": None}
        )
        arguments = self._stored_or(arguments)
        if arguments.get("journal") is not None:
            raise TypeError(
                "next_batch keeps no journal: the stored run arguments have one; use run or gen_batch"
            )
        arguments.update(bar=False, on_batch=None)
        endless = arguments["n_epochs"] is None and arguments["n_iters"] is None
        key = repr(sorted(arguments.items()))
        if self._next_state is None or self._next_state[0] != key:
            # failed batches come out as values, so that the iteration goes on after one
            raising = arguments["on_error"] == "raise"
            options = {**arguments, "on_error": "yield" if raising else arguments["on_error"]}
            self._next_state = (key, generate(self, endless=endless, **options))
        batch = next(self._next_state[1])
        if isinstance(batch, Failed):
            raise batch.error
        return batch

    def reset(self, *what) -> Pipeline:
        """Reset ``"iter"`` (the default: ``next_batch`` starts anew), ``"variables"`` or ``"all"``."""
        what = set(what or ("iter",))
        unknown = what - {"iter", "variables", "all"}
        if unknown:
            raise ValueError(f"reset takes 'iter', 'variables' or 'all' (got {sorted(unknown)})")
        if what & {"iter", "all"}:
            self._next_state = None
        if what & {"variables", "all"}:
            self._variables.reset()
        return self


_RUN_KEYS = (
    "batch_size",
    "n_epochs",
    "n_iters",
    "shuffle",
    "drop_last",
    "prefetch",
    "bar",
    "on_batch",
    "on_error",
    "log_file",
    "seed",
    "journal",
    "batch_kwargs",
)


def _run_arguments(namespace: dict) -> dict:
    """The run arguments among a method's ``locals()``."""
    return {key: namespace[key] for key in _RUN_KEYS}


def _check_pipelines(pipelines, what: str) -> None:
    if not pipelines or not all(isinstance(p, Pipeline) for p in pipelines):
        raise TypeError(f"{what} takes one or more pipelines (got {pipelines!r})")


def _check_callable_name(batch_class, name: str) -> None:
    if batch_class is not None and not callable(getattr(batch_class, name, None)):
        close = difflib.get_close_matches(name, [n for n in dir(batch_class) if not n.startswith("_")], n=3)
        hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
        raise AttributeError(f"{batch_class.__name__} has no method {name!r}{hint}")
