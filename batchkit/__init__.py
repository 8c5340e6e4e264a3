"""batchkit: in-batch parallelism for arrays, images, files and records.

Subclass `Batch`, declare its components, write actions that handle one item, and let
`inbatch_parallel` fan them out over threads, coroutines, processes or a plain loop. Chain
actions into lazy `Pipeline`s run over a `Dataset`.
"""

from ._action import action
from ._auto import Choice, explain
from ._config import config
from ._fanout import Results
from ._map import map
from ._parallel import any_action_failed, inbatch_parallel, parallel
from .apply import apply_parallel
from .baseset import Baseset
from .batch import Batch, Item, ItemRecord, RunContext
from .blocks import Block, process_blocks, split_into_blocks
from .dataset import Dataset
from .errors import (
    BatchkitError,
    EmptyBatchSequence,
    ItemCancelled,
    ItemTimeout,
    JournalMismatch,
    ParallelError,
    PipelineError,
    RemoteTraceback,
    SkipBatch,
    SkipBatchException,
    StopPipeline,
    TargetError,
    WorkerDied,
    WorkerError,
)
from .executors import Executor, get_executor, register_target, shutdown_executors, target_names
from .gpus import get_available_gpus, set_gpus
from .index import DatasetIndex, FilesIndex
from .jit import mjit
from .monitor import (
    MONITOR_ALIASES,
    CodeMonitor,
    CPUMonitor,
    DataMonitor,
    MemoryMonitor,
    Monitor,
    ProcessResourceMonitor,
    ResourceMonitor,
    RSSminusSHRMonitor,
    RSSMonitor,
    SHRMonitor,
    TotalCPUMonitor,
    TotalMemoryMonitor,
    USSMonitor,
    VMSMonitor,
)
from .named import PP, B, C, D, F, I, L, NamedExpression, P, R, V, W, eval_expr
from .notifier import Notifier, notifier
from .pipeline import Pipeline
from .progress import item_progress
from .report import RunReport
from .rng import make_rng, make_seed_sequence, spawn_seed_sequence
from .shared import is_shared, shared_array, to_shared
from .store import BatchWriter, iter_output, output_info, read_output

__version__ = "0.1.0"

__all__ = [
    "MONITOR_ALIASES",
    "PP",
    "B",
    "Baseset",
    "Batch",
    "BatchWriter",
    "BatchkitError",
    "Block",
    "C",
    "CPUMonitor",
    "Choice",
    "CodeMonitor",
    "D",
    "DataMonitor",
    "Dataset",
    "DatasetIndex",
    "EmptyBatchSequence",
    "Executor",
    "F",
    "FilesIndex",
    "I",
    "Item",
    "ItemCancelled",
    "ItemRecord",
    "ItemTimeout",
    "JournalMismatch",
    "L",
    "MemoryMonitor",
    "Monitor",
    "NamedExpression",
    "Notifier",
    "P",
    "ParallelError",
    "Pipeline",
    "PipelineError",
    "ProcessResourceMonitor",
    "R",
    "RSSMonitor",
    "RSSminusSHRMonitor",
    "RemoteTraceback",
    "ResourceMonitor",
    "Results",
    "RunContext",
    "RunReport",
    "SHRMonitor",
    "SkipBatch",
    "SkipBatchException",
    "StopPipeline",
    "TargetError",
    "TotalCPUMonitor",
    "TotalMemoryMonitor",
    "USSMonitor",
    "V",
    "VMSMonitor",
    "W",
    "WorkerDied",
    "WorkerError",
    "action",
    "any_action_failed",
    "apply_parallel",
    "config",
    "eval_expr",
    "explain",
    "get_available_gpus",
    "get_executor",
    "inbatch_parallel",
    "is_shared",
    "item_progress",
    "iter_output",
    "make_rng",
    "make_seed_sequence",
    "map",
    "mjit",
    "notifier",
    "output_info",
    "parallel",
    "process_blocks",
    "read_output",
    "register_target",
    "set_gpus",
    "shared_array",
    "shutdown_executors",
    "spawn_seed_sequence",
    "split_into_blocks",
    "target_names",
    "to_shared",
]
