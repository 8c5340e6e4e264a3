"""``Dataset``: batches built from an index, with their part of the preloaded data."""

import pickle
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchkit import Batch
from batchkit.dataset import Dataset
from batchkit.index import DatasetIndex, FilesIndex


class Pairs(Batch):
    components = ("images", "labels")


class Single(Batch):
    components = ("images",)


VALUES = np.arange(100, 110)


def images():
    """Ten 2x2 images; image ``i`` is filled with ``i``."""
    return np.arange(10)[:, None, None] * np.ones((10, 2, 2), dtype=int)


def labels():
    return np.arange(10) * 10


# -- construction -------------------------------------------------------------------------------------


def test_int_index_becomes_dataset_index():
    """An int index becomes a DatasetIndex of ``0..n-1``."""
    ds = Dataset(5)
    assert isinstance(ds.index, DatasetIndex)
    assert ds.indices.tolist() == [0, 1, 2, 3, 4]


def test_values_index_becomes_dataset_index():
    """A sequence of values becomes a DatasetIndex of those values."""
    assert Dataset(["a", "b"]).indices.tolist() == ["a", "b"]


def test_index_object_is_used_as_is():
    """A DatasetIndex given to the dataset is its index object."""
    index = DatasetIndex(4)
    assert Dataset(index).index is index


def test_len_and_size():
    """``len`` and ``size`` give the number of items."""
    ds = Dataset(VALUES)
    assert len(ds) == ds.size == 10


@pytest.mark.parametrize("bad", [dict, Batch(np.arange(2)), "Batch"])
def test_batch_class_must_subclass_batch(bad):
    """A batch class that is not a Batch subclass raises TypeError."""
    with pytest.raises(TypeError, match="batch_class"):
        Dataset(3, batch_class=bad)


def test_attrs_become_attributes():
    """Extra keyword arguments become attributes of the dataset."""
    ds = Dataset(3, note="hello", scale=2)
    assert (ds.note, ds.scale) == ("hello", 2)


def test_attr_shadowing_a_method_raises():
    """An attribute named like a Dataset method raises ValueError."""
    with pytest.raises(ValueError, match="'split'"):
        Dataset(3, split=0.5)


def test_preloaded_length_mismatch_raises():
    """Preloaded data with a row count other than the index length raises ValueError."""
    with pytest.raises(ValueError, match="9 rows"):
        Dataset(VALUES, Single, preloaded=np.zeros(9))
    with pytest.raises(ValueError, match="'labels'"):
        Dataset(VALUES, Pairs, preloaded={"images": images(), "labels": np.zeros(3)})


# -- create_batch -----------------------------------------------------------------------------------


def test_create_batch_by_values():
    """``create_batch`` takes values and gives a batch of the batch class with those values."""
    ds = Dataset(VALUES, Pairs)
    batch = ds.create_batch([105, 101])
    assert type(batch) is Pairs
    assert batch.indices.tolist() == [105, 101]
    assert batch.dataset is ds


def test_create_batch_by_positions():
    """``pos=True`` takes positions in the index."""
    assert Dataset(VALUES).create_batch([0, 9], pos=True).indices.tolist() == [100, 109]


def test_create_batch_from_index():
    """A DatasetIndex gives its values."""
    assert Dataset(VALUES).create_batch(DatasetIndex([103])).indices.tolist() == [103]


def test_create_batch_unknown_value_raises():
    """A value not in the dataset raises KeyError naming it."""
    with pytest.raises(KeyError, match="7"):
        Dataset(VALUES, Single, preloaded=images()).create_batch([7])


def test_create_batch_passes_kwargs():
    """Extra keyword arguments reach the batch class (as attributes of a Batch)."""
    assert Dataset(3).create_batch([1], tag="x").tag == "x"


def test_batch_index_is_same_index_class():
    """The batch's index is an index of the dataset's index class."""
    batch = Dataset(VALUES).create_batch([101])
    assert isinstance(batch.index, DatasetIndex)


def test_batch_class_without_copy_argument():
    """A batch class whose ``__init__`` takes no ``copy`` argument still works."""

    class Own(Batch):
        components = ("images",)

        def __init__(self, index, dataset=None, preloaded=None, **kwargs):
            super().__init__(index, dataset=dataset, preloaded=preloaded, **kwargs)

    assert Dataset(VALUES, Own, preloaded=images()).create_batch([102]).images[0, 0, 0] == 2


# -- preloaded data ----------------------------------------------------------------------------------


def test_array_rows_follow_value_positions():
    """An array is cropped at the positions of the batch's values, whatever the values are."""
    batch = Dataset(VALUES, Single, preloaded=images()).create_batch([107, 100])
    assert batch.images[:, 0, 0].tolist() == [7, 0]


def test_array_with_string_values():
    """String index values find their rows by position in the index."""
    ds = Dataset(["c", "a", "b"], Single, preloaded=np.array([30, 10, 20]))
    assert ds.create_batch(["b", "c"]).images.tolist() == [20, 30]


def test_array_without_components_is_raw_data():
    """With a class that declares no components, the crop is the batch's raw data."""
    batch = Dataset(VALUES, Batch, preloaded=labels()).create_batch([103, 104])
    assert batch.data.tolist() == [30, 40]


def test_tuple_maps_to_components_in_order():
    """A tuple gives one crop per component, in order."""
    batch = Dataset(VALUES, Pairs, preloaded=(images(), labels())).create_batch([104])
    assert batch.images[0, 0, 0] == 4
    assert batch.labels.tolist() == [40]


def test_list_maps_to_components_in_order():
    """A list works like a tuple."""
    batch = Dataset(VALUES, Pairs, preloaded=[images(), labels()]).create_batch([109])
    assert batch.labels.tolist() == [90]


def test_dict_maps_by_component_name():
    """A dict gives crops by component name."""
    batch = Dataset(VALUES, Pairs, preloaded={"labels": labels(), "images": images()}).create_batch([102])
    assert batch.labels.tolist() == [20]
    assert batch.images[0, 0, 0] == 2


def test_list_component_is_cropped_by_position():
    """A plain list as one component's data is cropped item by item."""
    names = [f"item{i}" for i in range(10)]
    batch = Dataset(VALUES, Pairs, preloaded={"labels": names}).create_batch([108, 101])
    assert batch.labels == ["item8", "item1"]
    assert batch.images is None


def test_crop_is_a_copy():
    """Writing into a batch's component leaves the dataset's data alone."""
    data = labels()
    batch = Dataset(VALUES, Single, preloaded=data).create_batch([100])
    batch.images[0] = -1
    assert data[0] == 0


def test_copy_deep_copies_object_data():
    """``copy=True`` deep-copies the crop, so mutable elements are not shared."""
    records = [{"n": i} for i in range(10)]
    batch = Dataset(VALUES, Single, preloaded={"images": records}, copy=True).create_batch([100])
    batch.images[0]["n"] = 99
    assert records[0]["n"] == 0


def test_no_preloaded_gives_empty_components():
    """Without preloaded data the batch's components are empty."""
    batch = Dataset(VALUES, Pairs).create_batch([100])
    assert batch.images is None and batch.labels is None


def test_item_view_after_preload():
    """Items of a preloaded batch read their own rows."""
    batch = Dataset(VALUES, Pairs, preloaded=(images(), labels())).create_batch([106, 103])
    assert batch[103].labels == 30


# -- pandas -------------------------------------------------------------------------------------------


@pytest.fixture
def frame():
    pd = pytest.importorskip("pandas")
    return pd.DataFrame({"images": np.arange(10) * 1.5, "labels": list("abcdefghij")}, index=VALUES)


def test_dataframe_columns_become_components(frame):
    """A DataFrame gives the columns named like components, as arrays of the batch's rows by value."""
    batch = Dataset(VALUES, Pairs, preloaded=frame).create_batch([105, 100])
    assert isinstance(batch.labels, np.ndarray)
    assert batch.labels.tolist() == ["f", "a"]
    assert batch.images.tolist() == [7.5, 0.0]


def test_dataframe_rows_found_by_value_in_any_order(frame):
    """DataFrame rows are found by index value, so the frame's row order does not matter."""
    batch = Dataset(VALUES, Pairs, preloaded=frame.iloc[::-1]).create_batch([101])
    assert batch.labels.tolist() == ["b"]


def test_dataframe_without_components_is_raw(frame):
    """With no declared components the batch's data is the DataFrame of its rows."""
    batch = Dataset(VALUES, Batch, preloaded=frame).create_batch([102, 103])
    assert type(batch.data).__name__ == "DataFrame"
    assert batch.data.index.tolist() == [102, 103]


def test_dataframe_single_unmatched_component_gets_frame(frame):
    """A single declared component that is no column gets the DataFrame rows."""

    class Table(Batch):
        components = ("table",)

    batch = Dataset(VALUES, Table, preloaded=frame).create_batch([104])
    assert batch.table["labels"].tolist() == ["e"]


def test_dataframe_unmatched_components_raise(frame):
    """Several components none of which is a column raise ValueError naming both."""

    class Other(Batch):
        components = ("x", "y")

    with pytest.raises(ValueError, match="columns"):
        Dataset(VALUES, Other, preloaded=frame).create_batch([104])


def test_series_in_dict_becomes_array(frame):
    """A Series inside a dict is cropped by value and becomes an array."""
    batch = Dataset(VALUES, Pairs, preloaded={"labels": frame["labels"]}).create_batch([109, 108])
    assert isinstance(batch.labels, np.ndarray)
    assert batch.labels.tolist() == ["j", "i"]


def test_dataframe_with_string_index():
    """A DataFrame indexed by strings serves a dataset of string values."""
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"labels": [1, 2, 3]}, index=["x", "y", "z"])
    batch = Dataset(["z", "x", "y"], Pairs, preloaded=frame).create_batch(["y"])
    assert batch.labels.tolist() == [2]


# -- iteration ---------------------------------------------------------------------------------------


def test_gen_batch_epochs_and_tail():
    """``gen_batch`` follows the index order semantics: tails topped up, last batch short."""
    ds = Dataset(4)
    assert [b.indices.tolist() for b in ds.gen_batch(3, n_epochs=2)] == [[0, 1, 2], [3, 0, 1], [2, 3]]


def test_gen_batch_gives_batch_class_with_data():
    """Each yielded batch is a batch-class instance holding its own rows."""
    ds = Dataset(VALUES, Pairs, preloaded=(images(), labels()))
    for batch in ds.gen_batch(3, shuffle=4, n_epochs=2):
        assert type(batch) is Pairs
        assert batch.labels.tolist() == ((batch.indices - 100) * 10).tolist()


def test_gen_batch_drop_last_and_n_iters():
    """``drop_last`` and ``n_iters`` work as for an index."""
    ds = Dataset(4)
    assert [len(b) for b in ds.gen_batch(3, n_epochs=2, drop_last=True)] == [3, 3]
    assert len(list(ds.gen_batch(3, n_iters=5))) == 5


def test_gen_batch_passes_kwargs():
    """Extra ``gen_batch`` keyword arguments reach every batch."""
    assert {b.tag for b in Dataset(4).gen_batch(2, n_epochs=1, tag="t")} == {"t"}


def test_gen_batch_seeded_is_reproducible():
    """An int seed gives the same batches every run."""
    ds = Dataset(VALUES)
    first = [b.indices.tolist() for b in ds.gen_batch(3, shuffle=9, n_epochs=3)]
    assert first == [b.indices.tolist() for b in ds.gen_batch(3, shuffle=9, n_epochs=3)]


def test_gen_batch_errors():
    """A batch larger than the dataset, or both limits, raise ValueError."""
    with pytest.raises(ValueError):
        next(Dataset(3).gen_batch(4))
    with pytest.raises(ValueError):
        next(Dataset(3).gen_batch(2, n_epochs=1, n_iters=1))


def test_next_batch_keeps_state_and_stops():
    """``next_batch`` goes on between calls and raises StopIteration at the end of its epochs."""
    ds = Dataset(VALUES, Single, preloaded=images())
    batches = [ds.next_batch(4, n_epochs=1) for _ in range(3)]
    assert [b.indices.tolist()[0] for b in batches] == [100, 104, 108]
    assert batches[2].images[:, 0, 0].tolist() == [8, 9]
    with pytest.raises(StopIteration):
        ds.next_batch(4, n_epochs=1)


def test_next_batch_new_batch_size_goes_on_with_the_stream():
    """A later call with another batch size takes it from the running stream."""
    ds = Dataset(6)
    ds.next_batch(2)
    assert ds.next_batch(3).indices.tolist() == [2, 3, 4]


def test_next_batch_without_limits_never_stops():
    """Without n_epochs and n_iters, ``next_batch`` cycles the epochs."""
    ds = Dataset(3)
    assert [ds.next_batch(2).indices.tolist() for _ in range(3)] == [[0, 1], [2, 0], [1, 2]]


def test_gen_batch_without_limits_never_stops():
    """``Dataset.gen_batch`` without limits goes on past the first epoch."""
    batches = Dataset(3).gen_batch(2)
    assert [next(batches).indices.tolist() for _ in range(3)] == [[0, 1], [2, 0], [1, 2]]


def test_reset_restarts():
    """``reset()`` starts the ``next_batch`` iteration over."""
    ds = Dataset(6)
    ds.next_batch(2)
    ds.reset("iter")
    assert ds.next_batch(2).indices.tolist() == [0, 1]


def test_dataset_and_index_iterations_are_separate():
    """The dataset's ``next_batch`` state is its own, not its index's."""
    ds = Dataset(6)
    ds.next_batch(2)
    assert ds.index.next_batch(2).indices.tolist() == [0, 1]
    assert ds.next_batch(2).indices.tolist() == [2, 3]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=25),
    data=st.data(),
    offset=st.integers(min_value=-50, max_value=1000),
    drop_last=st.booleans(),
)
def test_batches_always_hold_their_own_rows(n, data, offset, drop_last):
    """For any index values and iteration, each batch's preloaded rows are those of its values."""
    batch_size = data.draw(st.integers(min_value=1, max_value=n))
    values = np.arange(n) * 3 + offset
    ds = Dataset(values, Single, preloaded=values * 7)
    for batch in ds.gen_batch(batch_size, shuffle=1, n_epochs=2, drop_last=drop_last):
        assert batch.images.tolist() == (batch.indices * 7).tolist()


# -- subsets and splits --------------------------------------------------------------------------------


def test_create_subset_shares_data_and_finds_rows():
    """A subset shares the preloaded data and its batches get the right rows."""
    ds = Dataset(VALUES, Pairs, preloaded=(images(), labels()), note="n")
    subset = ds.create_subset([108, 102])
    assert type(subset) is Dataset and subset.batch_class is Pairs and subset.note == "n"
    assert subset.preloaded is ds.preloaded
    assert [b.labels.tolist() for b in subset.gen_batch(1, n_epochs=1)] == [[80], [20]]


def test_create_subset_unknown_value_raises_index_error():
    """A subset with a value not in the dataset raises IndexError (batchflow's), naming the value."""
    with pytest.raises(IndexError, match=r"not: \[5\]"):
        Dataset(VALUES).create_subset([5, 101])


def test_create_subset_error_is_also_a_key_error():
    """The error is also a KeyError, for callers that catch that."""
    with pytest.raises(KeyError):
        Dataset(VALUES).create_subset(DatasetIndex([5]))


def test_split_gives_datasets():
    """``split`` sets train and test datasets of the right sizes, validation None."""
    ds = Dataset(VALUES, Single, preloaded=images())
    ds.split(0.7)
    assert isinstance(ds.train, Dataset) and isinstance(ds.test, Dataset)
    assert (len(ds.train), len(ds.test), ds.validation) == (7, 3, None)
    assert ds.test.indices.tolist() == [100, 101, 102]


def test_split_parts_share_preloaded_and_crop_right():
    """Split parts share the preloaded data, and their batches hold their own rows."""
    ds = Dataset(VALUES, Single, preloaded=images())
    ds.split([0.5, 0.3, 0.2], shuffle=2)
    assert ds.validation.preloaded is ds.preloaded
    for part in (ds.train, ds.test, ds.validation):
        batch = part.create_batch(part.indices)
        assert batch.images[:, 0, 0].tolist() == (batch.indices - 100).tolist()


def test_split_also_splits_the_index():
    """The dataset's index gets the same parts."""
    ds = Dataset(VALUES)
    ds.split(0.5, shuffle=3)
    assert ds.index.train.indices.tolist() == ds.train.indices.tolist()


def test_split_parts_iterate_independently():
    """A split part has its own ``next_batch`` state."""
    ds = Dataset(10)
    ds.split(0.5)
    ds.next_batch(2)
    assert ds.train.next_batch(2).indices.tolist() == [5, 6]


def test_cv_split_folds_partition_items():
    """``cv_split`` sets cv0..cv{n-1}; tests partition the items and each train is the rest."""
    ds = Dataset(VALUES, Single, preloaded=images())
    ds.cv_split(n_splits=3, shuffle=5)
    tests = []
    for i in range(3):
        fold = getattr(ds, f"cv{i}")
        train, test = set(fold.train.indices.tolist()), set(fold.test.indices.tolist())
        assert train | test == set(VALUES.tolist()) and not train & test
        tests.append(test)
    assert sorted(len(t) for t in tests) == [3, 3, 4]
    assert set().union(*tests) == set(VALUES.tolist())


def test_cv_split_folds_carry_data():
    """Batches of a fold's train part hold their own rows."""
    ds = Dataset(VALUES, Single, preloaded=images())
    ds.cv_split(n_splits=2)
    batch = ds.cv1.train.create_batch(ds.cv1.train.indices)
    assert batch.images[:, 0, 0].tolist() == (batch.indices - 100).tolist()


def test_cv_split_unshuffled_folds_in_order():
    """Without shuffling, fold i is the i-th run of consecutive items."""
    ds = Dataset(6)
    ds.cv_split(n_splits=3)
    assert ds.cv1.test.indices.tolist() == [2, 3]
    assert ds.n_splits == 3


@pytest.mark.parametrize(("kwargs", "match"), [({"method": "loo"}, "kfold"), ({"n_splits": 1}, "n_splits")])
def test_cv_split_bad_arguments(kwargs, match):
    """An unknown method or an n_splits out of range raises ValueError."""
    with pytest.raises(ValueError, match=match):
        Dataset(5).cv_split(**kwargs)


def test_from_dataset_with_other_batch_class():
    """``Dataset.from_dataset`` makes a subset, optionally with another batch class."""
    ds = Dataset(VALUES, Pairs, preloaded=(images(), labels()))
    other = Dataset.from_dataset(ds, [103], batch_class=Batch)
    assert other.batch_class is Batch and other.indices.tolist() == [103]


# -- files and pickling ---------------------------------------------------------------------------------


def test_files_dataset_batches_know_their_paths(tmp_path):
    """A dataset over a FilesIndex gives batches whose index finds each file."""
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.txt").write_text(name.upper())
    ds = Dataset(FilesIndex(path=str(tmp_path / "*.txt"), no_ext=True, sort=True))
    batch = ds.create_batch(["c", "a"])
    assert isinstance(batch.index, FilesIndex)
    texts = [Path(batch.index.get_fullpath(key)).read_text() for key in batch.indices]
    assert texts == ["C", "A"]


def test_dataset_pickles():
    """A dataset with preloaded data pickles and still makes the right batches."""
    ds = pickle.loads(pickle.dumps(Dataset(VALUES, Pairs, preloaded=(images(), labels()))))
    assert ds.create_batch([101]).labels.tolist() == [10]


def test_repr_names_size_and_batch_class():
    """The repr names the number of items and the batch class."""
    assert repr(Dataset(VALUES, Pairs)) == "<Dataset of 10 items, batch class Pairs>"


def test_gen_batch_with_explicit_none_limits_never_stops():
    """``n_epochs=None, n_iters=None`` passed by name is endless too, as in batchflow."""
    batches = Dataset(3).gen_batch(2, n_epochs=None, n_iters=None)
    assert [next(batches).indices.tolist() for _ in range(3)] == [[0, 1], [2, 0], [1, 2]]
