"""Running a pipeline: batch generation, prefetch, stages, failure policy, hooks, progress, logs.

A run is a stream of outcomes, one per batch: a processed batch, a skipped one, or an error.
Stages are chained generators. The source stage makes the dataset's batches and runs the
actions up to the first ``rebatch`` or ``write_to`` (several batches at once with
``prefetch``); each later stage takes the batches in order, in the consumer's thread: a
``rebatch`` regroups them, a ``write_to`` writes them (so outputs keep the run's order), and
the actions after it follow. The consumer applies the failure policy and ``on_batch``, and
writes the journal's record of each batch (so records are in run order too).

Failure policies: ``"raise"`` raises a failed batch's error; ``"skip"`` logs it and goes on;
``"skip_items"`` drops the items that failed in an action and goes on with the rest (see
`batchkit._skip`), and skips a batch as ``"skip"`` does when that is not possible. Where the
messages go is `batchkit._runlog`'s business; the journal's is `batchkit._journal`'s; what the
run did ends up in a `RunReport`, ``pipeline.last_run``.

Every stage cleans up in ``finally``, so a run that stops early (an error, a ``break``,
Ctrl-C) leaves no thread running, and no stage keeps a batch it has passed on.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import logging
import math
import os
import reprlib
import sys
import threading
import time
import uuid
import warnings
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ._runlog import app_enabled, app_has_handlers, capture, logger, user_stacklevel
from ._skip import error_line
from ._steps import execute, write
from .batch import RunContext, set_run_context
from .errors import PipelineError, SkipBatch, StopPipeline
from .report import ActionClock, DroppedItem, RunReport, SkippedBatch

__all__ = ["ON_ERROR", "generate", "run_pipeline"]

#: the failure policies a run takes ("yield" is next_batch's own: the error comes out as a value)
ON_ERROR = ("raise", "skip", "skip_items")

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
short_repr = _SHORT.repr  # an index value in a log line: a long string is cut

_SKIPPED = object()  # dropped on purpose by SkipBatch
_RESUMED = object()  # finished by an earlier run, as its journal says: not run again
#: the stages that run in the consumer's thread, in order, after the source stage
_STAGE_HEADS = ("rebatch", "write_to")


@dataclass
class _Outcome:
    """What became of one batch: the processed batch, ``_SKIPPED``, ``_RESUMED``, or its error.

    ``dropped`` holds ``(index value, action name, item error)`` of the items dropped from it.
    """

    iteration: int
    indices: object
    batch: object = None
    error: BaseException | None = None
    dropped: list = field(default_factory=list)


def _is_batch(outcome: _Outcome) -> bool:
    return outcome.error is None and outcome.batch is not _SKIPPED and outcome.batch is not _RESUMED


class Failed:
    """An error yielded in place of a batch (for `Pipeline.next_batch`, which raises it)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


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


def _split_into_stages(actions):
    """``[(None, source actions), (rebatch or write_to, actions after it), ...]``."""
    stages, current, head = [], [], None
    for action in actions:
        if action.kind == "builtin" and action.name in _STAGE_HEADS:
            stages.append((head, current))
            head, current = action, []
        else:
            current.append(action)
    stages.append((head, current))
    return stages


def _default_merge(batches, batch_size, components, batch_class):
    from .batch import merge_batches

    return merge_batches(batches, batch_size, components, batch_class)


def _check_arguments(pipeline, batch_size, on_error, prefetch, on_batch) -> int:
    if pipeline.dataset is None:
        raise TypeError("this pipeline has no dataset: add one with pipeline << dataset")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"'batch_size' must be a positive int (got {batch_size!r})")
    if on_error not in (*ON_ERROR, "yield"):
        raise ValueError(f"'on_error' must be one of {list(ON_ERROR)} (got {on_error!r})")
    if isinstance(prefetch, bool):
        prefetch = 4 if prefetch else 0
    if not isinstance(prefetch, int) or prefetch < 0:
        raise ValueError(f"'prefetch' must be a non-negative int (got {prefetch!r})")
    if on_batch is not None and not callable(on_batch):
        raise TypeError(f"'on_batch' must be callable (got {on_batch!r})")
    return prefetch


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
        journal=None,
    ):
        self.prefetch = _check_arguments(pipeline, batch_size, on_error, prefetch, on_batch)
        self.pipeline = pipeline
        self.dataset = pipeline.dataset
        self.batch_size = batch_size
        self.order = dict(shuffle=shuffle, n_epochs=n_epochs, n_iters=n_iters, drop_last=drop_last)
        self.endless = endless
        self.bar = bar
        self.on_batch = on_batch
        self.on_error = on_error
        self.log_file = log_file
        self.batch_kwargs = batch_kwargs or {}
        self.seed = _seed_sequence(seed, shuffle)
        self.total = _n_batches(len(self.dataset), batch_size, n_epochs, n_iters, drop_last, endless)
        self.run_id = uuid.uuid4().hex
        self.lock = threading.Lock()
        self.writers = {}
        self.file_handler = None
        self.clock = ActionClock()
        self.dropped: list[DroppedItem] = []
        self.skipped: list[SkippedBatch] = []
        self.failed = self.done = self.items = self.source_done = self.resumed = self.filtered = 0
        self.stopped = False
        self.journal = self._open_journal(journal, seed) if journal is not None else None

    def _open_journal(self, path, seed):
        """The run's journal, checked against the run before any work (see `batchkit._journal`)."""
        from ._journal import Journal, check_journaled, describe_run

        check_journaled(self.pipeline, self.order["shuffle"], seed, self.endless)
        description = describe_run(
            self.pipeline,
            batch_size=self.batch_size,
            order=self.order,
            seed=seed,
            batch_kwargs=self.batch_kwargs,
        )
        journal = Journal(path, description, self.seed.entropy, self.seed.spawn_key)
        if journal.resuming:  # the earlier run's id and seed, so that it goes on as it would have
            entropy, spawn_key = journal.entropy
            self.seed = np.random.SeedSequence(int(entropy), spawn_key=tuple(spawn_key))
            self.run_id = journal.run_id
        else:
            journal.run_id = self.run_id
        return journal

    # -- logging: to the application's handlers as configured, and all of it to log_file ----

    def log(self, level: int, message: str, *args, exc_info=None, file_only=False) -> None:
        """Log one of the run's own lines (see `batchkit._runlog` for where it goes)."""
        if self.file_handler is not None and level >= logging.INFO:
            record = logger.makeRecord(
                logger.name, level, __file__, 0, message, args, exc_info, extra={"batchkit_run": True}
            )
            self.file_handler.handle(record)
        if file_only or not app_enabled(level):
            return
        if exc_info is not None and not app_has_handlers():
            exc_info = None  # logging's last resort would print the traceback to stderr: one line only
        record = logger.makeRecord(
            logger.name, level, __file__, 0, message, args, exc_info, extra={"batchkit_run": True}
        )
        logger.handle(record)

    @contextlib.contextmanager
    def _logging(self):
        if self.log_file is None:
            yield
            return
        # The file gets the run's INFO lines, and what actions log and warn, without changing
        # what the application's own handlers see (see batchkit._runlog).
        self.file_handler = logging.FileHandler(self.log_file)
        self.file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        try:
            with capture(self.file_handler):
                yield
        finally:
            self.file_handler.close()
            self.file_handler = None

    # -- the batches ------------------------------------------------------------------------

    def _batch_indices(self):
        order = dict(self.order)
        if order["shuffle"] is True:
            order["shuffle"] = np.random.default_rng(_derived(self.seed, 0))
        if self.endless:
            order["n_epochs"], order["n_iters"] = None, math.inf
        return self.dataset.index.gen_batch(self.batch_size, **order)

    def _tag(self, batch, iteration: int, stream: int, total):
        seed = _derived(self.seed, stream, iteration)
        context = RunContext(self.pipeline, iteration, total, seed, np.random.default_rng(seed))
        return set_run_context(batch, context)

    def make_and_process(self, batch_indices, iteration: int, actions) -> _Outcome:
        outcome = _Outcome(iteration, getattr(batch_indices, "indices", batch_indices))
        try:
            batch = self.dataset.create_batch(batch_indices, pipeline=self.pipeline, **self.batch_kwargs)
            self._tag(batch, iteration, 1, self.total)
            outcome.batch = self.process(batch, actions, outcome)
        except Exception as exc:  # kept as the batch's outcome: the policy decides
            outcome.error = exc
        return outcome

    def process(self, batch, actions, outcome: _Outcome):
        """Run ``actions`` on ``batch``; a ``SkipBatch`` gives ``_SKIPPED``."""
        context = {"dropped": outcome.dropped}
        try:
            for action in actions:
                batch = execute(self, action, batch, context)
        except SkipBatch:
            return _SKIPPED
        return batch

    def open_writer(self, action):
        """The writer of a ``write_to`` step: new, or (with a journal) resumed where it was."""
        from .store import BatchWriter

        (path,) = action.args
        components = action.kwargs.get("components")
        mode = action.kwargs.get("mode", "new")
        run_id = action.kwargs.get("run_id") or self.run_id
        if self.journal is None:
            return BatchWriter(path, components, mode=mode, run_id=run_id)
        return self.journal.open_output(path, components, mode, run_id)

    # -- stages -----------------------------------------------------------------------------

    def source(self, actions):
        """Outcomes of the dataset's batches through ``actions``, in order."""
        for outcome in self._source(actions):
            self.source_done += 1
            yield outcome

    def _source(self, actions):
        batch_indices = enumerate(self._batch_indices())
        if self.journal is not None and self.journal.n_recorded:
            # an earlier run finished these (a prefix of the run): checked, not made again
            for iteration, indices in itertools.islice(batch_indices, self.journal.n_recorded):
                values = getattr(indices, "indices", indices)
                self.journal.check_batch(iteration, values)
                yield _Outcome(iteration, values, _RESUMED)
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

    def _after_head(self, outcome: _Outcome, actions) -> _Outcome:
        if actions and _is_batch(outcome):
            try:
                outcome.batch = self.process(outcome.batch, actions, outcome)
            except Exception as exc:
                outcome.batch, outcome.error = None, exc
        return outcome

    def written(self, stream, action, actions):
        """Write each processed batch of ``stream`` in order, then run ``actions`` on it."""
        for outcome in stream:
            if _is_batch(outcome):
                started, items = time.perf_counter(), len(outcome.batch)
                try:
                    write(self, action, outcome.batch)
                except Exception as exc:
                    outcome.batch, outcome.error = None, exc
                self.clock.add(action.name, time.perf_counter() - started, items)
            yield self._after_head(outcome, actions)

    def rebatched(self, stream, action, actions, stage: int):
        """Regroup the processed batches of ``stream`` per ``action`` (a rebatch), then run ``actions``."""
        size = action.args[0]
        merge = action.kwargs.get("merge") or _default_merge
        components, batch_class = action.kwargs.get("components"), action.kwargs.get("batch_class")
        buffer, count, iteration = [], 0, 0
        dropped = []  # items dropped from the batches in the buffer: reported with the next merged one

        def emit(merged):
            nonlocal iteration, dropped
            outcome = _Outcome(iteration, merged.indices, merged, dropped=dropped)
            dropped = []
            self._tag(merged, iteration, 10 + stage, None)
            iteration += 1
            return self._after_head(outcome, actions)

        for outcome in stream:
            if not _is_batch(outcome):
                yield outcome
                continue
            buffer.append(outcome.batch)
            dropped.extend(outcome.dropped)
            count += len(outcome.batch)
            outcome = None  # the buffer holds the batch now; keep no second reference
            while count >= size:
                merged, rest = merge(buffer, size, components, batch_class)
                buffer, count = ([rest], len(rest)) if rest is not None else ([], 0)
                yield emit(merged)
                merged = None
        if buffer:
            merged, _ = merge(buffer, None, components, batch_class)
            buffer = None
            yield emit(merged)
        elif dropped:  # no batch left to carry them
            yield _Outcome(iteration, None, _SKIPPED, dropped=dropped)

    def stream(self):
        stages = _split_into_stages(self.pipeline.actions)
        stream = self.source(stages[0][1])
        for stage, (head, actions) in enumerate(stages[1:], start=1):
            if head.name == "rebatch":
                stream = self.rebatched(stream, head, actions, stage)
            else:
                stream = self.written(stream, head, actions)
        return stream

    # -- policy, callbacks, hooks -----------------------------------------------------------

    def batches(self):
        """The processed batches, after the failure policy and ``on_batch``; runs the hooks."""
        started = time.perf_counter()
        completed, message = False, None
        try:
            with self._logging(), self._progress() as bar:
                self.pipeline.random = np.random.default_rng(_derived(self.seed, 2))
                if self.journal is not None:
                    self._start_journal()
                self.log(
                    logging.INFO,
                    "run %s: batch_size=%s, %s batches%s",
                    self.run_id[:8],
                    self.batch_size,
                    "endless" if self.total is None else self.total,
                    f", resuming after {self.journal.n_recorded}"
                    if self.journal and self.journal.n_recorded
                    else "",
                )
                self._hooks("before")
                try:
                    yield from self._consume(bar)
                finally:
                    self._hooks("after")
                completed = True
                message = self._closing_report()
                if self.journal is not None and not self.stopped:
                    self.journal.record_end(self.source_done)
        finally:
            if self.journal is not None:
                self.journal.close()
            self.pipeline.last_run = self.report(time.perf_counter() - started, completed)
        if message is not None:
            warnings.warn(message, RuntimeWarning, stacklevel=user_stacklevel())

    def _start_journal(self) -> None:
        """Write the journal's header (or cut its torn tail) and open every output, rolled back."""
        self.journal.start()
        for action in self.pipeline.actions:
            if action.kind == "builtin" and action.name == "write_to":
                self.writers[id(action)] = self.open_writer(action)

    def report(self, wall_seconds: float, completed: bool) -> RunReport:
        return RunReport(
            run_id=self.run_id,
            on_error=self.on_error,
            batches_done=self.done,
            batches_skipped=self.failed,
            batches_resumed=self.resumed,
            batches_filtered=self.filtered,
            items_done=self.items,
            items_dropped=tuple(self.dropped),
            skipped=tuple(self.skipped),
            actions=self.clock.totals(),
            wall_seconds=wall_seconds,
            completed=completed,
            journal=None if self.journal is None else os.fspath(self.journal.path),
        )

    def _consume(self, bar):
        stream = self.stream()
        try:
            for outcome in stream:
                if outcome.batch is _RESUMED:
                    self.resumed += 1
                else:
                    dropped = self._note_dropped(outcome)
                    if outcome.error is not None:
                        if isinstance(outcome.error, StopPipeline):
                            self.stopped = True
                            self.log(logging.INFO, "run %s: stopped by StopPipeline", self.run_id[:8])
                            break
                        failure = self._failed(outcome, dropped)
                        if failure is not None:
                            yield failure
                    elif outcome.batch is _SKIPPED:
                        if outcome.indices is not None:
                            self.filtered += 1
                            self._journal_batch(outcome, "filtered", dropped=dropped)
                    else:
                        batch, outcome.batch = outcome.batch, None
                        # journaled before anything else sees it: a crash in on_batch or in the
                        # caller's loop does not make the batch run (and be written) twice
                        self._journal_batch(outcome, "done", batch=batch, dropped=dropped)
                        self.done += 1
                        self.items += len(batch)
                        if self.on_batch is not None:
                            self.on_batch(batch)
                        self.log(logging.INFO, "batch %d done: %d items", outcome.iteration, len(batch))
                        yield batch
                        batch = None  # keep nothing while the next batch is made
                if bar is not None:
                    self._advance(bar)
                outcome = None
        finally:
            stream.close()
            for writer in self.writers.values():
                writer.close()

    def _note_dropped(self, outcome: _Outcome) -> list:
        """Log each item dropped from the batch, once, and count it; return them as lines."""
        lines = []
        for value, action, error in outcome.dropped:
            line = error_line(error)
            lines.append((value, action, line))
            self.dropped.append(DroppedItem(value, action, line))
            self.log(
                logging.WARNING,
                "batch %d: item %s dropped, it failed in %s: %s",
                outcome.iteration,
                short_repr(value),
                action,
                line,
                exc_info=(type(error), error, error.__traceback__),
            )
        outcome.dropped = []  # the errors hold tracebacks, and so frames: let them go
        return lines

    def _journal_batch(self, outcome: _Outcome, status: str, *, batch=None, dropped=(), error=None) -> None:
        if self.journal is None or self.on_error == "yield":
            return
        outputs = None
        if batch is not None and self.writers:
            outputs = {
                os.path.abspath(os.fspath(writer.path)): writer.state() for writer in self.writers.values()
            }
        self.journal.record_batch(
            outcome.iteration,
            status,
            outcome.indices,
            items=None if batch is None else len(batch),
            outputs=outputs,
            dropped=dropped,
            error=error,
        )

    def _advance(self, bar) -> None:
        """Move the bar to the dataset batches done so far, with the items per second."""
        bar.update(self.source_done - bar.n)
        elapsed = bar.format_dict.get("elapsed") or 0
        if elapsed > 0:
            bar.set_postfix_str(f"{self.items / elapsed:,.0f} items/s", refresh=False)

    def _failed(self, outcome: _Outcome, dropped=()):
        error = outcome.error
        values = np.asarray(outcome.indices).tolist() if outcome.indices is not None else "?"
        if self.on_error not in ("skip", "skip_items"):
            # raised to the caller: written to log_file, not logged as well (it would show twice)
            self.log(
                logging.ERROR,
                "batch %d failed (index values %.200s): %s: %s",
                outcome.iteration,
                values,
                type(error).__name__,
                error,
                exc_info=(type(error), error, error.__traceback__),
                file_only=True,
            )
            error.add_note(
                f"batchkit: in batch {outcome.iteration} of the run (index values {values!r:.200})"
            )
            if self.on_error == "yield":  # next_batch raises it, and the run goes on after
                return Failed(error)
            raise error
        self.failed += 1
        line = error_line(error)
        self.skipped.append(SkippedBatch(outcome.iteration, values if isinstance(values, list) else [], line))
        self._journal_batch(outcome, "skipped", dropped=dropped, error=line)
        self.log(
            logging.ERROR,
            "batch %d failed and was skipped (index values %.200s): %s: %s",
            outcome.iteration,
            values,
            type(error).__name__,
            error,
            exc_info=(type(error), error, error.__traceback__),
        )
        return None

    def _closing_report(self) -> str | None:
        """Log the run's end; return the warning to give, if any. Raises if every batch failed."""
        if self.failed and not self.done and not self.resumed:
            raise PipelineError(f"every batch failed ({self.failed}); see the log for each error")
        message = None
        if self.on_error == "skip_items" and (self.failed or self.dropped):
            message = (
                f"on_error='skip_items': {self.failed} batch(es) skipped and {len(self.dropped)} "
                f"item(s) dropped; {self.done} batch(es) done (see pipeline.last_run and the log)"
            )
        elif self.failed:
            message = f"{self.failed} batch(es) failed and were skipped; {self.done} succeeded"
        if message is not None:
            self.log(logging.WARNING, message)
        self.log(
            logging.INFO,
            "run %s finished: %d batches done, %d failed, %d items dropped, %d resumed",
            self.run_id[:8],
            self.done,
            self.failed,
            len(self.dropped),
            self.resumed,
        )
        return message

    def _hooks(self, where: str) -> None:
        for action in getattr(self.pipeline, f"_{where}"):
            execute(self, action, None, {})

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
    journal=None,
):
    """Yield the pipeline's processed batches (see `Pipeline.gen_batch`)."""
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
        journal=journal,
    )
    return run.batches()


def run_pipeline(pipeline, **arguments) -> None:
    """Run the pipeline to the end, keeping no batch (see `Pipeline.run`)."""
    deque(generate(pipeline, **arguments), maxlen=0)
