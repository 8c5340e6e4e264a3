"""Executing one recorded action on one batch: batch methods, built-ins, sub-pipelines.

``run`` below is the `batchkit._run._Run` of the current run (its pipeline, lock, writers,
batch size, failure policy, action clock); ``context`` holds what one batch's steps hand to the
next (batches pulled by ``join``) and the items dropped from it (``"dropped"``).

Each step on a batch is timed into the run's clock under the action's name. Under
``on_error="skip_items"`` a step that raises goes through `batchkit._skip` first: the items
that failed are dropped and the batch goes on, or the error is raised as it came.
"""

from __future__ import annotations

import time

from ._skip import drop_failed_items
from .errors import PipelineError, SkipBatch, StopPipeline
from .named import eval_expr

__all__ = ["execute", "write"]

#: built-ins that do not work item by item: a failure there fails the batch
_WHOLE_BATCH = frozenset({"join", "merge", "write_to", "rebatch"})


def _evaluate(value, batch, pipeline):
    return eval_expr(value, batch=batch, pipeline=pipeline)


def execute(run, action, batch, context: dict):
    """Run ``action`` on ``batch``; return the batch for the next step."""
    pipeline = run.pipeline
    if action.kind == "pipeline":
        if action.probability is not None:
            probability = _evaluate(action.probability, batch, pipeline)
            if batch.random.random() >= probability:
                return batch
        for _ in range(action.repeat):
            for inner in action.pipeline.actions:
                batch = execute(run, inner, batch, context)
        return batch
    items = len(batch) if batch is not None else 0
    started = time.perf_counter()
    call = {}
    try:
        if action.kind == "builtin":
            return _BUILTINS[action.name](run, action, batch, context)
        return _method(run, action, batch, context, call)
    except Exception as error:
        if (
            run.on_error != "skip_items"
            or batch is None
            or isinstance(error, (SkipBatch, StopPipeline))
            or (action.kind == "builtin" and action.name in _WHOLE_BATCH)
        ):
            raise
        kept, dropped = drop_failed_items(batch, error, call.get("method"), call.get("kwargs"))
        context.setdefault("dropped", []).extend((value, action.name, item) for value, item in dropped)
        if kept is None:
            error.add_note(f"batchkit: every item of the batch failed in {action.name}; the batch is skipped")
            raise
        return kept
    finally:
        if batch is not None:
            run.clock.add(action.name, time.perf_counter() - started, items)


def _method(run, action, batch, context, call: dict):
    """Call the batch's method named by ``action``; ``call`` gets the method and its keywords."""
    pipeline = run.pipeline
    method = getattr(batch, action.name)
    no_eval = set(getattr(method, "action", {}).get("no_eval", ()))
    args = _evaluate(action.args, batch, pipeline)
    kwargs = {k: (v if k in no_eval else _evaluate(v, batch, pipeline)) for k, v in action.kwargs.items()}
    call["method"], call["kwargs"] = method, kwargs
    joined = context.pop("joined", ())
    result = method(*joined, *args, **kwargs)
    return batch if result is None else result


def _update(run, action, batch, context):
    expr, value = action.args
    mode = action.kwargs.get("mode")  # None: the expression's own mode (V("x", mode="a"))
    if not (hasattr(expr, "set") or isinstance(expr, str)):
        raise TypeError(f"update needs a named expression such as V('name') or B('name') (got {expr!r})")
    # Reading and writing under the variables' lock makes update(V("n"), V("n") + 1) safe when
    # prefetched batches update at once.
    with run.pipeline._variables.lock:
        value = _evaluate(value, batch, run.pipeline)
        if isinstance(expr, str):
            run.pipeline.set_variable(expr, value, mode or "w")
        else:
            expr.set(value, batch=batch, pipeline=run.pipeline, mode=mode)
    return batch


def _call(run, action, batch, context):
    fn, *args = action.args
    kwargs = dict(action.kwargs)
    save_to = kwargs.pop("save_to", None)
    args = _evaluate(tuple(args), batch, run.pipeline)
    kwargs = _evaluate(kwargs, batch, run.pipeline)
    # a callable gets exactly its arguments, as in batchflow: B() among them passes the batch
    target = getattr(batch, fn) if isinstance(fn, str) else fn
    result = target(*args, **kwargs)
    if save_to is not None:
        if not hasattr(save_to, "set"):
            raise TypeError(f"save_to needs a named expression such as V('name') (got {save_to!r})")
        save_to.set(result, batch=batch, pipeline=run.pipeline)
    return batch


def _pull(run, other):
    """The next batch of another pipeline, for join and merge, cut like the run's own batches."""
    if other._lazy_run is not None:
        return other.next_batch()
    order = dict(run.order)
    order.pop("shuffle")  # the other pipeline keeps its own order
    if not run.endless and order["n_epochs"] is None and order["n_iters"] is None:
        order["n_epochs"] = 1  # as long as the run: one epoch, with the same short last batch
    return other.next_batch(run.batch_size, **order)


def _join(run, action, batch, context):
    context["joined"] = tuple(_pull(run, other) for other in action.args)
    return batch


def _merge(run, action, batch, context):
    others = [_pull(run, other) for other in action.args]
    fn = action.kwargs.get("fn")
    if fn is not None:
        return fn([batch, *others])
    from .batch import merge_batches, set_run_context

    merged, _ = merge_batches(
        [batch, *others], None, action.kwargs.get("components"), action.kwargs.get("batch_class")
    )
    return set_run_context(merged, batch.run_context)


def write(run, action, batch) -> None:
    """Write ``batch`` with the run's writer for this ``write_to`` step (made on first use)."""
    key = id(action)
    writer = run.writers.get(key)
    if writer is None:
        with run.lock:
            writer = run.writers.get(key)
            if writer is None:
                writer = run.writers[key] = run.open_writer(action)
    writer.write(batch)


def _write_to(run, action, batch, context):
    write(run, action, batch)
    return batch


def _stage_only(run, action, batch, context):
    raise PipelineError(f"{action.name} cannot run inside a repeated or probabilistic sub-pipeline")


_BUILTINS = {
    "update": _update,
    "save_to": _update,
    "call": _call,
    "namespace_call": _call,  # a namespace's function: the same as call(fn, ...)
    "join": _join,
    "merge": _merge,
    "write_to": _write_to,
    "rebatch": _stage_only,
}
