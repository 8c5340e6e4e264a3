"""``pipeline.before`` and ``pipeline.after``: steps run once per run, as batchflow's once-pipelines.

As in batchflow, a hook view changes the pipeline it belongs to and returns itself, so that both
``pipeline.before.update(V("n"), 0)`` as a statement and a chain of hook steps
(``.before.init_variable("n", 0).update(V("n"), 1)``) record hooks. Anything that is not a hook
step goes to the main pipeline: a batch action (``.before.call(setup).load()`` goes on with the
main chain), ``run``, ``v``, ``after``/``before`` (the other hooks) and ``main``.
"""

from __future__ import annotations

import functools

from ._namespaces import find_function

__all__ = ["Hooks"]


class Hooks:
    """The steps a pipeline runs once per run, ``where`` = "before" (the first batch) or "after".

    Hook steps: ``call(fn, *args, save_to=None, **kwargs)`` (``fn`` called with no batch),
    ``update(expr, value, mode=None)``, ``init_variable``/``init_variables`` (declared on the
    pipeline), ``add_namespace``, and the functions of the pipeline's namespaces by name.
    """

    def __init__(self, pipeline, where: str):
        self._pipeline = pipeline
        self._where = where

    @property
    def main(self):
        """The pipeline these hooks belong to."""
        return self._pipeline

    pipeline = main

    @property
    def before(self) -> Hooks:
        return Hooks(self._pipeline, "before")

    @property
    def after(self) -> Hooks:
        return Hooks(self._pipeline, "after")

    def _add(self, name: str, args: tuple, kwargs: dict) -> Hooks:
        from .pipeline import Action

        attribute = f"_{self._where}"
        steps = (*getattr(self._pipeline, attribute), Action(name, args, kwargs, kind="builtin"))
        setattr(self._pipeline, attribute, steps)
        return self

    def call(self, fn, *args, save_to=None, **kwargs) -> Hooks:
        """Call ``fn(*args, **kwargs)`` once per run (named expressions are evaluated first)."""
        if not callable(fn):
            raise TypeError(f"call needs a callable (got {fn!r})")
        return self._add("call", (fn, *args), {"save_to": save_to, **kwargs})

    def update(self, expr, value=None, mode=None) -> Hooks:
        """Assign ``value`` to ``expr`` (a ``V(...)`` variable, say) once per run."""
        return self._add("update", (expr, value), {"mode": mode})

    def init_variable(self, name, default=None) -> Hooks:
        """Declare variable ``name`` on the pipeline (as its own ``init_variable`` does)."""
        self._pipeline.init_variable(name, default)
        return self

    def init_variables(self, *names, **defaults) -> Hooks:
        self._pipeline.init_variables(*names, **defaults)
        return self

    def add_namespace(self, *namespaces) -> Hooks:
        self._pipeline.add_namespace(*namespaces)
        return self

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        if not _is_batch_action(self._pipeline, name):
            fn = find_function(self._pipeline._namespaces, name)
            if fn is not None:  # a namespace function: called once per run, as a hook
                return functools.partial(self.call, fn)
        return getattr(self._pipeline, name)

    def __lshift__(self, other):
        return self._pipeline << other

    def __rrshift__(self, other):
        return other >> self._pipeline

    def __add__(self, other):
        return self._pipeline + (other.main if isinstance(other, Hooks) else other)

    def __repr__(self) -> str:
        return f"<{self._where} hooks of {self._pipeline!r}>"


def _is_batch_action(pipeline, name: str) -> bool:
    batch_class = pipeline.batch_class
    return batch_class is not None and callable(getattr(batch_class, name, None))
