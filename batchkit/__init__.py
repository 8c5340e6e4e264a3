"""batchkit: in-batch parallelism for arrays, images, files and records.

Subclass :class:`Batch`, declare its components, write actions that handle one item, and let
:func:`inbatch_parallel` fan them out over threads, coroutines, processes or a plain loop.
"""

from .action import action
from .batch import Batch, Item, ItemRecord
from .errors import BatchkitError, ParallelError, RemoteTraceback, TargetError, WorkerError
from .executors import Executor, get_executor, register_target, shutdown_executors, target_names
from .jit import mjit
from .parallel import any_action_failed, inbatch_parallel, parallel

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "BatchkitError",
    "Executor",
    "Item",
    "ItemRecord",
    "ParallelError",
    "RemoteTraceback",
    "TargetError",
    "WorkerError",
    "action",
    "any_action_failed",
    "get_executor",
    "inbatch_parallel",
    "mjit",
    "parallel",
    "register_target",
    "shutdown_executors",
    "target_names",
]
