"""numpy arrays on target="mpc": memmaps by reference, large arrays through shared memory, writes kept."""

import os
import pickle
import time

import numpy as np
import pytest
from shared_memory_helpers import ROWS, WIDTH, fan, fill_row, row_sum

from batchkit import Batch, inbatch_parallel
from batchkit.executors import _shm_segments, processes
from batchkit.executors._shared_arrays import CallArrays
from batchkit.executors._shm_segments import CACHE

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory in /dev/shm")



def scale(image, factor):
    image *= factor
    return float(image[0, 0])


def ours(keep_cache: bool = False) -> set[str]:
    """This process's call segments, those kept for reuse released first unless ``keep_cache``.

    Arrays made by shared_array live in segments named ``...-k<n>``: not counted.
    """
    if not keep_cache:
        CACHE.clear()
    prefix = f"batchkit-{os.getpid()}-"
    return {name for name in os.listdir("/dev/shm") if name.startswith(prefix) and "-k" not in name}


class Images(Batch):
    components = ("images", "labels")

    @inbatch_parallel(init="images", post="_keep", target="mpc")
    def invert(self, factor):
        return scale

    def _keep(self, results, *args, **kwargs):
        return results


# -- large arrays ---------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_an_action_argument_written_in_place_is_copied_back_and_matches_for():
    on_mpc, on_for = np.zeros((ROWS, WIDTH)), np.zeros((ROWS, WIDTH))
    assert fan(fill_row, ROWS)(on_mpc) == fan(fill_row, ROWS, "for")(on_for)
    np.testing.assert_array_equal(on_mpc, on_for)
    assert on_mpc[3, 0] == 4
    assert ours() == set()


@pytest.mark.timeout(60)
def test_component_elements_from_init_are_written_in_place():
    images = np.arange(ROWS * 256 * 256, dtype=np.float64).reshape(ROWS, 256, 256)
    batch, expected = Images.from_data(data={"images": images.copy(), "labels": np.arange(ROWS)}), images * 3
    results = batch.invert(3.0)
    assert results == [float(expected[i, 0, 0]) for i in range(ROWS)]
    np.testing.assert_array_equal(batch.images, expected)
    on_for = Images.from_data(data={"images": images.copy(), "labels": np.arange(ROWS)})
    assert on_for.invert(3.0, target="for") == results
    np.testing.assert_array_equal(on_for.images, batch.images)


@pytest.mark.timeout(60)
def test_views_of_one_base_share_one_segment():
    base = np.zeros((ROWS, WIDTH))
    arrays = CallArrays()
    try:
        blobs = [arrays.dumps([base[i], base[i, ::2]]) for i in range(ROWS)]
        assert len(arrays.shared) == 1
        assert max(len(blob) for blob in blobs) < 1000  # references, not data
    finally:
        arrays.finish()


@pytest.mark.timeout(60)
def test_a_read_only_array_fails_the_writing_item_with_a_clear_error():
    data = np.zeros((ROWS, WIDTH))
    data.flags.writeable = False
    results = fan(fill_row, 2)(data)
    assert all(isinstance(r, ValueError) and "read-only" in str(r) for r in results)
    assert "crossed to the mpc worker read-only" in " ".join(results[0].__notes__)
    assert fan(row_sum, 2)(data) == [0.0, 0.0]  # reading is fine


@pytest.mark.timeout(60)
def test_memory_that_is_not_one_block_crosses_read_only():
    source = np.arange(ROWS * WIDTH * 2, dtype=np.float64)
    strided = np.lib.stride_tricks.as_strided(source, (ROWS, WIDTH), (WIDTH * 16, 16), writeable=True)
    assert not strided.flags.c_contiguous and not isinstance(strided.base, np.ndarray)
    assert fan(row_sum, ROWS)(strided) == fan(row_sum, ROWS, "for")(strided)
    results = fan(fill_row, 2)(strided)
    assert all(isinstance(r, ValueError) and "read-only" in str(r) for r in results)


@pytest.mark.timeout(60)
def test_small_arrays_are_still_pickled(monkeypatch):
    small = np.zeros((ROWS, 16))
    arrays = CallArrays()
    try:
        assert len(arrays.dumps(small)) > small.nbytes and arrays.shared == {}
    finally:
        arrays.finish()
    fan(fill_row, ROWS)(small)
    assert not small.any()  # by value, as before: the writes stay in the workers
    monkeypatch.setattr(processes, "SHARED_MEMORY_THRESHOLD", 64)
    fan(fill_row, ROWS)(small)
    assert small[:, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]


@pytest.mark.timeout(120)
def test_no_segment_is_left_after_1000_calls():
    data = np.ones(1 << 17)  # 1 MiB
    CACHE.clear()
    before = set(os.listdir("/dev/shm"))
    run = fan(row_sum, 1)
    for _ in range(1000):
        assert run(data[None]) == [float(1 << 17)]
    assert len(ours(keep_cache=True)) == 1  # one segment, taken again by every call
    assert ours() == set()
    assert set(os.listdir("/dev/shm")) <= before


@pytest.mark.timeout(60)
def test_a_call_segment_is_reused_by_the_next_call_then_released_when_idle(monkeypatch):
    monkeypatch.setattr(CACHE, "IDLE_SECONDS", 0.3)
    CACHE.clear()
    data = np.arange(ROWS * WIDTH, dtype=np.float64).reshape(ROWS, WIDTH)
    run = fan(row_sum, ROWS)
    assert run(data) == [float(row.sum()) for row in data]
    first = ours(keep_cache=True)
    data[0] = 0  # the reused segment is filled with the array as it is now
    assert run(data)[0] == 0.0
    assert ours(keep_cache=True) == first and len(first) == 1
    deadline = time.monotonic() + 10
    while ours(keep_cache=True) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ours(keep_cache=True) == set()


def test_a_segment_twice_too_large_is_not_taken():
    CACHE.clear()
    big = CACHE.take("t-big", 8 << 20)
    CACHE.give_back(big)
    small = CACHE.take("t-small", 1 << 20)
    try:
        assert small is not big and CACHE.take("t-again", 5 << 20) is big
    finally:
        small.release()
        big.release()


def test_object_arrays_are_pickled():
    data = np.array([{"a": i} for i in range(1 << 18)], dtype=object)
    arrays = CallArrays()
    try:
        assert pickle.loads(arrays.dumps(data[:3])).tolist() == [{"a": 0}, {"a": 1}, {"a": 2}]
        assert arrays.shared == {}
    finally:
        arrays.finish()


def test_sweep_removes_segments_of_dead_processes():
    from multiprocessing import shared_memory

    dead = 2**22 + 12345
    while _shm_segments.pid_alive(dead):
        dead += 1
    segment = shared_memory.SharedMemory(name=f"batchkit-{dead}-0-0", create=True, size=16)
    try:
        assert f"batchkit-{dead}-0-0" in _shm_segments.sweep()
    finally:
        segment.close()
        from multiprocessing import resource_tracker

        resource_tracker.unregister(segment._name, "shared_memory")


# -- memmaps --------------------------------------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["r+", "w+"])
def test_memmap_writes_land_in_the_file(tmp_path, mode):
    path = tmp_path / "out.dat"
    out = np.memmap(path, dtype=np.float64, mode="w+", shape=(ROWS, 10))
    out.flush()
    if mode == "r+":
        out = np.memmap(path, dtype=np.float64, mode="r+", shape=(ROWS, 10))
    fan(fill_row, ROWS - 2)(out[2:])  # a view: its offset into the file is found
    on_disk = np.fromfile(path).reshape(ROWS, 10)
    assert on_disk[:, 0].tolist() == [0, 0, 1, 2, 3, 4, 5, 6]
    assert ours() == set()


@pytest.mark.timeout(60)
def test_memmap_crosses_by_reference_with_its_offset_and_strides(tmp_path):
    path = tmp_path / "in.dat"
    np.arange(1000, dtype=np.int32).tofile(path)
    data = np.memmap(path, dtype=np.int32, mode="r", offset=40, shape=(10, 99))
    arrays = CallArrays()
    try:
        view = data[2:8:2, ::-3]
        blob = arrays.dumps(view)
        assert len(blob) < 500
        np.testing.assert_array_equal(pickle.loads(blob), view)
        np.testing.assert_array_equal(pickle.loads(arrays.dumps(np.asarray(data[1]))), data[1])
    finally:
        arrays.finish()
    assert fan(row_sum, 10)(data) == fan(row_sum, 10, "for")(data)
    results = fan(fill_row, 1)(data)
    assert isinstance(results[0], ValueError) and "read-only" in str(results[0])


@pytest.mark.timeout(60)
def test_a_copy_on_write_memmap_keeps_its_writes_in_memory(tmp_path):
    path = tmp_path / "cow.dat"
    np.zeros((ROWS, WIDTH)).tofile(path)
    data = np.memmap(path, dtype=np.float64, mode="c", shape=(ROWS, WIDTH))
    fan(fill_row, ROWS)(data)
    assert data[:, 0].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert not np.fromfile(path).any()
