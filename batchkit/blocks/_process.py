"""`process_blocks`: a function over the blocks of a source, valid regions into a sink.

Each block is one item of one fan-out call (`batchkit._fanout.run_calls`), so every target runs
it, with the usual stopping, timeout and failure rules. What an item does (`BlockTask`): get
its block of each source, call the function, check the result's shape, and write the valid
region into the sink, or return it for the caller to write. Where the data comes from decides
what crosses to worker processes:

==================  ==========================================  =================================
source / sink       threads, for, async (same process)          mpc (``runs_worker_function``)
==================  ==========================================  =================================
memmap, ``.npy``    the item maps the file, reads its block     the same, in the worker: only the
                    (and writes its valid region), unmaps       file's path and the slicing cross
in memory           the item copies its block from the array    the block is a view of the source,
                    and writes into the sink array              shared once per call (`to_shared`:
                                                                never); a sink in shared memory
                                                                (the default one) is written in
                                                                place, any other's valid region
                                                                comes back for the caller to write
==================  ==========================================  =================================

Memory stays bounded by the blocks in flight: no item reads its block before it starts.
"""

from __future__ import annotations

import contextlib

import numpy as np

from .._calls import SINGLE, Calls
from .._cpus import available_cpus
from .._fanout import failure_error, run_calls
from ..executors import RunOptions, check_target, get_executor
from ..progress import item_progress
from ..shared import is_shared, shared_array
from ._arrays import FileArray, file_array, open_sink, open_source
from ._block import Block, format_slicing
from ._split import split_into_blocks

__all__ = ["CARRIED", "BlockTask", "process_blocks"]


class _Carried:
    """The sink's valid region of each block comes in the item's entry (a view of shared memory)."""

    def __reduce__(self):
        return "CARRIED"  # pickled by name: the worker's ``is CARRIED`` holds


CARRIED = _Carried()


class BlockTask:
    """What runs per block: read the block of each source, call ``func``, store the valid region.

    ``sources`` holds, per source, a `FileArray` (mapped per block), an array (read in this
    process) or None (the data came in the item's entry). ``sink`` is a `FileArray` (written
    per block), an array (written in place), ``CARRIED`` (the entry's last element is the
    block's valid region of a sink in shared memory, written in place) or None (the valid
    region is returned).

    Examples
    --------
    >>> block = split_into_blocks((6,), size_max=4, overlap=1)[1]
    >>> sink = np.zeros(6)
    >>> BlockTask(np.negative, [np.arange(6.0)], sink)(block), sink.tolist()
    (None, [0.0, 0.0, 0.0, -3.0, -4.0, -5.0])
    >>> BlockTask(np.negative, [np.arange(6.0)], None)(block).tolist()  # to be written by the caller
    [-3.0, -4.0, -5.0]
    """

    __slots__ = ("func", "sink", "sources")

    def __init__(self, func, sources: list, sink):
        self.func = func
        self.sources = sources
        self.sink = sink

    def __call__(self, entry, /, **kwargs):
        if self.sink is CARRIED:
            block, carried, region = entry
        else:
            block, carried = entry if type(entry) is tuple else (entry, ())
        carried = iter(carried)
        data = []
        for source in self.sources:
            if source is None:
                piece = next(carried)
                data.append(piece if piece.flags.owndata and piece.flags.writeable else np.array(piece))
            elif isinstance(source, FileArray):
                data.append(source.read(block.slicing))
            else:
                data.append(np.array(source[block.slicing]))
        result = self.func(*data, **kwargs)
        if not isinstance(result, np.ndarray) or result.shape != block.shape:
            got = f"shape {result.shape}" if isinstance(result, np.ndarray) else type(result).__name__
            raise ValueError(
                f"{_name(self.func)} returned {got} for {block.info()}: it must return an array of "
                f"the block's shape {block.shape} (the block with its overlap)"
            )
        valid = result[block.valid_in_block]
        if self.sink is None:
            return valid
        if isinstance(self.sink, FileArray):
            self.sink.write(block.valid_slicing, valid)
        elif self.sink is CARRIED:
            region[...] = valid
        else:
            self.sink[block.valid_slicing] = valid
        return None


def _remote_sink(sink, executor):
    """How an in-memory sink is written from other processes: in place if shared, else by the caller."""
    return CARRIED if executor.maps_shared_memory and is_shared(sink) else None


def _name(func) -> str:
    return getattr(func, "__qualname__", None) or type(func).__name__


def _open_sources(source) -> list:
    listed = list(source) if isinstance(source, (list, tuple)) and not _is_shape(source) else [source]
    if not listed:
        raise ValueError("'source' is an empty list: give at least one array")
    sources = [open_source(s, i if len(listed) > 1 else None) for i, s in enumerate(listed)]
    shapes = {s.shape for s in sources}
    if len(shapes) > 1:
        raise ValueError(
            "the sources must all have the same shape to be split the same way "
            f"(got {[s.shape for s in sources]})"
        )
    return sources


def _is_shape(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(n, int) for n in value)


def _check_not_in_place(sources, source_plans, sink, sink_plan, overlap) -> None:
    """Refuse a sink that is also a source when blocks overlap: a block would read written data."""
    if not any(np.atleast_1d(overlap)):
        return
    for source, plan in zip(sources, source_plans, strict=True):
        same = (
            plan.same_file(sink_plan)
            if isinstance(plan, FileArray) and isinstance(sink_plan, FileArray)
            else np.may_share_memory(source, sink)
        )
        if same:
            raise ValueError(
                "the sink is also a source, and blocks overlap: a block would read its neighbour's "
                "results instead of the source. Write to another sink (or use overlap=0)."
            )


def _note_blocks(outcomes, blocks: list[Block], label: str) -> None:
    for position in outcomes.failed:
        block = blocks[position]
        outcomes.values[position].add_note(
            f"batchkit: block {block.index} of {block.n_blocks} in {label}: slicing "
            f"{format_slicing(block.slicing, block.source_shape)}, valid "
            f"{format_slicing(block.valid_slicing, block.source_shape)}"
        )


def process_blocks(
    func,
    source,
    sink=None,
    *,
    axes=None,
    size_max=None,
    size_min=None,
    overlap=0,
    target="threads",
    n_workers=None,
    timeout=None,
    fail_fast=False,
    progress=False,
    **kwargs,
):
    """Run ``func`` on every block of ``source`` in parallel; write each valid region into ``sink``.

    ``func(block_data, **kwargs)`` gets one block, its overlap included, as a numpy array of
    its own (a copy: it may write into it) and returns an array of the same shape; the block's
    valid region of that result is written into ``sink``. With ``overlap`` at least the radius
    of a filter, the result equals that of the filter over the whole array, edges included.

    Parameters
    ----------
    func : callable
        ``func(block_data, *more_blocks, **kwargs) -> array`` of the block's shape. With a list
        of sources it gets one block of each, in order.
    source : array, memmap, .npy path, or a list of them
        The data. Several sources must have one shape; they are split the same way.
    sink : array, memmap or .npy path, optional
        Where the results go, of the source's shape. A ``.npy`` path that does not exist is
        created with the (first) source's shape and dtype; one that exists is opened ``r+``.
        Default: a new in-memory array of the source's shape and dtype.
    axes, size_max, size_min, overlap
        How to split, as in `split_into_blocks`.
    target : str or Executor
        Where the blocks run: ``"threads"`` (default), ``"for"``, ``"async"``, ``"mpc"`` or any
        registered target.
    n_workers : int, optional
        Blocks run at once; also, the number of blocks is made a multiple of it where the size
        limits allow (of the CPU count when not given).
    timeout : float, optional
        Seconds one block may run before it fails alone with `ItemTimeout`.
    fail_fast : bool
        After the first failed block, start no other.
    progress : bool
        Show a progress bar over the blocks.
    **kwargs
        Passed to ``func`` with every block.

    Returns
    -------
    array or memmap
        The sink (for a ``.npy`` path, the file opened as a memmap).

    Raises
    ------
    ParallelError
        When blocks failed: one member per failed block, each with a note naming the block's
        index, slicing and valid region. Valid regions of the other blocks were written.

    Notes
    -----
    On ``mpc``, a memmap or ``.npy`` source and sink cost nothing to send: workers map the
    file themselves, read their block and write their valid region into the sink file
    (flushed). An in-memory source crosses as the arrays of any ``mpc`` call do: copied once
    into shared memory (not at all if made by `batchkit.to_shared`). The default sink is then
    made in shared memory and the workers write into it; a sink of your own is written in
    place only if it is in shared memory (`batchkit.shared_array`), else each valid region is
    pickled back and written by the caller.

    Examples
    --------
    >>> import numpy as np
    >>> def smooth(block):  # the mean of each element and its two neighbours along axis 0
    ...     out = block.copy()
    ...     out[1:-1] = (block[:-2] + block[1:-1] + block[2:]) / 3
    ...     return out
    >>> data = np.arange(20.0) ** 2
    >>> result = process_blocks(smooth, data, size_max=6, overlap=1)
    >>> bool(np.array_equal(result, smooth(data)))
    True
    """
    if not callable(func):
        raise TypeError(f"'func' must be callable (got {func!r})")
    check_target(target)
    if not isinstance(progress, bool):
        raise TypeError(f"'progress' must be True or False (got {progress!r})")
    options = RunOptions(n_workers=n_workers, timeout=timeout, fail_fast=fail_fast)
    sources = _open_sources(source)
    shape = sources[0].shape
    blocks = split_into_blocks(
        shape,
        axes=axes,
        size_max=size_max,
        size_min=size_min,
        overlap=overlap,
        n_workers=options.n_workers or available_cpus(),
    )
    executor = get_executor(target)
    remote = executor.runs_worker_function
    if sink is None and remote and executor.maps_shared_memory:
        sink = shared_array(shape, sources[0].dtype)  # the workers write into it: nothing comes back
    sink = open_sink(sink, shape, sources[0].dtype)
    source_plans = [file_array(s) or (None if remote else s) for s in sources]
    sink_plan = file_array(sink) or (_remote_sink(sink, executor) if remote else sink)
    _check_not_in_place(sources, source_plans, sink, sink_plan, overlap)
    carried = [s for s, plan in zip(sources, source_plans, strict=True) if plan is None]
    if sink_plan is CARRIED:
        entries = [(b, tuple(s[b.slicing] for s in carried), sink[b.valid_slicing]) for b in blocks]
    elif carried:  # views, sent by reference (shared memory) or pickled, as the executor does
        entries = [(block, tuple(s[block.slicing] for s in carried)) for block in blocks]
    else:
        entries = list(blocks)
    task = BlockTask(func, source_plans, sink_plan)
    calls = Calls(entries, SINGLE, (), kwargs, fail_fast=fail_fast)
    label = f"process_blocks({_name(func)}), target={executor.name!r}"
    with item_progress() if progress else contextlib.nullcontext():
        outcomes = run_calls(executor, task, calls, options, f"process_blocks({_name(func)})")
    if sink_plan is None:  # the valid regions came back: written here, the failed blocks' left as they were
        failed = set(outcomes.failed) | set(outcomes.cancelled)
        for position, (block, valid) in enumerate(zip(blocks, outcomes.values, strict=True)):
            if position not in failed:
                sink[block.valid_slicing] = valid
    if isinstance(sink, np.memmap):
        sink.flush()
    if outcomes.failed:
        _note_blocks(outcomes, blocks, label)
        raise failure_error(outcomes, label)
    return sink
