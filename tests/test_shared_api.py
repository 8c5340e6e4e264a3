"""Arrays kept in shared memory (shared_array, to_shared): no copy to mpc, writes kept, freed with it."""

import gc
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from shared_memory_helpers import ROWS, WIDTH, fan, fill_row, row_sum

from batchkit import Batch, inbatch_parallel, is_shared, shared_array, to_shared
from batchkit.executors._shared_arrays import CallArrays
from batchkit.executors._shm_segments import CACHE

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="POSIX shared memory in /dev/shm")



def kept_names() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith(f"batchkit-{os.getpid()}-k")}


def call_names() -> set[str]:
    CACHE.clear()  # segments kept for the next call: released, so only leaks remain
    prefix = f"batchkit-{os.getpid()}-"
    return {name for name in os.listdir("/dev/shm") if name.startswith(prefix) and "-k" not in name}


def test_a_kept_array_crosses_as_a_reference_with_no_call_segment():
    data = to_shared(np.ones((ROWS, WIDTH)))
    arrays = CallArrays()
    try:
        blob = arrays.dumps([data, data[3], data[:, ::2]])
        assert arrays.shared == {} and arrays.sent == {}  # nothing copied, nothing to copy back
        assert len(blob) < 1000
    finally:
        arrays.finish()


@pytest.mark.timeout(60)
def test_workers_write_straight_into_a_kept_array_and_match_for():
    on_mpc, on_for = shared_array((ROWS, WIDTH)), np.zeros((ROWS, WIDTH))
    assert fan(fill_row, ROWS)(on_mpc) == fan(fill_row, ROWS, "for")(on_for)
    np.testing.assert_array_equal(on_mpc, on_for)
    assert call_names() == set()


@pytest.mark.timeout(60)
def test_a_view_of_a_kept_array_crosses_with_its_offset_and_strides():
    data = to_shared(np.arange(ROWS * WIDTH, dtype=np.float64).reshape(ROWS, WIDTH))
    view = data[2:, 5::3]
    assert fan(row_sum, ROWS - 2)(view) == fan(row_sum, ROWS - 2, "for")(view)


@pytest.mark.timeout(60)
def test_a_read_only_view_of_a_kept_array_refuses_writes_with_a_clear_error():
    data = shared_array((ROWS, WIDTH))
    frozen = data.view()
    frozen.flags.writeable = False
    results = fan(fill_row, 2)(frozen)
    assert all(isinstance(r, ValueError) and "read-only" in str(r) for r in results)
    assert not data.any()


@pytest.mark.timeout(60)
def test_a_component_kept_in_shared_memory_is_written_in_place():
    class Images(Batch):
        components = ("images",)

        @inbatch_parallel(init="images", post="_keep", target="mpc", n_workers=2)
        def brighten(self, amount):
            return add

        def _keep(self, results, *args, **kwargs):
            return results

    batch = Images.from_data(data={"images": np.zeros((ROWS, 256, 256))})
    batch.images = to_shared(batch.images)
    batch.brighten(2.0)
    assert is_shared(batch.images) and (batch.images == 2.0).all()
    assert call_names() == set()


def add(image, amount):
    image += amount


def test_to_shared_copies_values_dtype_and_memory_order():
    source = np.asfortranarray(np.arange(12, dtype=np.int16).reshape(3, 4))
    copy = to_shared(source)
    assert is_shared(copy) and copy.dtype == np.int16 and copy.flags.f_contiguous
    np.testing.assert_array_equal(copy, source)
    assert to_shared(copy) is copy


def test_shared_array_is_zero_filled_in_the_shape_asked():
    made = shared_array((2, 3), dtype=np.uint8)
    assert made.shape == (2, 3) and made.dtype == np.uint8 and not made.any()
    assert shared_array(5).shape == (5,) and shared_array(0).size == 0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: shared_array(3, dtype=object), TypeError, "no Python objects"),
        (lambda: shared_array(3, order="K"), ValueError, "'order' must be 'C' or 'F'"),
        (lambda: shared_array((2, -1)), ValueError, "negative"),
        (lambda: to_shared(np.array([{}, []], dtype=object)), TypeError, "no Python objects"),
    ],
)
def test_bad_arguments_are_refused_with_what_was_wrong(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_is_shared_is_false_for_other_arrays_and_objects():
    assert not is_shared(np.zeros(3)) and not is_shared([1, 2]) and not is_shared(None)


def test_the_memory_is_released_when_the_last_view_is_gone():
    data = shared_array((ROWS, WIDTH))
    row = data[3]
    (name,) = kept_names()
    del data
    gc.collect()
    assert name in kept_names()  # a view keeps it
    del row
    gc.collect()
    assert kept_names() == set()


@pytest.mark.timeout(60)
def test_a_forked_child_dropping_its_copy_leaves_the_parents_array():
    data = shared_array(16)
    data[:] = 7
    pid = os.fork()
    if pid == 0:  # the child: drop the inherited array, collect, leave without cleanup
        del data
        gc.collect()
        os._exit(0)
    os.waitpid(pid, 0)
    assert kept_names() and (data == 7).all()


@pytest.mark.timeout(60)
def test_a_killed_maker_leaves_no_kept_segment():
    script = textwrap.dedent(
        """
        import os, sys, time
        from batchkit import shared_array
        data = shared_array(1 << 20)
        print(os.getpid(), flush=True)
        time.sleep(60)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(process.stdout.readline())
        names = [n for n in os.listdir("/dev/shm") if n.startswith(f"batchkit-{pid}-k")]
        assert len(names) == 1
        process.kill()
        process.wait(timeout=10)
        # the resource tracker unlinks it once the pipe from the dead process closes
        import time

        deadline = time.monotonic() + 10
        while names[0] in os.listdir("/dev/shm") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert names[0] not in os.listdir("/dev/shm")
    finally:
        process.kill()
        process.wait(timeout=10)
