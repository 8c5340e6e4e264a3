"""Low-memory output: BatchWriter, read_output, iter_output, output_info."""

import json
import os
import tempfile
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from batchkit import Batch
from batchkit.store import BatchWriter, iter_output, output_info, read_output


class Scans(Batch):
    """A batch with a numeric image, a label and an optional, possibly ragged, note."""

    components = ("images", "labels", "notes")


class Values(Batch):
    """A batch with one numeric component."""

    components = ("values",)


def make_scans(start, n=3, notes=None, index=None):
    values = np.arange(start, start + n)
    images = np.stack([np.full((2, 2), v, dtype=np.float32) for v in values])
    return Scans.from_data(
        index=values if index is None else index,
        data={"images": images, "labels": values * 10, "notes": notes},
    )


def test_round_trip_keeps_values_dtypes_and_order(tmp_path):
    """Several batches written and read back give the same values, dtypes and order."""
    with BatchWriter(tmp_path / "out") as writer:
        for start in (0, 3, 6):
            writer.write(make_scans(start))
    result = read_output(tmp_path / "out")
    assert result["indices"].tolist() == list(range(9))
    assert result["images"].dtype == np.float32 and result["images"].shape == (9, 2, 2)
    assert result["images"][:, 0, 0].tolist() == list(range(9))
    assert result["labels"].dtype == np.arange(1).dtype
    assert result["labels"].tolist() == [v * 10 for v in range(9)]


def test_round_trip_of_string_index_values(tmp_path):
    """String index values come back as strings, in order, across parts of different widths."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0, n=2, index=["a", "bb"]))
        writer.write(make_scans(2, n=1, index=["cccc"]))
    result = read_output(tmp_path)
    assert result["indices"].dtype.kind == "U"
    assert result["indices"].tolist() == ["a", "bb", "cccc"]
    assert output_info(tmp_path)["index_dtype"] == "<U4"


def test_manifest_counts_parts_items_and_components(tmp_path):
    """The manifest records the run id, counts, dtypes and item shapes, and whether it was closed."""
    writer = BatchWriter(tmp_path, run_id="run-7")
    writer.write(make_scans(0))
    writer.write(make_scans(3, n=4))
    info = output_info(tmp_path)
    assert (info["run_id"], info["n_parts"], info["n_items"], info["closed"]) == ("run-7", 2, 7, False)
    assert info["components"]["images"] == {
        "dtype": "float32",
        "item_shape": [2, 2],
        "parts": 2,
        "none_parts": 0,
    }
    writer.close()
    assert output_info(tmp_path)["closed"] is True


def test_components_subset_is_all_that_is_stored(tmp_path):
    """A writer given components stores only those, and the reader can load a subset of them."""
    with BatchWriter(tmp_path, components=["labels", "images"]) as writer:
        writer.write(make_scans(0))
    assert list(output_info(tmp_path)["components"]) == ["labels", "images"]
    result = read_output(tmp_path, components="labels")
    assert sorted(result) == ["indices", "labels"]


def test_unknown_component_to_write_is_refused(tmp_path):
    """Writing a batch that lacks a listed component raises, naming it."""
    with (
        BatchWriter(tmp_path, components=["labels", "masks"]) as writer,
        pytest.raises(ValueError, match=r"no component\(s\) \['masks'\]"),
    ):
        writer.write(make_scans(0))


def test_unknown_component_to_read_is_refused(tmp_path):
    """Reading a component the output lacks raises, naming it and the path."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0))
    with pytest.raises(ValueError, match=r"no component\(s\) \['masks'\].*'labels'") as info:
        read_output(tmp_path, ["masks"])
    assert str(tmp_path) in str(info.value)


def test_none_component_is_skipped_and_recorded(tmp_path):
    """A component that is None is not stored, is counted in the manifest and reads back as None."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0))
        writer.write(make_scans(3))
    assert output_info(tmp_path)["components"]["notes"] == {
        "dtype": None,
        "item_shape": None,
        "parts": 0,
        "none_parts": 2,
    }
    assert read_output(tmp_path)["notes"] is None
    assert [part["notes"] for part in iter_output(tmp_path)] == [None, None]


def test_component_none_in_some_parts_reads_as_none_items(tmp_path):
    """A component None in some batches reads back as an object array with None for their items."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0, n=2, notes=["x", "y"]))
        writer.write(make_scans(2, n=1))
    notes = read_output(tmp_path)["notes"]
    assert notes.dtype == object and notes.tolist() == ["x", "y", None]


def test_ragged_object_components_round_trip(tmp_path):
    """Ragged and mixed components are stored as object arrays and come back item by item."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0, n=2, notes=[np.ones(2), np.ones(5)]))
        writer.write(make_scans(2, n=2, notes=[{"k": 1}, "text"]))
    notes = read_output(tmp_path)["notes"]
    assert notes.dtype == object and len(notes) == 4
    assert [len(notes[0]), len(notes[1])] == [2, 5]
    assert notes[2] == {"k": 1} and notes[3] == "text"


def test_mixed_list_is_not_turned_into_strings(tmp_path):
    """A list mixing numbers and strings keeps its elements' types instead of becoming strings."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0, n=2, notes=[1, "a"]))
    assert read_output(tmp_path)["notes"].tolist() == [1, "a"]


def test_item_shapes_differing_between_parts_give_object_items(tmp_path):
    """Parts with different item shapes are concatenated as an object array of items."""

    class Images(Batch):
        components = ("images",)

    with BatchWriter(tmp_path) as writer:
        writer.write(Images.from_data(data={"images": np.zeros((2, 3))}))
        writer.write(Images.from_data(data={"images": np.zeros((1, 4))}))
    assert output_info(tmp_path)["components"]["images"]["item_shape"] is None
    images = read_output(tmp_path)["images"]
    assert images.dtype == object and [item.shape for item in images] == [(3,), (3,), (4,)]


def test_component_length_must_match_index(tmp_path):
    """A component with fewer elements than index values is refused, naming it."""
    batch = make_scans(0)
    batch.labels = np.arange(2)
    with BatchWriter(tmp_path) as writer, pytest.raises(ValueError, match=r"'labels' has shape \(2,\)"):
        writer.write(batch)


def test_raw_data_batch_is_stored_as_data(tmp_path):
    """The data of a batch without declared components is stored as the component 'data'."""
    with BatchWriter(tmp_path) as writer:
        writer.write(Batch(np.arange(3), preloaded=np.arange(3) * 2))
    assert read_output(tmp_path)["data"].tolist() == [0, 2, 4]


def test_concurrent_writes_from_threads(tmp_path):
    """Batches written from many threads at once all land, whole, in distinct numbered parts."""
    n_threads, per_thread, size = 8, 25, 4
    numbers = []
    with BatchWriter(tmp_path) as writer:

        def work(thread):
            for i in range(per_thread):
                start = (thread * per_thread + i) * size
                numbers.append(writer.write(make_scans(start, n=size)))

        threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    total = n_threads * per_thread
    assert sorted(numbers) == list(range(total))
    assert output_info(tmp_path)["n_parts"] == total
    result = read_output(tmp_path)
    assert sorted(result["indices"].tolist()) == list(range(total * size))
    # Each item's data still matches its own index value: no part mixed two batches.
    assert (result["labels"] == result["indices"] * 10).all()
    assert (result["images"][:, 1, 1] == result["indices"]).all()


def test_mode_new_refuses_a_non_empty_directory(tmp_path):
    """mode='new' refuses a directory that holds anything, naming it and the way out."""
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(FileExistsError, match=r"not empty.*mode='overwrite'") as info:
        BatchWriter(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_mode_new_accepts_an_empty_directory(tmp_path):
    """mode='new' writes into an existing empty directory."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0))
    assert output_info(tmp_path)["n_parts"] == 1


def test_mode_append_resumes_the_same_run(tmp_path):
    """mode='append' with the same run id continues the numbering and the counts."""
    with BatchWriter(tmp_path, run_id="run-1") as writer:
        writer.write(make_scans(0))
    with BatchWriter(tmp_path, run_id="run-1", mode="append") as writer:
        assert writer.write(make_scans(3)) == 1
    info = output_info(tmp_path)
    assert (info["n_parts"], info["n_items"], info["closed"]) == (2, 6, True)
    assert read_output(tmp_path)["indices"].tolist() == list(range(6))


def test_mode_append_refuses_another_run(tmp_path):
    """mode='append' onto an output of another run raises, naming both run ids."""
    with BatchWriter(tmp_path, run_id="run-1") as writer:
        writer.write(make_scans(0))
    with pytest.raises(ValueError, match=r"'run-1'.*'run-2'"):
        BatchWriter(tmp_path, run_id="run-2", mode="append")
    assert output_info(tmp_path)["n_parts"] == 1


def test_mode_append_needs_a_run_id(tmp_path):
    """mode='append' without a run id raises, saying where to find it."""
    with pytest.raises(ValueError, match="needs its run_id"):
        BatchWriter(tmp_path, mode="append")


def test_mode_append_refuses_a_directory_without_manifest(tmp_path):
    """mode='append' refuses a directory of parts whose run cannot be checked."""
    (tmp_path / "part-000000.npz").write_bytes(b"")
    with pytest.raises(FileExistsError, match=r"no manifest\.json"):
        BatchWriter(tmp_path, run_id="run-1", mode="append")


def test_mode_overwrite_replaces_an_output(tmp_path):
    """mode='overwrite' deletes the old output's parts and starts a new run."""
    with BatchWriter(tmp_path, run_id="old") as writer:
        for start in (0, 3, 6):
            writer.write(make_scans(start))
    with BatchWriter(tmp_path, run_id="new", mode="overwrite") as writer:
        writer.write(make_scans(100))
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "part-000000.npz"]
    assert output_info(tmp_path)["run_id"] == "new"
    assert read_output(tmp_path)["indices"].tolist() == [100, 101, 102]


def test_mode_overwrite_refuses_foreign_files(tmp_path):
    """mode='overwrite' refuses a directory holding files it did not write, and deletes nothing."""
    with BatchWriter(tmp_path) as writer:
        writer.write(make_scans(0))
    (tmp_path / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match=r"thesis\.tex"):
        BatchWriter(tmp_path, mode="overwrite")
    assert (tmp_path / "part-000000.npz").exists() and (tmp_path / "thesis.tex").exists()


def test_unknown_mode_is_refused(tmp_path):
    """An unknown mode raises, listing the valid ones."""
    with pytest.raises(ValueError, match=r"\['new', 'append', 'overwrite'\].*'replace'"):
        BatchWriter(tmp_path, mode="replace")


def test_write_after_close_is_refused(tmp_path):
    """Writing to a closed writer raises."""
    writer = BatchWriter(tmp_path)
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write(make_scans(0))


def test_leftover_temp_and_unrecorded_parts_are_ignored(tmp_path):
    """A crash's leftovers (a temp file, a part the manifest does not count) are ignored by readers."""
    with BatchWriter(tmp_path, run_id="run-1") as writer:
        writer.write(make_scans(0))
    # What a writer killed mid-write leaves behind: a half-written temp file, and a whole part
    # that was moved into place before the manifest could count it.
    (tmp_path / ".batchkit-part-000001.npz-x1y2.tmp").write_bytes(b"PK\x03\x04 half a zip")
    np.savez(tmp_path / "part-000001.npz", indices=np.arange(99))
    assert read_output(tmp_path)["indices"].tolist() == [0, 1, 2]
    # A resumed run writes over the unrecorded part and moves on.
    with BatchWriter(tmp_path, run_id="run-1", mode="append") as writer:
        assert writer.write(make_scans(3)) == 1
    assert read_output(tmp_path)["indices"].tolist() == list(range(6))


def test_failed_write_leaves_no_temp_file(tmp_path):
    """A write that fails halfway removes its temp file and records nothing."""

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("cannot pickle this")

    with BatchWriter(tmp_path) as writer:
        with pytest.raises(TypeError, match="cannot pickle"):
            writer.write(make_scans(0, n=1, notes=[Unpicklable()]))
        writer.write(make_scans(0))
    assert sorted(os.listdir(tmp_path)) == ["manifest.json", "part-000000.npz"]
    assert output_info(tmp_path)["n_parts"] == 1


def test_missing_manifest_is_reported(tmp_path):
    """Reading a directory without a manifest raises, naming the path."""
    with pytest.raises(FileNotFoundError, match=r"has no manifest\.json") as info:
        read_output(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_missing_part_is_reported(tmp_path):
    """Reading an output with a part missing raises before loading anything, naming the part."""
    with BatchWriter(tmp_path) as writer:
        for start in (0, 3, 6):
            writer.write(make_scans(start))
    os.unlink(tmp_path / "part-000001.npz")
    with pytest.raises(FileNotFoundError, match=r"missing 1 of its 3 parts \(part-000001.npz\)"):
        read_output(tmp_path)


def test_foreign_manifest_is_refused(tmp_path):
    """A manifest.json that is not a batchkit output's raises, naming the file."""
    (tmp_path / "manifest.json").write_text(json.dumps({"name": "something else"}))
    with pytest.raises(ValueError, match="not the manifest of a batchkit output"):
        output_info(tmp_path)


def test_iter_output_yields_parts_in_order_lazily(tmp_path):
    """iter_output reads each part only when asked for it, in the order written."""
    with BatchWriter(tmp_path) as writer:
        for start in (0, 3, 6):
            writer.write(make_scans(start))
    parts = iter_output(tmp_path, ["labels"])
    first = next(parts)
    assert first["indices"].tolist() == [0, 1, 2] and sorted(first) == ["indices", "labels"]
    # Deleting a later part now shows it had not been read yet: the error comes when it is reached.
    os.unlink(tmp_path / "part-000002.npz")
    assert next(parts)["labels"].tolist() == [30, 40, 50]
    with pytest.raises(FileNotFoundError, match="missing part 2"):
        next(parts)


def test_iter_output_checks_components_at_once(tmp_path):
    """iter_output raises for an unknown component when called, not at the first part."""
    BatchWriter(tmp_path).close()
    with pytest.raises(ValueError, match="masks"):
        iter_output(tmp_path, "masks")


def test_empty_output_reads_as_empty(tmp_path):
    """An output with no parts reads back as empty index values."""
    BatchWriter(tmp_path).close()
    result = read_output(tmp_path)
    assert result == {"indices": result["indices"]} and len(result["indices"]) == 0


@pytest.fixture
def quick_dir(tmp_path):
    """A directory in memory (tmpfs) where the system has one, else ``tmp_path``.

    Creating and renaming thousands of small files is slow on a busy disk, and the test that
    uses this measures memory, not the disk.
    """
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="batchkit-test-") as directory:
        yield Path(directory)


def test_memory_stays_flat_over_many_batches(quick_dir):
    """Writing 2,000 batches takes no more traced memory than writing 200."""
    tmp_path = quick_dir
    # One small component: the cost under tracemalloc is per allocation, so fewer arrays per part
    # keep this test quick while still writing a file and a manifest per batch.
    batches = [Values.from_data(index=np.arange(i, i + 4), data={"values": np.ones(4)}) for i in (0, 4)]
    tracemalloc.start()
    try:
        writer = BatchWriter(tmp_path)
        for i in range(200):
            writer.write(batches[i % 2])
        current_200, peak_200 = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(1800):
            writer.write(batches[i % 2])
        current_2000, peak_2000 = tracemalloc.get_traced_memory()
        writer.close()
    finally:
        tracemalloc.stop()
    # The margin allows for the manifest's counters growing a digit and interpreter caches; a writer
    # that kept anything per batch would grow by far more over 1,800 batches.
    assert current_2000 - current_200 < 16_384
    assert peak_2000 < peak_200 + 16_384
    assert output_info(tmp_path)["n_parts"] == 2000


# -- state and roll_back (resuming a journaled run) -----------------------------------------------


def test_roll_back_forgets_and_deletes_later_parts(tmp_path):
    """Rolling back to a state drops the parts written after it, in the manifest and on disk."""
    out = tmp_path / "out"
    writer = BatchWriter(out, run_id="r")
    writer.write(make_scans(0))
    state = writer.state()
    writer.write(make_scans(3))
    writer.write(make_scans(6))
    writer.roll_back(state)
    assert (writer.n_parts, writer.n_items) == (1, 3)
    assert sorted(p.name for p in out.glob("part-*")) == ["part-000000.npz"]
    writer.write(make_scans(9))  # numbering goes on from the state
    writer.close()
    assert read_output(out)["indices"].tolist() == [0, 1, 2, 9, 10, 11]


def test_roll_back_restores_the_component_records(tmp_path):
    """dtypes and part counts in the manifest are those of the state (a later part widened them)."""
    out = tmp_path / "out"
    with BatchWriter(out, run_id="r") as writer:
        writer.write(Values.from_data(data=np.array([1, 2])))
        state = writer.state()
        writer.write(Values.from_data(data=np.array([0.5])))
        assert output_info(out)["components"]["values"]["dtype"] == "float64"
        writer.roll_back(state)
    info = output_info(out)
    assert info["components"]["values"] == state["components"]["values"]
    assert info["components"]["values"]["dtype"] == "int64" and info["closed"]


def test_roll_back_through_a_new_writer_in_append_mode(tmp_path):
    """A writer that resumes the run rolls back what an earlier writer of it wrote."""
    out = tmp_path / "out"
    first = BatchWriter(out, run_id="r", fsync=True)
    first.write(make_scans(0))
    state = first.state()
    first.write(make_scans(3))  # and the process dies: no close
    again = BatchWriter(out, run_id="r", mode="append", fsync=True)
    again.roll_back(state)
    again.close()
    assert read_output(out)["indices"].tolist() == [0, 1, 2]


def test_roll_back_refuses_a_state_ahead_of_the_output(tmp_path):
    """A state with more parts than the output holds is not this output's: refused."""
    with BatchWriter(tmp_path / "a", run_id="r") as writer:
        writer.write(make_scans(0))
        writer.write(make_scans(3))
        ahead = writer.state()
    other = BatchWriter(tmp_path / "b", run_id="r")
    with pytest.raises(ValueError, match="holds 0 parts, fewer than the 2"):
        other.roll_back(ahead)
    with pytest.raises(ValueError, match="not an output state"):
        other.roll_back({"n_parts": 0})


def test_state_is_json_and_a_copy(tmp_path):
    """A state is plain JSON, and later writes do not change it."""
    writer = BatchWriter(tmp_path / "out", run_id="r")
    writer.write(make_scans(0))
    state = writer.state()
    writer.write(make_scans(3))
    assert json.loads(json.dumps(state)) == state and state["n_parts"] == 1
    assert state["components"]["images"]["parts"] == 1
