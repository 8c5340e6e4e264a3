"""``Pipeline``: a lazy chain of batch actions, run over a dataset.

Building a pipeline only records actions, each checked against the batch class when it is
added (an unknown name or keyword fails at once, not at run time; the checks are
`batchkit._pipeline_checks`). The methods that start a run (``run``, ``gen_batch``,
``next_batch``) are `batchkit._pipeline_run`'s; running it is the job of `batchkit._run`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

from ._hooks import Hooks
from ._namespaces import as_modules, find_function
from ._pipeline_checks import BUILTINS as BUILTINS  # a name of this module before the checks moved
from ._pipeline_checks import _check_action, _check_callable_name
from ._pipeline_run import _Runs
from .variables import Variables

__all__ = ["Action", "Pipeline"]


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


class Pipeline(_Runs):
    """A lazy chain of actions over the batches of a dataset.

    Every method that adds a batch step returns a new pipeline and leaves this one as it was.
    As in batchflow, ``init_variable``, ``add_namespace`` and the ``before``/``after`` hooks
    change the pipeline they are called on. Batch actions are added by name, as attributes:
    ``pipeline.load(src).resize(size=(64, 64))``.

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
        _namespaces=(),
    ):
        self._dataset = dataset
        self.config = dict(config or {})
        self._batch_class = batch_class
        self._actions = tuple(_actions)
        self._variables = _variables if _variables is not None else Variables()
        self._before = tuple(_before)
        self._after = tuple(_after)
        #: modules whose functions become steps by name (`add_namespace`); __main__ is looked in last
        self._namespaces = tuple(_namespaces)
        self._lazy_run: tuple | None = None
        self._next_state = None
        #: the running run's generator and its seed (set by each run)
        self.random = self.random_seed = None
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
            "_namespaces": self._namespaces,
        }
        values.update(
            {
                ("_" + k if k in ("actions", "variables", "before", "after", "namespaces") else k): v
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
        try:
            _check_action(self.batch_class, name)
        except AttributeError:
            fn = find_function(self._namespaces, name)
            if fn is None:
                raise
            return functools.partial(self._add_namespace_call, fn)
        return functools.partial(self._add_action, name)

    def add_namespace(self, *namespaces) -> Pipeline:
        """Make the functions of ``namespaces`` (modules, or their names) usable as steps, by name.

        Afterwards ``pipeline.fn(*args, save_to=None, **kwargs)`` adds a step that calls
        ``fn(*args, **kwargs)`` per batch (named expressions evaluated; no batch passed unless
        you pass ``B()``), stores the result in ``save_to`` and passes the batch on. Batch
        actions come first, then the namespaces in the order added, then ``__main__``. The
        namespaces are registered on this pipeline (and the pipelines made from it), which is
        returned, so calls chain.

        Examples
        --------
        >>> import numpy as np
        >>> from batchkit import B, Batch, Dataset, V
        >>> dataset = Dataset(6, Batch, preloaded=np.arange(6.0))
        >>> pipeline = dataset.p.add_namespace(np).init_variable("means", [])
        >>> pipeline = pipeline.mean(B("data"), save_to=V("means", mode="a"))
        >>> _ = pipeline.run(batch_size=3, bar=False)
        >>> [float(m) for m in pipeline.v("means")]
        [1.0, 4.0]
        """
        self._namespaces = (*self._namespaces, *as_modules(namespaces))
        return self

    def _add_namespace_call(self, fn, *args, save_to=None, **kwargs) -> Pipeline:
        if save_to is not None and not hasattr(save_to, "set"):
            raise TypeError(f"save_to needs a named expression such as V('name') (got {save_to!r})")
        return self._add_builtin("namespace_call", (fn, *args), {"save_to": save_to, **kwargs})

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
        """Per batch, call ``fn``: a batch method by name, or a callable with exactly ``args``.

        As in batchflow, a callable gets no batch of its own: pass ``B()`` among the arguments
        for it (``call(show, B(), title="x")``). Named expressions are evaluated per batch, and
        the result goes to ``save_to`` (a named expression) when given.
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
        """Declare variable ``name`` on this pipeline (``default`` copied at each reset); return it.

        As in batchflow, the pipeline itself is changed (a statement ``p.init_variable(...)``
        declares it), and the pipelines made from it afterwards have the variable too.
        """
        self._variables.declare(name, default)
        return self

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
    def before(self) -> Hooks:
        """Steps run once at the start of every run (they change this pipeline, as in batchflow)."""
        return Hooks(self, "before")

    @property
    def after(self) -> Hooks:
        """Steps run once at the end of every run, also after a failure (they change this pipeline)."""
        return Hooks(self, "after")

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


def _check_pipelines(pipelines, what: str) -> None:
    if not pipelines or not all(isinstance(p, Pipeline) for p in pipelines):
        raise TypeError(f"{what} takes one or more pipelines (got {pipelines!r})")
