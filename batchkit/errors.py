"""Exceptions raised by batchkit.

Every batchkit exception derives from `BatchkitError` and, where one fits, from the
builtin a caller would already catch (``TypeError``, ``ValueError``).
"""

from __future__ import annotations

__all__ = [
    "BatchkitError",
    "ParallelError",
    "RemoteTraceback",
    "TargetError",
    "WorkerError",
]


class BatchkitError(Exception):
    """Base class of every exception that batchkit itself raises."""


class TargetError(BatchkitError, ValueError):
    """An unknown or unusable target (executor) name."""


class PipelineError(BatchkitError):
    """A pipeline run failed as a whole (for instance, every batch failed)."""


class SkipBatch(Exception):
    """Raise inside an action to drop the current batch on purpose (not counted as a failure)."""


class SkipBatchException(SkipBatch):
    """batchflow's name for `SkipBatch`: raising it drops the batch the same way."""


class StopPipeline(Exception):
    """Raise inside an action to end the run after the batches already done."""


class WorkerError(BatchkitError):
    """An item could not be run or returned by a worker (pickling, a dead process, ...)."""


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
    """

    def __new__(cls, message, exceptions, results=None):
        self = super().__new__(cls, message, exceptions)
        self.results = results
        return self

    def __init__(self, message, exceptions, results=None):
        super().__init__(message, exceptions)

    def derive(self, excs):
        return ParallelError(self.message, excs, self.results)

    @property
    def failed_positions(self) -> list[int]:
        """Positions (in init order) of the failed items; empty when ``results`` is unknown."""
        if self.results is None:
            return []
        return [i for i, r in enumerate(self.results) if isinstance(r, BaseException)]
