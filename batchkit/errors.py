"""Exceptions raised by batchkit.

Every batchkit exception derives from `BatchkitError` and, where one fits, from the
builtin a caller would already catch (``TypeError``, ``ValueError``).
"""

from __future__ import annotations

__all__ = [
    "BatchkitError",
    "EmptyBatchSequence",
    "ItemCancelled",
    "ItemTimeout",
    "JournalMismatch",
    "ParallelError",
    "RemoteTraceback",
    "TargetError",
    "WorkerDied",
    "WorkerError",
]


class BatchkitError(Exception):
    """Base class of every exception that batchkit itself raises."""


class TargetError(BatchkitError, ValueError):
    """An unknown or unusable target (executor) name."""


class PipelineError(BatchkitError):
    """A pipeline run failed as a whole (for instance, every batch failed)."""


class JournalMismatch(PipelineError, ValueError):
    """A run's journal cannot be used for this run: another run's, damaged, or its outputs changed.

    The message lists what differs and what to do: delete the journal and its output to start
    afresh, or run the pipeline exactly as it was to resume it.
    """


class SkipBatch(Exception):
    """Raise inside an action to drop the current batch on purpose (not counted as a failure)."""


class SkipBatchException(SkipBatch):
    """batchflow's name for `SkipBatch`: raising it drops the batch the same way."""


class EmptyBatchSequence(BatchkitError, Warning):
    """Warned when a run gives no batch at all (``n_iters=0``, say), as batchflow warns.

    A warning category, so a filter can make it an error:
    ``warnings.simplefilter("error", EmptyBatchSequence)``.
    """


class StopPipeline(Exception):
    """Raise inside an action to end the run after the batches already done."""


class WorkerError(BatchkitError):
    """An item could not be run or returned by a worker (pickling, a dead process, ...)."""


class WorkerDied(WorkerError):
    """The worker process running an item died (it exited, was killed, or crashed).

    Only the item that killed a worker when run on its own gets this error; the other items
    that were in flight on that worker run again.

    Attributes
    ----------
    exitcode : int or None
        The process's exit code; negative for a signal (``-9`` is ``SIGKILL``).
    """

    def __init__(self, message: str, exitcode: int | None = None):
        super().__init__(message)
        self.exitcode = exitcode

    def __reduce__(self):
        return type(self), (str(self), self.exitcode), self.__dict__


class ItemTimeout(BatchkitError, TimeoutError):
    """An item ran longer than the call's ``timeout`` and was given up on.

    Attributes
    ----------
    timeout : float
        The limit, in seconds.
    """

    def __init__(self, message: str, timeout: float | None = None):
        super().__init__(message)
        self.timeout = timeout

    def __reduce__(self):
        return type(self), (str(self), self.timeout), self.__dict__


class ItemCancelled(BatchkitError):
    """An item was never started: the call stopped first (``fail_fast``, Ctrl-C)."""


class RemoteTraceback(Exception):
    """Carries the formatted traceback of an exception raised in a worker process.

    It is set as ``__cause__`` of the exception that the caller receives, so the traceback
    printed in the caller shows where the worker failed.
    """

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text


class ParallelError(BatchkitError, ExceptionGroup):
    """Some items of a parallel action failed.

    It is an `ExceptionGroup` holding one exception per failed item, so
    ``except* ValueError`` catches the items that failed with ``ValueError``. Each member has a
    note naming the action and the item. ``results`` holds the whole results list in init
    order (failed slots hold the exception), so the work of the items that succeeded is kept.

    Attributes
    ----------
    results : list or None
        Every item's result, in init order; failed and cancelled slots hold their exception.
    failed_positions : list of int
        The positions of the failed items, exactly as the executor reported them (an item
        that *returned* an exception object is not among them).
    cancelled_positions : list of int
        The positions of the items never started because the call stopped first
        (``fail_fast``); their slots hold `ItemCancelled`, and they are not group members.
    """

    def __new__(cls, message, exceptions, results=None, failed_positions=(), cancelled_positions=()):
        self = super().__new__(cls, message, exceptions)
        self.results = results
        self.failed_positions = list(failed_positions)
        self.cancelled_positions = list(cancelled_positions)
        return self

    def __init__(self, message, exceptions, results=None, failed_positions=(), cancelled_positions=()):
        super().__init__(message, exceptions)

    def derive(self, excs):
        return ParallelError(
            self.message, excs, self.results, self.failed_positions, self.cancelled_positions
        )

    def __reduce__(self):
        return (
            type(self),
            (
                self.message,
                list(self.exceptions),
                self.results,
                self.failed_positions,
                self.cancelled_positions,
            ),
            self.__dict__,
        )
