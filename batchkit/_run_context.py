"""The run context: what a pipeline run attaches to each of its batches, as one read-only record.

`RunContext` is the record; `set_run_context` attaches it to a batch (the only way to); a
batch reads it through read-only properties of the same names, which `_context_property`
makes. `Batch` knows nothing of pipelines beyond this record.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

__all__ = ["RUN_CONTEXT_FIELDS", "RunContext", "set_run_context"]


@dataclass(frozen=True)
class RunContext:
    """What a pipeline run attaches to each of its batches, as one read-only record.

    A batch reads it through properties of the same names (``batch.iteration``,
    ``batch.random``, ...), batchflow's attribute names; none of them can be a component. A
    batch made outside a run has an empty context unless its constructor was given some of it
    (``Batch(index, pipeline=p, iteration=3)``).

    Attributes
    ----------
    pipeline : Pipeline or None
        The pipeline running the batch (not pickled with the batch).
    iteration : int or None
        The batch's number in the run, from 1 (as batchflow counts).
    n_iterations : int or None
        How many batches the run makes (None when endless or unknown, as after a ``rebatch``).
    random_seed : numpy.random.SeedSequence or None
        The batch's seed, derived from the run's ``seed`` and the batch's number.
    random : numpy.random.Generator or None
        The batch's generator, made from ``random_seed``.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, Dataset
    >>> dataset = Dataset(6, Batch)
    >>> batches = list(dataset.p.gen_batch(4, seed=1))
    >>> [batch.iteration for batch in batches], batches[0].n_iterations
    ([1, 2], 2)
    >>> isinstance(batches[0].run_context, RunContext), isinstance(batches[0].random, np.random.Generator)
    (True, True)
    """

    pipeline: object = None
    iteration: int | None = None
    n_iterations: int | None = None
    random_seed: np.random.SeedSequence | None = None
    random: np.random.Generator | None = None


#: the run context's fields: read-only properties of every batch, never component names
RUN_CONTEXT_FIELDS = tuple(field.name for field in dataclasses.fields(RunContext))
_EMPTY_CONTEXT = RunContext()


def set_run_context(batch, context: RunContext):
    """Attach ``context`` to ``batch`` (what a run does to each batch); return the batch.

    A module function, not a method, so that no subclass can shadow it.
    """
    if not isinstance(context, RunContext):
        raise TypeError(f"a batch's run context must be a RunContext (got {type(context).__name__})")
    object.__setattr__(batch, "_run_context", context)
    return batch


def _context_property(name: str, doc: str) -> property:
    def read(batch):
        return getattr(batch.__dict__.get("_run_context", _EMPTY_CONTEXT), name)

    def refuse(batch, value):
        raise AttributeError(
            f"{type(batch).__name__}.{name} is part of the batch's run context, which is read-only: "
            f"a pipeline run sets it; outside a run pass {name}= to the constructor"
        )

    return property(read, refuse, doc=doc)
