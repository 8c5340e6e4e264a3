"""A batchflow user's imports work after replacing ``batchflow`` by ``batchkit``."""

import importlib

import pytest

BATCHFLOW_IMPORTS = [
    (
        "batchkit",
        [
            "Batch",
            "Dataset",
            "DatasetIndex",
            "FilesIndex",
            "Pipeline",
            "action",
            "inbatch_parallel",
            "any_action_failed",
            "mjit",
            "apply_parallel",
            "B",
            "V",
            "C",
            "F",
            "R",
            "P",
            "PP",
            "W",
            "I",
            "D",
            "SkipBatchException",
            "Notifier",
            "notifier",
            "Monitor",
            "ResourceMonitor",
            "CPUMonitor",
            "RSSMonitor",
            "USSMonitor",
            "VMSMonitor",
            "TotalCPUMonitor",
            "TotalMemoryMonitor",
            "MONITOR_ALIASES",
            "EmptyBatchSequence",
            "set_gpus",
            "get_available_gpus",
            "make_rng",
            "make_seed_sequence",
            "spawn_seed_sequence",
            "Baseset",
            "StopPipeline",
            "NamedExpression",
            "eval_expr",
        ],
    ),
    ("batchkit.notifier", ["Notifier", "notifier"]),
    ("batchkit.monitor", ["Monitor", "CPUMonitor", "RSSMonitor", "TotalMemoryMonitor", "MONITOR_ALIASES"]),
    (
        "batchkit.decorators",
        ["action", "inbatch_parallel", "parallel", "any_action_failed", "mjit", "apply_parallel"],
    ),
    (
        "batchkit.named_expr",
        ["B", "V", "C", "F", "R", "P", "PP", "W", "I", "D", "NamedExpression", "eval_expr"],
    ),
]


@pytest.mark.parametrize(("module", "names"), BATCHFLOW_IMPORTS, ids=[m for m, _ in BATCHFLOW_IMPORTS])
def test_batchflow_import_paths_resolve(module, names):
    """Each name batchflow users import from this module path can be imported from batchkit's."""
    imported = importlib.import_module(module)
    assert [name for name in names if not hasattr(imported, name)] == []


def test_decorators_module_holds_the_same_objects():
    """The compatibility module re-exports the very same decorators, not copies."""
    import batchkit
    import batchkit.decorators

    assert batchkit.decorators.inbatch_parallel is batchkit.inbatch_parallel
    assert batchkit.decorators.mjit is batchkit.mjit


def test_skip_batch_exception_is_a_skip_batch():
    """batchflow's SkipBatchException is a SkipBatch, so raising it drops the batch the same way."""
    import batchkit

    assert issubclass(batchkit.SkipBatchException, batchkit.SkipBatch)


#: every top-level name of batchflow 0.10.1 that is not a module, as ``dir(batchflow)`` lists it
BATCHFLOW_TOP_LEVEL = [
    "B",
    "Baseset",
    "Batch",
    "C",
    "CPUMonitor",
    "CodeMonitor",
    "Config",
    "ConstantSampler",
    "D",
    "DataMonitor",
    "Dataset",
    "DatasetIndex",
    "DirDiskMonitor",
    "DiskIOMonitor",
    "EmptyBatchSequence",
    "F",
    "FilesIndex",
    "GPUMemoryMonitor",
    "GPUMemoryUtilizationMonitor",
    "GPUMonitor",
    "GPUResourceMonitor",
    "HistoSampler",
    "I",
    "ImagesBatch",
    "L",
    "M",
    "MONITOR_ALIASES",
    "Monitor",
    "NamedExpression",
    "Normalizer",
    "Notifier",
    "NumpySampler",
    "P",
    "PP",
    "PackageNotFoundError",
    "Pipeline",
    "ProcessResourceMonitor",
    "Quantizer",
    "R",
    "RSSMonitor",
    "RSSminusSHRMonitor",
    "ResourceMonitor",
    "SHRMonitor",
    "Sampler",
    "ScipySampler",
    "SkipBatchException",
    "StopPipeline",
    "TelegramMessage",
    "Thread",
    "TotalCPUMonitor",
    "TotalDiskMonitor",
    "TotalMemoryMonitor",
    "USSMonitor",
    "V",
    "VMSMonitor",
    "W",
    "action",
    "any_action_failed",
    "apply_parallel",
    "copy",
    "deprecated",
    "eval_expr",
    "get_available_gpus",
    "literal_eval",
    "make_delayed_import",
    "make_rng",
    "make_seed_sequence",
    "mjit",
    "notifier",
    "plot",
    "pylint_notebook",
    "pynvml",
    "read_data_from",
    "save_data_to",
    "set_gpus",
    "spawn_seed_sequence",
    "try_import",
    "version",
]


def test_each_batchflow_name_is_here_or_on_the_migration_page():
    """A batchflow name batchkit lacks is at least named on the migration page, with its status."""
    import pathlib

    import batchkit

    page = (pathlib.Path(__file__).resolve().parents[1] / "docs" / "batchflow.md").read_text()
    missing = [n for n in BATCHFLOW_TOP_LEVEL if not hasattr(batchkit, n) and f"`{n}`" not in page]
    assert missing == []
