"""The consumer's side of a run: the failure policy, ``on_batch``, journal records, the report.

Each outcome of the stages is taken in run order, in the caller's thread: a processed batch is
journaled, counted, given to ``on_batch`` and yielded; a failed one is raised (``"raise"``),
yielded as a `Failed` (``"yield"``, for ``next_batch``), or logged and left out (``"skip"``, and
``"skip_items"`` when its items could not be dropped); items dropped from a batch are logged
one by one. At the end the closing report is logged, and what the run did becomes a `RunReport`.

`_Policy` is a part of the run object, `batchkit._run._Run`, which sets up the state it reads.
"""

from __future__ import annotations

import logging
import os
import reprlib

import numpy as np

from ._run_stages import _RESUMED, _SKIPPED, _Outcome
from ._skip import error_line
from .errors import PipelineError, StopPipeline
from .report import DroppedItem, RunReport, SkippedBatch

_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 60
short_repr = _SHORT.repr  # an index value in a log line: a long string is cut


class Failed:
    """An error yielded in place of a batch (for `Pipeline.next_batch`, which raises it)."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException):
        self.error = error


class _Policy:
    """Consuming the stream of outcomes (a part of `batchkit._run._Run`).

    Reads the run's stream, on_error, on_batch, journal, writers, clock and run_id, logs with
    its ``log`` and moves its bar with ``_advance``; keeps its counts: done, failed, items,
    resumed, filtered, dropped, skipped and stopped.
    """

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

    def _count(self, bar) -> bool:
        """Move the bar (when there is one) to the batches done so far; return True."""
        if bar is not None:
            self._advance(bar)
        return True

    def _consume(self, bar):
        stream = self.stream()
        counted = False
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
                            counted = self._count(bar)
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
                        self.log(logging.INFO, "batch %d done: %d items", outcome.number, len(batch))
                        # counted before the caller gets it: a loop that stops at this batch has it shown
                        counted = self._count(bar)
                        yield batch
                        batch = None  # keep nothing while the next batch is made
                if not counted:
                    self._count(bar)
                outcome, counted = None, False
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
                outcome.number,
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
            outcome.number,
            status,
            outcome.indices,
            items=None if batch is None else len(batch),
            outputs=outputs,
            dropped=dropped,
            error=error,
        )

    def _failed(self, outcome: _Outcome, dropped=()):
        error = outcome.error
        values = np.asarray(outcome.indices).tolist() if outcome.indices is not None else "?"
        if self.on_error not in ("skip", "skip_items"):
            # raised to the caller: written to log_file, not logged as well (it would show twice)
            self.log(
                logging.ERROR,
                "batch %d failed (index values %.200s): %s: %s",
                outcome.number,
                values,
                type(error).__name__,
                error,
                exc_info=(type(error), error, error.__traceback__),
                file_only=True,
            )
            error.add_note(
                f"batchkit: in batch {outcome.number} of the run (index values {values!r:.200})"
            )
            if self.on_error == "yield":  # next_batch raises it, and the run goes on after
                return Failed(error)
            raise error
        self.failed += 1
        line = error_line(error)
        self.skipped.append(SkippedBatch(outcome.number, values if isinstance(values, list) else [], line))
        self._journal_batch(outcome, "skipped", dropped=dropped, error=line)
        self.log(
            logging.ERROR,
            "batch %d failed and was skipped (index values %.200s): %s: %s",
            outcome.number,
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
            # INFO, not WARNING: the count reaches the user as a RuntimeWarning already, and
            # logging's fallback would print it to stderr a second time
            self.log(logging.INFO, message)
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
