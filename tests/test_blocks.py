"""Block processing: the split's geometry and limits, and process_blocks on every target.

The guarantee under test: for a filter of radius ``r`` computed only from data inside the
array, `process_blocks` with ``overlap >= r`` gives exactly the whole-array result.
"""

from __future__ import annotations

import os
import pickle
import time

import numpy as np
import pytest

from batchkit import ItemTimeout, ParallelError, is_shared, shared_array
from batchkit.blocks import Block, process_blocks, split_into_blocks
from batchkit.blocks._arrays import FileArray, file_array
from batchkit.blocks._process import BlockTask


def _shift_sum(a: np.ndarray, radius: int, axis: int) -> np.ndarray:
    """``out[i] = sum(a[i + d] for |d| <= radius if 0 <= i + d < len)`` along ``axis``."""
    total = np.zeros_like(a)
    length = a.shape[axis]
    for d in range(-radius, radius + 1):
        dst = [slice(None)] * a.ndim
        src = [slice(None)] * a.ndim
        dst[axis] = slice(min(length, max(0, -d)), max(0, min(length, length - d)))
        src[axis] = slice(min(length, max(0, d)), max(0, min(length, length + d)))
        total[tuple(dst)] += a[tuple(src)]
    return total


def box_mean(a: np.ndarray, radius: int = 1) -> np.ndarray:
    """The mean over a box of ``radius`` of the elements inside the array (no padding)."""
    out = np.asarray(a, dtype=np.float64)
    count = np.ones(a.shape)
    for axis in range(a.ndim):
        out = _shift_sum(out, radius, axis)
        count = _shift_sum(count, radius, axis)
    return out / count


def assert_tiles(blocks: list[Block], shape: tuple[int, ...], overlap: int | list = 0) -> None:
    """The valid regions cover the source once; each block is its valid region plus the overlap."""
    covered = np.zeros(shape, dtype=np.int64)
    for k, block in enumerate(blocks):
        assert block.index == k and block.n_blocks == len(blocks)
        covered[block.valid_slicing] += 1
        depths = overlap if isinstance(overlap, list) else None
        for axis, (outer, valid) in enumerate(zip(block.slicing, block.valid_slicing, strict=True)):
            depth = 0 if block.grid[axis] == 1 else (depths[axis] if depths else overlap)
            assert outer.start == max(0, valid.start - depth)
            assert outer.stop == min(shape[axis], valid.stop + depth)
        inner = np.zeros(block.shape)[block.valid_in_block]
        assert inner.shape == block.valid_shape
    assert (covered == 1).all()


# -- split_into_blocks ------------------------------------------------------------------------


@pytest.mark.timeout(10)
def test_split_first_axis_by_default_with_overlap_inside_the_source_only():
    """Blocks split the first axis; the overlap reaches into neighbours, never past the edges."""
    blocks = split_into_blocks((20, 3), size_max=8, overlap=2)
    assert_tiles(blocks, (20, 3), overlap=2)
    assert all(block.shape[0] <= 8 and block.shape[1] == 3 for block in blocks)
    assert blocks[0].slicing[0].start == 0 and blocks[-1].slicing[0].stop == 20
    assert blocks[0].valid_in_block[0].start == 0


@pytest.mark.timeout(10)
def test_split_accepts_arrays_memmaps_and_shapes_alike(tmp_path):
    """An array, a memmap and a shape tuple of one shape give the same blocks."""
    array = np.zeros((9, 4))
    mapped = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype="f4", shape=(9, 4))
    expected = split_into_blocks((9, 4), size_max=4)
    assert split_into_blocks(array, size_max=4) == expected == split_into_blocks(mapped, size_max=4)


@pytest.mark.timeout(10)
def test_split_sizes_stay_within_the_limits_and_are_balanced():
    """Every block is within size_min..size_max; sizes differ by at most one."""
    blocks = split_into_blocks((200,), size_max=50, size_min=30, overlap=10)
    sizes = [block.shape[0] for block in blocks]
    assert all(30 <= size <= 50 for size in sizes) and max(sizes) - min(sizes) <= 1
    assert_tiles(blocks, (200,), overlap=10)


@pytest.mark.timeout(10)
def test_n_workers_makes_the_count_a_multiple_where_the_limits_allow():
    """With n_workers the block count is a multiple of it, within the size limits."""
    assert len(split_into_blocks((100,), size_max=40)) == 3
    assert len(split_into_blocks((100,), size_max=40, n_workers=4)) == 4
    assert len(split_into_blocks((100,), n_workers=3)) == 3  # no size_max: one block per worker
    # 3 blocks at most (size_min): no multiple of 4 fits, so the fewest blocks are kept
    assert len(split_into_blocks((100,), size_max=40, size_min=33, n_workers=4)) == 3
    blocks = split_into_blocks((12, 12, 5), axes=(0, 1), size_max=5, n_workers=4)
    assert len(blocks) % 4 == 0
    assert_tiles(blocks, (12, 12, 5))


@pytest.mark.timeout(10)
def test_split_several_axes_with_per_axis_settings():
    """Per-axis size_max and overlap; the grid is in C order; 'all' and negative axes work."""
    blocks = split_into_blocks((10, 12), axes="all", size_max=[5, 7], overlap=[1, 2])
    assert blocks[0].grid == (3, 3) and [b.position for b in blocks[:4]] == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert_tiles(blocks, (10, 12), overlap=[1, 2])
    assert split_into_blocks((4, 10), axes=-1, size_max=5)[0].grid == (1, 2)


@pytest.mark.timeout(10)
def test_axis_shorter_than_size_min_stays_whole_and_empty_axes_work():
    """An axis shorter than size_min is one block; a zero-length source is one empty block."""
    assert len(split_into_blocks((5,), size_max=10, size_min=8, n_workers=2)) == 1
    (block,) = split_into_blocks((0, 3), size_max=2)
    assert block.shape == (0, 3)


@pytest.mark.timeout(10)
def test_block_info_repr_and_pickling():
    """A block describes itself in a line, and pickles to an equal block."""
    block = split_into_blocks((10, 4), size_max=6, overlap=1)[1]
    assert block.info() == (
        "block 1/2 at (1, 0) of grid (2, 1): shape (6, 4) of (10, 4), slicing [4:10, :], valid [5:10, :]"
    )
    assert repr(block) == "Block(1/2, slicing=[4:10, :], valid=[5:10, :])"
    assert pickle.loads(pickle.dumps(block)) == block
    assert hash(pickle.loads(pickle.dumps(block))) == hash(block)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"size_max": 4, "size_min": 5}, r"size_min=5 is larger than size_max=4"),
        ({"size_max": 6, "overlap": 3}, r"overlap=3 is too large for size_max=6.*size_max >= 7"),
        ({"axes": 2}, r"axis 2 in axes=2 is out of range.*from -2 to 1"),
        ({"axes": (0, -2)}, r"names an axis twice"),
        ({"axes": "some"}, r"'axes' must be None, an int"),
        ({"size_max": 6, "size_min": 6}, r"axis 0 of length 10 cannot be split.*Lower size_min"),
        ({"size_max": 0}, r"'size_max' must be an int >= 1 or None \(got 0\)"),
        ({"overlap": -1}, r"'overlap' must be an int >= 0"),
        ({"size_max": [4, 4]}, r"one value or one per split axis \(1\)"),
        ({"n_workers": 0}, r"'n_workers' must be a positive int"),
    ],
)
def test_impossible_settings_are_refused_naming_the_value(settings, message):
    """Each impossible setting raises, naming the value and what to change."""
    with pytest.raises(ValueError, match=message):
        split_into_blocks((10, 3), **settings)


@pytest.mark.timeout(10)
def test_bad_source_and_axis_types():
    """A source with no shape and a non-int axis are TypeErrors."""
    with pytest.raises(TypeError, match="'source' must be an array"):
        split_into_blocks("not an array")
    with pytest.raises(TypeError, match="'axes' must hold ints"):
        split_into_blocks((3, 3), axes=[0.5])


# -- process_blocks ---------------------------------------------------------------------------


def fail_on_block_with(block, value):
    if (block == value).any():
        raise RuntimeError(f"found {value}")
    return block


def wrong_shape(block):
    return block[1:]


def add_arrays(a, b, scale=1):
    return (a + b) * scale


def slow_on_block_with(block, value):
    if (block == value).any():
        time.sleep(2)
    return block


@pytest.mark.timeout(60)
def test_blockwise_equals_whole_array_on_every_target(target):
    """A radius-2 box filter blockwise, overlap 2, equals the whole-array filter on every target."""
    data = np.random.default_rng(0).random((13, 11, 6))
    result = process_blocks(
        box_mean, data, axes=(0, 1), size_max=7, overlap=2, target=target, n_workers=2, radius=2
    )
    assert np.array_equal(result, box_mean(data, 2))


@pytest.mark.timeout(10)
def test_too_little_overlap_differs():
    """The guarantee needs the overlap: with overlap below the radius, the seams differ."""
    data = np.random.default_rng(1).random((30, 4))
    result = process_blocks(box_mean, data, sink=np.empty((30, 4)), size_max=8, overlap=1, radius=2)
    assert not np.array_equal(result, box_mean(data, 2))


@pytest.mark.timeout(60)
def test_mpc_workers_read_a_memmap_and_write_an_npy_sink_themselves(tmp_path):
    """On mpc with a memmap source, workers map the files; the .npy sink holds the result."""
    data = np.random.default_rng(2).random((24, 8, 5)).astype(np.float32)
    source = np.lib.format.open_memmap(tmp_path / "source.npy", mode="w+", dtype="f4", shape=data.shape)
    source[:] = data
    source.flush()
    sink_path = tmp_path / "sink.npy"
    result = process_blocks(
        box_mean, np.load(tmp_path / "source.npy", mmap_mode="r"), str(sink_path),
        size_max=9, overlap=1, target="mpc", n_workers=2,
    )  # fmt: skip
    assert isinstance(result, np.memmap)
    on_disk = np.load(sink_path)
    assert on_disk.dtype == np.float32 and np.array_equal(on_disk, box_mean(data, 1).astype(np.float32))
    # an existing sink is opened r+ and reused; a .npy source path works too
    again = process_blocks(box_mean, tmp_path / "source.npy", sink_path, size_max=9, overlap=1, target="mpc")
    assert np.array_equal(np.load(sink_path), box_mean(data, 1).astype(np.float32))
    del result, again


@pytest.mark.timeout(60)
def test_mpc_with_files_sends_geometry_only_and_gets_nothing_back(tmp_path, monkeypatch):
    """Memmap source and .npy sink on mpc: entries are blocks, the task holds file descriptions
    (a few hundred bytes pickled), and every block's value is None: the workers wrote the sink."""
    from batchkit.blocks import _process

    seen = {}

    def spying_run_calls(executor, fn, calls, options, desc):
        outcomes = run_calls(executor, fn, calls, options, desc)
        seen.update(fn=fn, entries=list(calls.entries), values=list(outcomes.values))
        return outcomes

    run_calls = _process.run_calls
    monkeypatch.setattr(_process, "run_calls", spying_run_calls)
    np.save(tmp_path / "source.npy", np.arange(4000.0).reshape(40, 100))
    process_blocks(box_mean, tmp_path / "source.npy", tmp_path / "sink.npy", size_max=10, overlap=1,
                   target="mpc", n_workers=2)  # fmt: skip
    assert all(type(entry) is Block for entry in seen["entries"])
    assert all(isinstance(plan, FileArray) for plan in [*seen["fn"].sources, seen["fn"].sink])
    assert len(pickle.dumps([*seen["fn"].sources, seen["fn"].sink])) < 1000
    assert seen["values"] == [None] * len(seen["entries"])
    assert np.array_equal(np.load(tmp_path / "sink.npy"), box_mean(np.arange(4000.0).reshape(40, 100)))


@pytest.mark.timeout(10)
def test_a_file_sink_is_written_by_the_item_itself(tmp_path):
    """With a memmap sink, the item writes its valid region and returns nothing to send back."""
    sink = np.lib.format.open_memmap(tmp_path / "sink.npy", mode="w+", dtype="f8", shape=(10,))
    block = split_into_blocks((10,), size_max=6, overlap=1)[1]
    task = BlockTask(lambda b: b * 2, [np.arange(10.0)], file_array(sink))
    assert task(block) is None
    assert np.load(tmp_path / "sink.npy").tolist() == [0.0] * 5 + [10.0, 12.0, 14.0, 16.0, 18.0]


def _spy_values(monkeypatch) -> dict:
    """Record the values the items of process_blocks' fan-out call returned."""
    from batchkit.blocks import _process

    seen, run_calls = {}, _process.run_calls

    def spying_run_calls(executor, fn, calls, options, desc):
        outcomes = run_calls(executor, fn, calls, options, desc)
        seen["values"] = list(outcomes.values)
        return outcomes

    monkeypatch.setattr(_process, "run_calls", spying_run_calls)
    return seen


@pytest.mark.timeout(60)
def test_mpc_default_sink_is_in_shared_memory_and_written_by_the_workers(monkeypatch):
    """In-memory data on mpc, no sink given: the sink is made in shared memory, nothing comes back."""
    seen = _spy_values(monkeypatch)
    data = np.random.default_rng(3).random((31, 7))
    result = process_blocks(box_mean, data, size_max=8, overlap=3, target="mpc", radius=3)
    assert is_shared(result) and np.array_equal(result, box_mean(data, 3))
    assert seen["values"] == [None] * len(seen["values"])
    assert np.array_equal(data, np.random.default_rng(3).random((31, 7)))  # the source is untouched


@pytest.mark.timeout(60)
def test_mpc_writes_a_shared_sink_of_the_callers_in_place(monkeypatch):
    seen = _spy_values(monkeypatch)
    data, sink = np.arange(300.0).reshape(30, 10), shared_array((30, 10))
    assert process_blocks(box_mean, data, sink, size_max=8, overlap=1, target="mpc") is sink
    assert np.array_equal(sink, box_mean(data)) and seen["values"] == [None] * len(seen["values"])


@pytest.mark.timeout(60)
def test_mpc_sends_the_valid_regions_back_for_an_ordinary_sink(monkeypatch):
    seen = _spy_values(monkeypatch)
    data, sink = np.arange(300.0).reshape(30, 10), np.zeros((30, 10))
    assert process_blocks(box_mean, data, sink, size_max=8, overlap=1, target="mpc") is sink
    assert np.array_equal(sink, box_mean(data)) and all(v is not None for v in seen["values"])


@pytest.mark.timeout(60)
def test_a_failed_block_leaves_its_region_of_a_shared_sink_as_it_was():
    data, sink = np.arange(40.0), shared_array(40)
    sink[:] = -1
    with pytest.raises(ParallelError):
        process_blocks(fail_on_block_with, data, sink, size_max=10, target="mpc", value=25.0)
    assert (sink[20:30] == -1).all() and np.array_equal(sink[:20], data[:20])


@pytest.mark.timeout(10)
def test_a_memmap_view_maps_at_its_own_offset(tmp_path):
    """A contiguous view of a memmap is described by where its data lies in the file."""
    full = np.lib.format.open_memmap(tmp_path / "a.npy", mode="w+", dtype="i4", shape=(50, 1024))
    full[:] = np.arange(50)[:, None]
    view = full[20:30]
    spec = file_array(view)
    assert spec.shape == (10, 1024)
    assert np.array_equal(spec.read((slice(0, 10), slice(0, 1024))), np.asarray(view))
    assert file_array(full[:, ::2]) is None  # not contiguous: read through the object


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", ["threads", "mpc"])
def test_a_failing_block_raises_parallel_error_naming_the_block(target):
    """One ParallelError; its member carries a note naming the block's index and slicing."""
    data = np.arange(40.0).reshape(20, 2)
    sink = np.zeros_like(data)
    with pytest.raises(ParallelError) as caught:
        process_blocks(fail_on_block_with, data, sink, size_max=5, target=target, value=25.0)
    (error,) = caught.value.exceptions
    assert isinstance(error, RuntimeError)
    notes = "\n".join(error.__notes__)
    assert "block 2 of 4" in notes and "slicing [10:15, :]" in notes and f"target={target!r}" in notes
    assert caught.value.failed_positions == [2]
    assert np.array_equal(sink[:10], data[:10]) and (sink[10:15] == 0).all()  # the others written


@pytest.mark.timeout(10)
def test_a_result_of_the_wrong_shape_fails_its_block():
    """func must return the block's shape; the error names the block."""
    with pytest.raises(ParallelError) as caught:
        process_blocks(wrong_shape, np.zeros((10, 2)), size_max=5, target="for")
    messages = [str(error) for error in caught.value.exceptions]
    assert len(messages) == 2
    assert "wrong_shape returned shape (4, 2) for block 0/2" in messages[0]
    assert "must return an array of the block's shape (5, 2)" in messages[0]


@pytest.mark.timeout(10)
def test_fail_fast_and_timeout_pass_through():
    """fail_fast stops starting blocks; a block past the timeout fails alone with ItemTimeout."""
    data = np.arange(40.0)
    with pytest.raises(ParallelError, match="not started"):
        process_blocks(fail_on_block_with, data, size_max=4, target="for", fail_fast=True, value=0.0)
    with pytest.raises(ParallelError) as caught:
        process_blocks(slow_on_block_with, data, size_max=10, timeout=0.3, n_workers=4, value=35.0)
    (error,) = caught.value.exceptions
    assert isinstance(error, ItemTimeout) and "slicing [30:40]" in "\n".join(error.__notes__)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("target", ["threads", "mpc"])
def test_a_list_of_sources_is_split_the_same_way(target, tmp_path):
    """func gets one block of each source, in order; kwargs reach it."""
    a = np.arange(30.0).reshape(10, 3)
    b = np.lib.format.open_memmap(tmp_path / "b.npy", mode="w+", dtype="f8", shape=(10, 3))
    b[:] = 100.0
    result = process_blocks(add_arrays, [a, b], size_max=4, target=target, scale=2)
    assert np.array_equal(result, (a + 100.0) * 2)
    with pytest.raises(ValueError, match="the same shape"):
        process_blocks(add_arrays, [a, np.zeros((9, 3))])


@pytest.mark.timeout(10)
def test_sink_checks(tmp_path):
    """A sink of the wrong shape, a read-only one, or one that is also an overlapping source."""
    data = np.zeros((8, 2))
    np.save(tmp_path / "small.npy", np.zeros(3))
    with pytest.raises(ValueError, match=r"'sink' has shape \(3,\), but the source has shape \(8, 2\)"):
        process_blocks(box_mean, data, tmp_path / "small.npy")
    np.save(tmp_path / "ro.npy", data)
    with pytest.raises(ValueError, match="read-only"):
        process_blocks(box_mean, data, np.load(tmp_path / "ro.npy", mmap_mode="r"))
    with pytest.raises(ValueError, match="the sink is also a source"):
        process_blocks(box_mean, data, data, size_max=4, overlap=1)
    assert process_blocks(np.negative, data + 1, size_max=3).tolist() == (-(data + 1)).tolist()


@pytest.mark.timeout(10)
def test_bad_arguments():
    """A func that is not callable, a bad target or bad options are refused before any block."""
    with pytest.raises(TypeError, match="'func' must be callable"):
        process_blocks(None, np.zeros(3))
    with pytest.raises(Exception, match="unknown target 'thread'"):
        process_blocks(box_mean, np.zeros(3), target="thread")
    with pytest.raises(ValueError, match="'timeout' must be a positive number"):
        process_blocks(box_mean, np.zeros(3), timeout=-1)
    with pytest.raises(TypeError, match="'source' must be an array"):
        process_blocks(box_mean, object())


@pytest.mark.timeout(10)
def test_progress_bar(capsys):
    """progress=True shows a bar over the blocks."""
    process_blocks(box_mean, np.zeros(10), size_max=2, target="for", progress=True)
    assert "process_blocks(box_mean)" in capsys.readouterr().err


@pytest.mark.timeout(10)
def test_the_block_given_to_func_is_its_own_copy():
    """func may write into its block: the source is not changed."""
    data = np.ones(12)

    def scribble(block):
        block[:] = 5
        return block

    assert (process_blocks(scribble, data, size_max=4, overlap=1) == 5).all()
    assert (data == 1).all()
    assert os.path.exists(__file__)
