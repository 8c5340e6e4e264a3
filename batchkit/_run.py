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

The run object `_Run` is made of parts: `batchkit._run_stages` makes the stream of outcomes
(the source stage, prefetch, rebatch, write_to), `batchkit._run_policy` consumes it (the
failure policy, ``on_batch``, the journal's records, the closing report). This module holds
the run's state, its logging, progress bar and hooks, and the entry points.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import threading
import time
import uuid
import warnings
from collections import deque

import numpy as np

from ._run_policy import Failed, _Policy
from ._run_stages import _derived, _split_into_stages, _Stages
from ._runlog import app_enabled, app_has_handlers, capture, logger, user_stacklevel
from ._steps import execute
from .errors import EmptyBatchSequence
from .notifier import as_notifier
from .report import ActionClock, DroppedItem, SkippedBatch

# Failed: what generate yields in place of a failed batch under on_error="yield"
__all__ = ["ON_ERROR", "Failed", "generate", "run_pipeline"]

#: the failure policies a run takes ("yield" is next_batch's own: the error comes out as a value)
ON_ERROR = ("raise", "skip", "skip_items")


def _seed_sequence(seed, shuffle) -> np.random.SeedSequence:
    if seed is None and isinstance(shuffle, int) and not isinstance(shuffle, bool):
        seed = shuffle
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


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


class _Run(_Stages, _Policy):
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
        client=None,
        notifier=None,
    ):
        self.prefetch = _check_arguments(pipeline, batch_size, on_error, prefetch, on_batch)
        if client is not None and client is not False:
            from ._run_distributed import check_client

            check_client(client, _split_into_stages(pipeline.actions)[0][1])
        #: the dask client the source stage runs on (True: the one in force), or None: locally
        self.client = None if client is False else client
        self.pipeline = pipeline
        self.dataset = pipeline.dataset
        self.batch_size = batch_size
        self.order = dict(shuffle=shuffle, n_epochs=n_epochs, n_iters=n_iters, drop_last=drop_last)
        self.endless = endless
        self.notifier = as_notifier(notifier, bar if bar != "auto" else _want_bar(bar))
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

    # -- policy, callbacks, hooks -----------------------------------------------------------

    def batches(self):
        """The processed batches, after the failure policy and ``on_batch``; runs the hooks."""
        started = time.perf_counter()
        completed, message = False, None
        try:
            with self._logging(), self._progress() as bar:
                self.pipeline.random_seed = _derived(self.seed, 2)
                self.pipeline.random = np.random.default_rng(self.pipeline.random_seed)
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
        if completed and self.source_done == 0:
            warnings.warn(
                f"the run made no batch at all ({self._why_empty()}): nothing ran",
                EmptyBatchSequence,
                stacklevel=user_stacklevel(),
            )

    def _why_empty(self) -> str:
        if self.order.get("n_iters") == 0:
            return "n_iters=0"
        if self.order.get("n_epochs") == 0:
            return "n_epochs=0"
        return f"{len(self.dataset)} items, batch_size={self.batch_size}, {self.order}"

    def _start_journal(self) -> None:
        """Write the journal's header (or cut its torn tail) and open every output, rolled back."""
        self.journal.start()
        for action in self.pipeline.actions:
            if action.kind == "builtin" and action.name == "write_to":
                self.writers[id(action)] = self.open_writer(action)

    def _advance(self, notifier) -> None:
        """Move the notifier to the dataset batches done so far, with the items per second."""
        elapsed = time.perf_counter() - self._progress_started
        if elapsed > 0:
            notifier.suffix = f"{self.items / elapsed:,.0f} items/s"
        notifier.update(self.source_done - notifier.n, pipeline=self.pipeline)

    def _hooks(self, where: str) -> None:
        for action in getattr(self.pipeline, f"_{where}"):
            execute(self, action, None, {})

    @contextlib.contextmanager
    def _progress(self):
        """The run's notifier, started (its bar drawn, its monitors sampling), or None."""
        notifier = self.notifier
        if notifier is None:
            yield None
            return
        from .progress import around_bar

        self._progress_started = time.perf_counter()
        notifier.n = 0  # a notifier given to several runs counts each from the start
        notifier.start(total=self.total, unit="batch", desc="pipeline", dynamic_ncols=True)
        try:
            if notifier.tqdm_class is None:
                yield notifier
            else:
                with around_bar(notifier.tqdm_class):
                    yield notifier
        finally:
            notifier.close()


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
    notifier=None,
    on_batch=None,
    on_error="raise",
    log_file=None,
    seed=None,
    batch_kwargs=None,
    endless=False,
    journal=None,
    client=None,
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
        client=client,
        notifier=notifier,
    )
    return run.batches()


def run_pipeline(pipeline, **arguments) -> None:
    """Run the pipeline to the end, keeping no batch (see `Pipeline.run`)."""
    deque(generate(pipeline, **arguments), maxlen=0)
