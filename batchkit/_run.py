"""Running a pipeline: batch generation, prefetch, failure policy, hooks, progress and logs.

A run is a stream of outcomes, one per batch: a processed batch, a skipped one, or an error.
Stages are chained generators: the source stage makes and processes batches (possibly several
at once, with ``prefetch``), each ``rebatch`` regroups the batches that come out of the stage
before it, and the consumer applies the failure policy and the per-batch callbacks. Every
stage cleans up in ``finally``, so a run that stops early (an error, a ``break``, Ctrl-C)
leaves no thread running.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import math
import sys
import uuid
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import PipelineError, SkipBatch, StopPipeline
from .named import eval_expr

__all__ = ["generate", "run_pipeline"]

logger = logging.getLogger("batchkit")

_SKIPPED = object()


@dataclass
class _Outcome:
    """What became of one batch: the processed batch, ``_SKIPPED``, or the error it raised."""

    iteration: int
    indices: object
    batch: object = None
    error: BaseException | None = None


def _seed_sequence(seed, shuffle) -> np.random.SeedSequence:
    if seed is None and isinstance(shuffle, int) and not isinstance(shuffle, bool):
        seed = shuffle
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


def _derived(base: np.random.SeedSequence, *key) -> np.random.SeedSequence:
    """A child seed sequence of ``base`` fixed by ``key`` (the same key always gives the same)."""
    return np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, *key))


def _n_batches(n_items, batch_size, n_epochs, n_iters, drop_last, endless):
    if endless:
        return None
    if n_iters is not None:
        return n_iters
    epochs = 1 if n_epochs is None else n_epochs
    if drop_last:
        return epochs * (n_items // batch_size)
    return math.ceil(epochs * n_items / batch_size)


def _want_bar(bar) -> bool:
    if bar == "auto":
        return sys.stderr.isatty() or "ipykernel" in sys.modules
    return bool(bar)


class _Run:
    """The state of one run of a pipeline."""

    def __init__(
        self,
        pipeline,
        *,
        batch_size,
        n_epochs,
        n_iters,
        shuffle,
        drop_last,
        prefetch,
        bar,
        on_batch,
        on_error,
        log_file,
        seed,
        batch_kwargs,
        endless,
    ):
        dataset = pipeline.dataset
        if dataset is None:
            raise TypeError("this pipeline has no dataset: add one with pipeline << dataset")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"'batch_size' must be a positive int (got {batch_size!r})")
        if on_error not in ("raise", "skip"):
            raise ValueError(f"'on_error' must be 'raise' or 'skip' (got {on_error!r})")
        if isinstance(prefetch, bool):
            prefetch = 4 if prefetch else 0
        if not isinstance(prefetch, int) or prefetch < 0:
            raise ValueError(f"'prefetch' must be a non-negative int (got {prefetch!r})")
        if on_batch is not None and not callable(on_batch):
            raise TypeError(f"'on_batch' must be callable (got {on_batch!r})")
        self.pipeline = pipeline
        self.dataset = dataset
        self.batch_size = batch_size
        self.order = dict(shuffle=shuffle, n_epochs=n_epochs, n_iters=n_iters, drop_last=drop_last)
        self.endless = endless
        self.prefetch = prefetch
        self.bar = bar
        self.on_batch = on_batch
        self.on_error = on_error
        self.log_file = log_file
        self.batch_kwargs = batch_kwargs or {}
        self.seed = _seed_sequence(seed, shuffle)
        self.total = _n_batches(len(dataset), batch_size, n_epochs, n_iters, drop_last, endless)
        self.run_id = uuid.uuid4().hex
        self.writers = {}
        self.failed = 0
        self.done = 0

    # -- the batches ------------------------------------------------------------------------

    def _batch_indices(self):
        order = dict(self.order)
        if order["shuffle"] is True:
            order["shuffle"] = np.random.default_rng(_derived(self.seed, 0))
        if self.endless:
            order["n_epochs"], order["n_iters"] = None, sys.maxsize
        return self.dataset.index.gen_batch(self.batch_size, **order)

    def _tag(self, batch, iteration: int, stream: int, total):
        seed = _derived(self.seed, stream, iteration)
        batch.pipeline = self.pipeline
        batch.iteration = iteration
        batch.n_iterations = total
        batch.random_seed = seed
        batch.random = np.random.default_rng(seed)
        return batch

    def make_and_process(self, batch_indices, iteration: int, actions) -> _Outcome:
        outcome = _Outcome(iteration, getattr(batch_indices, "indices", batch_indices))
        try:
            batch = self.dataset.create_batch(batch_indices, pipeline=self.pipeline, **self.batch_kwargs)
            self._tag(batch, iteration, 1, self.total)
            outcome.batch = self.process(batch, actions)
        except Exception as exc:  # kept as the batch's outcome: the policy decides
            outcome.error = exc
        return outcome

    def process(self, batch, actions):
        """Run ``actions`` on ``batch``; a ``SkipBatch`` gives ``_SKIPPED``."""
        context = {}
        try:
            for action in actions:
                batch = _execute(self, action, batch, context)
        except SkipBatch:
            return _SKIPPED
        return batch

    # -- stages -----------------------------------------------------------------------------

    def source(self, actions):
        """Outcomes of the dataset's batches through ``actions``, in order."""
        batch_indices = enumerate(self._batch_indices())
        if self.prefetch == 0:
            for iteration, indices in batch_indices:
                yield self.make_and_process(indices, iteration, actions)
            return
        pool = ThreadPoolExecutor(self.prefetch, thread_name_prefix="batchkit-prefetch")
        pending = deque()
        try:
            for iteration, indices in batch_indices:
                # each batch runs in a copy of the caller's context (item_progress, say)
                context = contextvars.copy_context()
                pending.append(pool.submit(context.run, self.make_and_process, indices, iteration, actions))
                if len(pending) > self.prefetch:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            # Reached on exhaustion, on an error raised by the consumer, and on close(): nothing
            # queued starts, the batches in flight finish, and no prefetch thread outlives the run.
            for future in pending:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)

    def rebatched(self, stream, action, actions, stage: int):
        """Regroup the processed batches of ``stream`` per ``action`` (a rebatch), then run ``actions``."""
        size = action.args[0]
        merge = action.kwargs.get("merge") or _default_merge
        components, batch_class = action.kwargs.get("components"), action.kwargs.get("batch_class")
        buffer, count, iteration = [], 0, 0

        def emit(merged):
            nonlocal iteration
            outcome = _Outcome(iteration, merged.indices)
            try:
                self._tag(merged, iteration, 10 + stage, None)
                outcome.batch = self.process(merged, actions)
            except Exception as exc:
                outcome.error = exc
            iteration += 1
            return outcome

        for outcome in stream:
            if outcome.error is not None or outcome.batch is _SKIPPED:
                yield outcome
                continue
            buffer.append(outcome.batch)
            count += len(outcome.batch)
            while count >= size:
                merged, rest = merge(buffer, size, components, batch_class)
                buffer, count = ([rest], len(rest)) if rest is not None else ([], 0)
                yield emit(merged)
        if buffer:
            merged, _ = merge(buffer, None, components, batch_class)
            yield emit(merged)

    def stream(self):
        stages = _split_at_rebatch(self.pipeline.actions)
        stream = self.source(stages[0][1])
        for stage, (action, actions) in enumerate(stages[1:], start=1):
            stream = self.rebatched(stream, action, actions, stage)
        return stream

    # -- policy, callbacks, hooks -----------------------------------------------------------

    def batches(self):
        """The processed batches, after the failure policy and ``on_batch``; runs the hooks."""
        with self._logging(), self._progress() as bar:
            self.pipeline.random = np.random.default_rng(_derived(self.seed, 2))
            logger.info(
                "run %s: batch_size=%s, %s batches",
                self.run_id[:8],
                self.batch_size,
                "endless" if self.total is None else self.total,
            )
            self._hooks("before")
            try:
                stream = self.stream()
                try:
                    for outcome in stream:
                        if outcome.error is not None:
                            if isinstance(outcome.error, StopPipeline):
                                logger.info("run %s: stopped by StopPipeline", self.run_id[:8])
                                break
                            self._failed(outcome)
                        elif outcome.batch is not _SKIPPED:
                            self.done += 1
                            if self.on_batch is not None:
                                self.on_batch(outcome.batch)
                            logger.info("batch %d done: %d items", outcome.iteration, len(outcome.batch))
                            yield outcome.batch
                        if bar is not None:
                            bar.update(1)
                finally:
                    stream.close()
                    for writer in self.writers.values():
                        writer.close()
            finally:
                self._hooks("after")
            self._closing_report()

    def _failed(self, outcome: _Outcome) -> None:
        error = outcome.error
        values = np.asarray(outcome.indices).tolist() if outcome.indices is not None else "?"
        if self.on_error == "raise":
            error.add_note(
                f"batchkit: in batch {outcome.iteration} of the run (index values {values!r:.200})"
            )
            raise error
        self.failed += 1
        logger.error(
            "batch %d failed and was skipped (index values %.200s): %s: %s",
            outcome.iteration,
            values,
            type(error).__name__,
            error,
            exc_info=(type(error), error, error.__traceback__),
        )

    def _closing_report(self) -> None:
        if self.failed and not self.done:
            raise PipelineError(f"every batch failed ({self.failed}); see the log for each error")
        if self.failed:
            message = f"{self.failed} batch(es) failed and were skipped; {self.done} succeeded"
            logger.warning(message)
            warnings.warn(message, RuntimeWarning, stacklevel=4)
        logger.info("run %s finished: %d batches done, %d failed", self.run_id[:8], self.done, self.failed)

    def _hooks(self, where: str) -> None:
        for action in getattr(self.pipeline, f"_{where}"):
            _execute(self, action, None, {})

    @contextlib.contextmanager
    def _logging(self):
        if self.log_file is None:
            yield
            return
        handler = logging.FileHandler(self.log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.INFO)
        old_level = logger.level
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)  # so INFO reaches the file; restored below
        logger.addHandler(handler)
        try:
            yield
        finally:
            logger.removeHandler(handler)
            logger.setLevel(old_level)
            handler.close()

    @contextlib.contextmanager
    def _progress(self):
        if not _want_bar(self.bar):
            yield None
            return
        from tqdm.auto import tqdm

        options = dict(total=self.total, unit="batch", desc="pipeline", dynamic_ncols=True)
        if isinstance(self.bar, dict):
            options.update(self.bar)
        bar = tqdm(**options)
        try:
            yield bar
        finally:
            bar.close()


def _split_at_rebatch(actions):
    """``[(None, actions before the first rebatch), (rebatch, actions after it), ...]``."""
    stages, current, head = [], [], None
    for action in actions:
        if action.kind == "builtin" and action.name == "rebatch":
            stages.append((head, current))
            head, current = action, []
        else:
            current.append(action)
    stages.append((head, current))
    return stages


def _default_merge(batches, batch_size, components, batch_class):
    from .batch import merge_batches

    return merge_batches(batches, batch_size, components, batch_class)


# -- executing one action ---------------------------------------------------------------------


def _evaluate(value, batch, pipeline):
    return eval_expr(value, batch=batch, pipeline=pipeline)


def _execute(run: _Run, action, batch, context: dict):
    pipeline = run.pipeline
    if action.kind == "pipeline":
        if action.probability is not None:
            probability = _evaluate(action.probability, batch, pipeline)
            if batch.random.random() >= probability:
                return batch
        for _ in range(action.repeat):
            for inner in action.pipeline.actions:
                batch = _execute(run, inner, batch, context)
        return batch
    if action.kind == "builtin":
        return _BUILTINS[action.name](run, action, batch, context)
    method = getattr(batch, action.name)
    no_eval = set(getattr(method, "action", {}).get("no_eval", ()))
    args = _evaluate(action.args, batch, pipeline)
    kwargs = {k: (v if k in no_eval else _evaluate(v, batch, pipeline)) for k, v in action.kwargs.items()}
    joined = context.pop("joined", ())
    result = method(*joined, *args, **kwargs)
    return batch if result is None else result


def _update(run, action, batch, context):
    expr, value = action.args
    value = _evaluate(value, batch, run.pipeline)
    mode = action.kwargs.get("mode")  # None: the expression's own mode (V("x", mode="a"))
    if hasattr(expr, "set"):
        expr.set(value, batch=batch, pipeline=run.pipeline, mode=mode)
    elif isinstance(expr, str):
        run.pipeline.set_variable(expr, value, mode or "w")
    else:
        raise TypeError(f"update needs a named expression such as V('name') or B('name') (got {expr!r})")
    return batch


def _call(run, action, batch, context):
    fn, *args = action.args
    kwargs = dict(action.kwargs)
    save_to = kwargs.pop("save_to", None)
    args = _evaluate(tuple(args), batch, run.pipeline)
    kwargs = _evaluate(kwargs, batch, run.pipeline)
    if isinstance(fn, str):
        result = getattr(batch, fn)(*args, **kwargs)
    elif batch is None:  # a before/after hook: there is no batch
        result = fn(*args, **kwargs)
    else:
        result = fn(batch, *args, **kwargs)
    if save_to is not None:
        if not hasattr(save_to, "set"):
            raise TypeError(f"save_to needs a named expression such as V('name') (got {save_to!r})")
        save_to.set(result, batch=batch, pipeline=run.pipeline)
    return batch


def _pull(pipeline, batch):
    """The next batch of another pipeline, for join and merge."""
    if pipeline._lazy_run is not None:
        return pipeline.next_batch()
    return pipeline.next_batch(len(batch))


def _join(run, action, batch, context):
    context["joined"] = tuple(_pull(other, batch) for other in action.args)
    return batch


def _merge(run, action, batch, context):
    others = [_pull(other, batch) for other in action.args]
    fn = action.kwargs.get("fn")
    if fn is not None:
        return fn([batch, *others])
    from .batch import merge_batches

    merged, _ = merge_batches(
        [batch, *others], None, action.kwargs.get("components"), action.kwargs.get("batch_class")
    )
    for name in ("pipeline", "iteration", "n_iterations", "random_seed", "random"):
        setattr(merged, name, getattr(batch, name, None))
    return merged


def _write_to(run, action, batch, context):
    from .store import BatchWriter

    key = id(action)
    writer = run.writers.get(key)
    if writer is None:
        (path,) = action.args
        writer = run.writers.setdefault(
            key,
            BatchWriter(
                path,
                action.kwargs.get("components"),
                run_id=action.kwargs.get("run_id") or run.run_id,
                mode=action.kwargs.get("mode", "new"),
            ),
        )
    writer.write(batch)
    return batch


def _rebatch_out_of_place(run, action, batch, context):
    raise PipelineError("rebatch cannot run inside a repeated or probabilistic sub-pipeline")


_BUILTINS = {
    "update": _update,
    "save_to": _update,
    "call": _call,
    "join": _join,
    "merge": _merge,
    "write_to": _write_to,
    "rebatch": _rebatch_out_of_place,
}


# -- entry points -----------------------------------------------------------------------------


def generate(
    pipeline,
    *,
    batch_size,
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
    batch_kwargs=None,
    endless=False,
):
    """Yield the pipeline's processed batches (see `gen_batch`)."""
    if n_epochs is not None and n_iters is not None:
        raise ValueError("give n_epochs or n_iters, not both")
    run = _Run(
        pipeline,
        batch_size=batch_size,
        n_epochs=n_epochs,
        n_iters=n_iters,
        shuffle=shuffle,
        drop_last=drop_last,
        prefetch=prefetch,
        bar=bar,
        on_batch=on_batch,
        on_error=on_error,
        log_file=log_file,
        seed=seed,
        batch_kwargs=batch_kwargs,
        endless=endless,
    )
    return run.batches()


def run_pipeline(pipeline, **arguments) -> None:
    """Run the pipeline to the end, keeping no batch (see `run`)."""
    for _ in generate(pipeline, **arguments):
        pass
