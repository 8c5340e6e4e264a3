"""The stages of a run: the stream of outcomes, one per batch, in run order.

The source stage makes the dataset's batches and runs the actions up to the first ``rebatch``
or ``write_to`` (several batches at once with ``prefetch``); each later stage takes the
batches in order, in the consumer's thread: a ``rebatch`` regroups them, a ``write_to`` writes
them, and the actions after it follow. A batch that an earlier run finished (its journal says
so) comes out as ``_RESUMED``, not made again.

`_Stages` is a part of the run object, `batchkit._run._Run`, which sets up the state it reads.
"""

from __future__ import annotations

import contextvars
import itertools
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ._steps import execute, write
from .batch import RunContext, set_run_context
from .errors import SkipBatch
from .rng import make_rng

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

    @property
    def number(self) -> int:
        """The batch's number as users see it (``batch.iteration``, logs, errors): from 1."""
        return self.iteration + 1


def _is_batch(outcome: _Outcome) -> bool:
    return outcome.error is None and outcome.batch is not _SKIPPED and outcome.batch is not _RESUMED


def _derived(base: np.random.SeedSequence, *key) -> np.random.SeedSequence:
    """A child seed sequence of ``base`` fixed by ``key`` (the same key always gives the same)."""
    return np.random.SeedSequence(base.entropy, spawn_key=(*base.spawn_key, *key))


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


class _Stages:
    """Making the batches and running the stages (a part of `batchkit._run._Run`).

    Reads the run's pipeline, dataset, batch_size, order, endless, seed, total, prefetch,
    batch_kwargs, journal, clock, run_id and client (with a client, the source stage runs on a
    dask cluster: see `batchkit._run_distributed`); `batchkit._steps` reads its lock and writers;
    counts the dataset batches made in ``source_done``.
    """

    # -- the batches ------------------------------------------------------------------------

    def _batch_indices(self):
        order = dict(self.order)
        shuffle = order["shuffle"]
        # batchflow's rule for a run: the order comes from an SFC64 generator seeded by the first
        # child of the seed (the int given as shuffle, else the run's seed), so that a seeded
        # run's first epoch is batchflow's; later epochs go on drawing from that generator
        if shuffle is True:
            order["shuffle"] = make_rng(_derived(self.seed, 0))
        elif isinstance(shuffle, int) and not isinstance(shuffle, bool) and shuffle >= 0:
            order["shuffle"] = make_rng(_derived(np.random.SeedSequence(shuffle), 0))
        if self.endless:
            order["n_epochs"], order["n_iters"] = None, math.inf
        elif order["n_epochs"] is None and order["n_iters"] is None:
            order["n_epochs"] = 1  # a run without limits is one epoch (an index alone never stops)
        return self.dataset.index.gen_batch(self.batch_size, **order)

    def _tag(self, batch, iteration: int, stream: int, total):
        """Attach the run context; ``iteration`` is the batch's position, from 0 (users count from 1)."""
        seed = _derived(self.seed, stream, iteration)
        context = RunContext(self.pipeline, iteration + 1, total, seed, np.random.default_rng(seed))
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
        if self.client is not None:  # each batch's chain of actions as a task on a dask cluster
            from ._run_distributed import cluster_source

            yield from cluster_source(self, batch_indices, actions)
            return
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
