"""Everything that crosses to worker processes round-trips through pickle."""

import pickle

import numpy as np
import pytest

from batchkit import (
    Batch,
    BatchkitError,
    ItemRecord,
    ParallelError,
    RemoteTraceback,
    TargetError,
    WorkerError,
)
from batchkit._calls import MIXED, SINGLE, Calls
from batchkit.batch import RunContext, set_run_context


class Scans(Batch):
    """A Batch subclass defined at module level in a test module."""

    components = ("scans", "masks", "meta")


def round_trip(obj):
    return pickle.loads(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def make_scans():
    return Scans.from_data(
        index=np.array(["p1", "p2", "p3"]),
        data={
            "scans": np.arange(3 * 4 * 4, dtype=np.float32).reshape(3, 4, 4),
            "masks": np.arange(3) % 2 == 0,
            "meta": [{"age": 30}, {"age": 41}, {"age": 52}],
        },
    )


def make_parallel_error():
    first, second = ValueError("bad value"), KeyError("missing")
    first.add_note("batchkit: item 1 of Scans.load")
    error = ParallelError(
        "2 of 3 items failed in Scans.load",
        [first, second],
        results=[1.5, first, second],
        failed_positions=[1, 2],
    )
    error.add_note("group note")
    return error


# -- batches and items -----------------------------------------------------------------------


def test_module_level_batch_subclass_round_trips_with_its_class():
    """A batch of a Batch subclass defined at module level unpickles as that same class."""
    copy = round_trip(make_scans())
    assert type(copy) is Scans
    assert copy.components == ("scans", "masks", "meta")


def test_batch_round_trip_keeps_index():
    """A batch round-trips with its index values in order."""
    assert round_trip(make_scans()).indices.tolist() == ["p1", "p2", "p3"]


def test_batch_round_trip_keeps_component_values():
    """A batch round-trips with equal values in every component (arrays and lists alike)."""
    batch = make_scans()
    copy = round_trip(batch)
    assert np.array_equal(copy.scans, batch.scans)
    assert copy.scans.dtype == batch.scans.dtype
    assert np.array_equal(copy.masks, batch.masks)
    assert copy.meta == batch.meta


def test_unpickled_batch_looks_up_by_index_value():
    """An unpickled batch finds items by index value (its lookup table is rebuilt)."""
    batch = make_scans()
    batch.get_pos("p2")  # builds the lookup table before pickling
    copy = round_trip(batch)
    assert copy["p3"].meta == {"age": 52}


def test_batch_with_components_from_dict_round_trips():
    """A batch whose components came from a dict given to plain Batch keeps those components."""
    copy = round_trip(Batch.from_data(data={"xs": np.arange(3), "ys": np.ones(3)}))
    assert copy.components == ("xs", "ys")
    assert np.array_equal(copy.xs, [0, 1, 2])


def test_raw_data_batch_round_trips():
    """A batch holding raw data (no components) round-trips with equal data."""
    copy = round_trip(Batch.from_data(data=np.arange(5) * 2))
    assert np.array_equal(copy.data, [0, 2, 4, 6, 8])


def test_batch_round_trip_drops_dataset_and_pipeline():
    """A batch's dataset and pipeline do not cross a pickle: they come back as None."""
    batch = make_scans()
    batch.dataset = {"big": "dataset"}
    set_run_context(batch, RunContext(pipeline={"a": "pipeline"}))
    copy = round_trip(batch)
    assert (copy.dataset, copy.pipeline) == (None, None)


def test_item_becomes_item_record():
    """A pickled Item unpickles as an ItemRecord holding the item's elements by component."""
    batch = make_scans()
    record = round_trip(batch["p2"])
    assert isinstance(record, ItemRecord)
    assert np.array_equal(record.scans, batch.scans[1])
    assert record.masks == batch.masks[1]
    assert record.meta == {"age": 41}


def test_item_with_unset_component_becomes_item_record():
    """An item of a batch with a declared but unset component pickles; that component comes back as None."""
    batch = Scans.from_data(data={"scans": np.zeros((2, 3, 3)), "meta": [{"age": 1}, {"age": 2}]})
    record = round_trip(batch[1])
    assert record.meta == {"age": 2}
    assert record.masks is None


def test_item_record_round_trips():
    """An ItemRecord round-trips with the same components, in order, and values."""
    record = ItemRecord({"image": np.arange(4), "label": 3})
    copy = round_trip(record)
    assert isinstance(copy, ItemRecord)
    assert len(copy) == 2
    assert np.array_equal(copy.image, [0, 1, 2, 3])
    assert copy["label"] == 3
    assert copy[1] == 3


# -- calls -----------------------------------------------------------------------------------


def test_calls_round_trip_keeps_entries_and_arguments():
    """A Calls object round-trips with its entries, shape and the action's arguments."""
    calls = Calls([[1, 2], {"a": 3}, ([4], {"b": 5})], MIXED, (9,), {"k": "v"})
    copy = round_trip(calls)
    assert copy.entries == calls.entries
    assert copy.shape == MIXED
    assert copy.args == (9,)
    assert copy.kwargs == {"k": "v"}


def test_calls_round_trip_binds_the_same_arguments():
    """An unpickled Calls binds every call to the same arguments as the original."""
    calls = Calls([np.arange(2), "x"], SINGLE, (1,), {"k": 2})
    copy = round_trip(calls)
    for position in range(len(calls)):
        (args, kwargs), (want_args, want_kwargs) = copy.bind(position), calls.bind(position)
        assert len(args) == len(want_args)
        assert all(np.array_equal(a, b) for a, b in zip(args, want_args, strict=True))
        assert kwargs == want_kwargs


# -- exceptions ------------------------------------------------------------------------------


def test_parallel_error_round_trips_as_parallel_error():
    """A ParallelError unpickles as a ParallelError that is still an ExceptionGroup and BatchkitError."""
    copy = round_trip(make_parallel_error())
    assert type(copy) is ParallelError
    assert isinstance(copy, ExceptionGroup)
    assert isinstance(copy, BatchkitError)


def test_parallel_error_round_trip_keeps_message():
    """A ParallelError's message survives pickling."""
    assert round_trip(make_parallel_error()).message == "2 of 3 items failed in Scans.load"


def test_parallel_error_round_trip_keeps_members():
    """A ParallelError's member exceptions survive pickling with their types, arguments and notes."""
    members = round_trip(make_parallel_error()).exceptions
    assert [type(m) for m in members] == [ValueError, KeyError]
    assert [m.args for m in members] == [("bad value",), ("missing",)]
    assert members[0].__notes__ == ["batchkit: item 1 of Scans.load"]


def test_parallel_error_round_trip_keeps_results():
    """A ParallelError's results list survives pickling, failed slots sharing the member exceptions."""
    copy = round_trip(make_parallel_error())
    assert copy.results[0] == 1.5
    assert copy.results[1] is copy.exceptions[0]
    assert copy.failed_positions == [1, 2]


def test_parallel_error_round_trip_keeps_group_notes():
    """Notes added to a ParallelError itself survive pickling."""
    assert round_trip(make_parallel_error()).__notes__ == ["group note"]


def test_unpickled_parallel_error_splits_with_except_star():
    """An unpickled ParallelError still splits by type with ``except*``."""
    caught = []
    try:
        raise round_trip(make_parallel_error())
    except* ValueError as group:
        caught.append(group)
    except* KeyError:
        pass
    assert [type(e) for e in caught[0].exceptions] == [ValueError]


def test_remote_traceback_round_trips_with_text():
    """A RemoteTraceback round-trips with its traceback text."""
    text = 'Traceback (most recent call last):\n  File "worker.py", line 3\nValueError: bad'
    copy = round_trip(RemoteTraceback(text))
    assert copy.text == text
    assert str(copy) == "\n" + text


def test_worker_error_round_trips():
    """A WorkerError round-trips with its type and message."""
    copy = round_trip(WorkerError("the worker process running this item failed"))
    assert type(copy) is WorkerError
    assert str(copy) == "the worker process running this item failed"


def test_target_error_round_trips_and_stays_a_value_error():
    """A TargetError round-trips with its message and is still a ValueError."""
    copy = round_trip(TargetError("unknown target 'gpu'"))
    assert type(copy) is TargetError
    assert isinstance(copy, ValueError)
    assert str(copy) == "unknown target 'gpu'"


@pytest.mark.parametrize("protocol", range(2, pickle.HIGHEST_PROTOCOL + 1))
def test_batch_round_trips_with_every_protocol(protocol):
    """A batch round-trips with every pickle protocol from 2 up."""
    copy = pickle.loads(pickle.dumps(make_scans(), protocol=protocol))
    assert copy.meta == make_scans().meta
