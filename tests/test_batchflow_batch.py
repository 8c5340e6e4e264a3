"""Batches against batchflow 0.10.1: ``Batch.load``, ``do_nothing``, ``add_components`` and preloaded data.

The expected values were observed running batchflow as a black box (a batch of index values
[2, 5] loading from ``arange(100)`` and friends); the deliberate differences say so.
"""

import numpy as np
import pytest

from batchkit import Batch, Dataset, DatasetIndex, FilesIndex, Pipeline

pd = pytest.importorskip("pandas")

ARR = np.arange(100)


class Pairs(Batch):
    components = ("images", "labels")


class Raw(Batch):
    pass


def frame():
    return pd.DataFrame({"images": np.arange(10) * 10, "labels": np.arange(10)}, index=np.arange(10))


def batch_of(cls):
    return cls(DatasetIndex([2, 5]))


# -- load, fmt=None: the crop -----------------------------------------------------------------------


def test_load_array_by_index_values():
    """An array is cropped by the batch's index values: ``src[batch.indices]``."""
    assert batch_of(Raw).load(src=ARR).data.tolist() == [2, 5]


def test_load_returns_the_batch():
    """``load`` is an action returning the batch itself."""
    batch = batch_of(Raw)
    assert batch.load(src=ARR) is batch


def test_load_tuple_into_raw_data():
    """A class without components gets a tuple of arrays as its data."""
    data = batch_of(Raw).load(src=(ARR, ARR * 2)).data
    assert isinstance(data, tuple) and [part.tolist() for part in data] == [[2, 5], [4, 10]]


def test_load_dict_into_raw_data():
    """A class without components gets a dict of arrays as its data."""
    data = batch_of(Raw).load(src={"x": ARR, "y": ARR * 2}).data
    assert {key: value.tolist() for key, value in data.items()} == {"x": [2, 5], "y": [4, 10]}


def test_load_dataframe_rows_into_raw_data():
    """A class without components gets the DataFrame's rows, found by value."""
    data = batch_of(Raw).load(src=frame()).data
    assert data.index.tolist() == [2, 5] and data["images"].tolist() == [20, 50]


def test_load_tuple_fills_components_in_order():
    """A tuple fills the components in order."""
    batch = batch_of(Pairs).load(src=(ARR, ARR * 2))
    assert batch.images.tolist() == [2, 5] and batch.labels.tolist() == [4, 10]


def test_load_short_tuple_leaves_trailing_components_none():
    """Components past the tuple's end stay None."""
    batch = batch_of(Pairs).load(src=(ARR,))
    assert batch.images.tolist() == [2, 5] and batch.labels is None


def test_load_dict_fills_by_name_ignoring_extra_keys():
    """A dict fills components by name; other keys are ignored."""
    batch = batch_of(Pairs).load(src={"images": ARR, "labels": ARR * 2, "extra": ARR})
    assert batch.images.tolist() == [2, 5] and batch.labels.tolist() == [4, 10]
    assert batch.components == ("images", "labels")


def test_load_dataframe_fills_by_column_name():
    """A DataFrame fills components by column name."""
    batch = batch_of(Pairs).load(src=frame())
    assert batch.images.tolist() == [20, 50] and batch.labels.tolist() == [2, 5]


def test_load_dict_component_keyed_by_value():
    """A component given as a dict keyed by index value is looked up by value."""
    batch = batch_of(Pairs).load(src={"images": {2: "a", 5: "b"}, "labels": ARR})
    assert batch.images.tolist() == ["a", "b"]


def test_load_series_into_named_component():
    """A Series is found by value and stored as an array."""
    batch = batch_of(Pairs).load(src=pd.Series(np.arange(10) * 7), dst="labels")
    assert batch.labels.tolist() == [14, 35]


# -- load, fmt=None: dst ----------------------------------------------------------------------------


def test_load_dst_name_fills_that_component():
    """A single array goes into the one named component; the others stay None."""
    batch = batch_of(Pairs).load(src=ARR, dst="labels")
    assert batch.labels.tolist() == [2, 5] and batch.images is None


def test_load_dst_new_name_adds_the_component():
    """A ``dst`` that is no component yet is added."""
    batch = batch_of(Pairs).load(src=ARR, dst="masks")
    assert batch.components == ("images", "labels", "masks")
    assert batch.masks.tolist() == [2, 5]


def test_load_dst_tuple_takes_a_tuple_by_position():
    """A tuple of names takes a tuple source by position."""
    batch = batch_of(Pairs).load(src=(ARR, ARR * 3), dst=("labels", "images"))
    assert batch.labels.tolist() == [2, 5] and batch.images.tolist() == [6, 15]


def test_load_dst_tuple_takes_a_dict_by_name_adding_components():
    """A tuple of names takes a dict by name, adding the new components."""
    batch = batch_of(Pairs).load(src={"a": ARR, "b": ARR * 3}, dst=("a", "b"))
    assert batch.components == ("images", "labels", "a", "b")
    assert batch.a.tolist() == [2, 5] and batch.b.tolist() == [6, 15]


def test_load_dst_tuple_takes_dataframe_columns():
    """A tuple of names takes a DataFrame's columns by name."""
    batch = batch_of(Pairs).load(src=frame(), dst=("labels",))
    assert batch.labels.tolist() == [2, 5] and batch.images is None


def test_load_dst_name_takes_a_dataframe_column_by_name():
    """``dst="labels"`` with a DataFrame takes its column (batchflow stored the whole rows there)."""
    assert batch_of(Pairs).load(src=frame(), dst="labels").labels.tolist() == [2, 5]


def test_load_dst_on_a_class_without_components_adds_it():
    """A class without components gets the named component."""
    batch = batch_of(Raw).load(src=ARR, dst="images")
    assert batch.components == ("images",) and batch.images.tolist() == [2, 5]


def test_load_dst_tuple_of_other_length_raises():
    """A tuple source with another number of parts than ``dst`` names raises ValueError."""
    with pytest.raises(ValueError, match=r"2 components \['labels', 'images'\] for 3 sources"):
        batch_of(Pairs).load(src=(ARR, ARR, ARR), dst=("labels", "images"))


# -- load: wrong shapes and formats ----------------------------------------------------------------


def test_load_longer_tuple_than_components_raises():
    """A tuple of three for two components raises (batchflow silently dropped the third)."""
    with pytest.raises(ValueError, match="declares 2 components"):
        batch_of(Pairs).load(src=(ARR, ARR, ARR))


def test_load_single_array_into_several_components_raises():
    """A single array for a class of two components raises TypeError saying so (batchflow: AttributeError)."""
    with pytest.raises(TypeError, match="pass a dict or a tuple"):
        batch_of(Pairs).load(src=ARR)


def test_load_unknown_format_lists_the_supported_ones():
    """An unknown ``fmt`` raises ValueError listing the supported formats."""
    with pytest.raises(ValueError, match=r"'npz', 'csv', 'feather', 'parquet'.*got 'blosc2'"):
        batch_of(Pairs).load(src="x", fmt="blosc2")


def test_load_without_src_or_fmt_raises():
    """``load()`` with neither src nor fmt raises TypeError."""
    with pytest.raises(TypeError, match="src="):
        batch_of(Pairs).load()


def test_load_values_out_of_range_name_the_source():
    """Index values past an array's end raise IndexError naming the source's length."""
    with pytest.raises(IndexError, match="3 rows"):
        batch_of(Raw).load(src=np.arange(3))


# -- load: files --------------------------------------------------------------------------------------


@pytest.fixture
def npz_files(tmp_path):
    for name in ("a", "b"):
        np.savez(tmp_path / f"{name}.npz", images=np.full((2, 2), ord(name)), labels=np.array(ord(name)))
    return FilesIndex(path=str(tmp_path / "*.npz"), no_ext=True, sort=True)


def test_load_npz_reads_each_items_file(npz_files):
    """``fmt="npz"`` reads one archive per item of the FilesIndex, components by name."""
    batch = Pairs(npz_files.create_batch(["b", "a"], pos=False)).load(fmt="npz")
    assert batch.images.shape == (2, 2, 2) and batch.images[:, 0, 0].tolist() == [98, 97]
    assert batch.labels.tolist() == [98, 97]


def test_load_npz_dst_picks_a_name(npz_files):
    """With ``dst`` only that name is stored."""
    batch = Pairs(npz_files.create_batch(["a"], pos=False)).load(fmt="npz", dst="labels")
    assert batch.labels.tolist() == [97] and batch.images is None


def test_load_npz_in_a_pipeline(npz_files):
    """``load(fmt="npz")`` runs as a pipeline step over a dataset on a FilesIndex."""
    pipeline = Dataset(npz_files, Pairs).p.load(fmt="npz")
    batches = list(pipeline.gen_batch(2))
    assert batches[0].labels.tolist() == [97, 98]


def test_load_files_need_a_files_index():
    """``fmt`` without src on a batch of a plain DatasetIndex raises TypeError saying what to do."""
    with pytest.raises(TypeError, match="FilesIndex"):
        batch_of(Pairs).load(fmt="npz")


def test_load_csv_file_cropped_by_value(tmp_path):
    """``src`` a csv file: read with the given reader arguments, rows found by value (batchflow)."""
    path = tmp_path / "t.csv"
    pd.DataFrame({"images": [1.0, 2.0, 3.0], "labels": [4, 5, 6]}, index=["a", "b", "c"]).to_csv(path)
    batch = Pairs(DatasetIndex(["a", "c"])).load(src=str(path), fmt="csv", index_col=0)
    assert batch.images.tolist() == [1.0, 3.0] and batch.labels.tolist() == [4, 6]


def test_load_csv_without_index_col_uses_row_numbers(tmp_path):
    """Without ``index_col`` the rows are numbered 0.. and found by those numbers (batchflow)."""
    path = tmp_path / "t.csv"
    pd.DataFrame({"images": [1.0, 2.0, 3.0], "labels": [4, 5, 6]}).to_csv(path, index=False)
    batch = Pairs(DatasetIndex([0, 2])).load(src=str(path), fmt="csv")
    assert batch.labels.tolist() == [4, 6]


def test_load_csv_per_item_files(tmp_path):
    """``fmt="csv"`` without src reads one table per item; a one-row table gives its values."""
    for name in "ab":
        pd.DataFrame({"images": [ord(name)], "labels": [1]}).to_csv(tmp_path / f"{name}.csv", index=False)
    files = FilesIndex(path=str(tmp_path / "*.csv"), no_ext=True, sort=True)
    batch = Pairs(files.create_batch(files.indices, pos=False)).load(fmt="csv")
    assert batch.images.tolist() == [97, 98]


@pytest.mark.parametrize("fmt", ["feather", "parquet"])
def test_load_feather_and_parquet(tmp_path, fmt):
    """``fmt="feather"`` and ``"parquet"`` read tables through pandas."""
    pytest.importorskip("pyarrow")
    path = tmp_path / f"t.{fmt}"
    table = pd.DataFrame({"images": [1.0, 2.0, 3.0], "labels": [4, 5, 6]})
    getattr(table, f"to_{fmt}")(path)
    batch = Pairs(DatasetIndex([0, 2])).load(src=str(path), fmt=fmt)
    assert batch.labels.tolist() == [4, 6]


# -- do_nothing and add_components ---------------------------------------------------------------------


def test_do_nothing_returns_the_batch():
    """``do_nothing`` returns the batch unchanged."""
    batch = batch_of(Pairs)
    assert batch.do_nothing(1, 2, x=3) is batch


def test_do_nothing_in_a_pipeline_evaluates_its_arguments():
    """In a pipeline ``do_nothing``'s arguments are evaluated: a callable named expression runs."""
    from batchkit import B, F

    seen = []
    pipeline = Dataset(4).p.do_nothing(F(lambda batch: seen.append(len(batch)))(B()))
    list(pipeline.gen_batch(2))
    assert seen == [2, 2]


def test_add_components_is_an_action():
    """``add_components`` is an action, usable in a pipeline, its ``init`` evaluated per batch."""
    from batchkit import B

    pipeline = Dataset(4, Pairs).p.add_components("masks", init=B("indices"))
    batches = list(pipeline.gen_batch(2))
    assert [b.masks.tolist() for b in batches] == [[0, 1], [2, 3]]


def test_add_components_several_with_init():
    """Several components get one init value each (batchflow)."""
    batch = batch_of(Pairs).add_components(("m2", "m3"), init=(np.array([1, 2]), np.array([3, 4])))
    assert batch.m3.tolist() == [3, 4]


def test_add_components_existing_raises():
    """Adding a component that exists raises ValueError (batchflow too)."""
    with pytest.raises(ValueError, match="images"):
        batch_of(Pairs).add_components("images", init=np.array([1, 2]))


def test_load_in_a_pipeline_from_memory():
    """``load(src=...)`` in a pipeline crops the source for each batch."""
    pipeline = Pipeline().load(src=ARR * 10, dst="x")
    batches = list((Dataset(4, Pairs) >> pipeline).gen_batch(2))
    assert [b.x.tolist() for b in batches] == [[0, 10], [20, 30]]


# -- preloaded datasets: the same loading path --------------------------------------------------------


def preloaded_batch(cls, preloaded, index=10):
    ds = Dataset(index, cls, preloaded=preloaded)
    return ds.create_batch(ds.indices[[2, 5]])


def test_preloaded_dict_ignores_keys_that_are_not_components():
    """A preloaded dict's other keys are ignored (batchflow), even ones no array could crop."""
    batch = preloaded_batch(Pairs, {"images": np.arange(10), "labels": np.arange(10) * 2, "meta": "x"})
    assert batch.images.tolist() == [2, 5] and batch.labels.tolist() == [4, 10]


def test_preloaded_component_dict_keyed_by_value():
    """A component given as a dict keyed by index value is looked up by value."""
    batch = preloaded_batch(Pairs, {"images": {i: f"v{i}" for i in range(10)}, "labels": np.arange(10)})
    assert batch.images.tolist() == ["v2", "v5"]


def test_preloaded_arrays_by_position_for_any_values():
    """Arrays are read by position, so values 100..109 work (batchflow raised IndexError here)."""
    batch = preloaded_batch(Pairs, (np.arange(10) * 10, np.arange(10)), index=np.arange(100, 110))
    assert batch.images.tolist() == [20, 50]


def test_preloaded_raw_class_gets_a_tuple():
    """A class without components gets the tuple of crops (batchflow)."""
    data = preloaded_batch(Raw, (np.arange(10), np.arange(10) * 2)).data
    assert [part.tolist() for part in data] == [[2, 5], [4, 10]]


@pytest.mark.parametrize("bad", [{1, 2, 3}, "hello"], ids=["set", "str"])
def test_preloaded_unsupported_component_names_it(bad):
    """An unsupported component type raises TypeError naming the component and what is accepted."""
    with pytest.raises(TypeError, match=r"preloaded 'images' must be an array .* DataFrame or Series"):
        Dataset(3, Pairs, preloaded={"images": bad, "labels": np.arange(3)})


def test_preloaded_longer_tuple_than_components_raises():
    """A tuple of three for two components raises when the dataset is made (batchflow dropped one)."""
    with pytest.raises(ValueError, match="declares 2 components"):
        Dataset(10, Pairs, preloaded=(ARR[:10], ARR[:10], ARR[:10]))


def test_preloaded_dict_naming_no_component_raises():
    """A dict none of whose keys is a component raises, naming the keys."""
    with pytest.raises(ValueError, match=r"keys \['image', 'label'\]"):
        Dataset(10, Pairs, preloaded={"image": ARR[:10], "label": ARR[:10]})


def test_preloaded_single_array_for_several_components_raises():
    """A single array for a class of several components raises TypeError saying so."""
    with pytest.raises(TypeError, match="dict or a tuple"):
        Dataset(10, Pairs, preloaded=ARR[:10])


def test_from_data_tuple_of_arrays_without_components_raises():
    """Several arrays given to a class without components raise, instead of a batch of the wrong length."""
    with pytest.raises(ValueError, match="declares no components but got a tuple of 2 arrays of 10 rows"):
        Raw.from_data(data=(ARR[:10], ARR[:10]))


def test_from_data_tuple_of_arrays_with_index_is_raw_data():
    """With an index the tuple of arrays is the raw data of a batch of the index's length."""
    batch = Raw.from_data(index=np.arange(10), data=(ARR[:10], ARR[:10]))
    assert len(batch) == 10 and len(batch.data) == 2


def test_batch_constructor_crops_longer_preloaded_by_value():
    """``Batch(index, preloaded=whole_data)`` crops by index value, as batchflow does."""
    assert Batch(DatasetIndex([2, 5]), preloaded=np.arange(100)).data.tolist() == [2, 5]
    batch = Pairs(DatasetIndex([2, 5]), preloaded=(np.arange(100), np.arange(100) * 2))
    assert batch.images.tolist() == [2, 5] and batch.labels.tolist() == [4, 10]


def test_batch_constructor_keeps_preloaded_of_the_batch_length():
    """Data with one row per item is the batch's own, in order (batchflow would crop it by value)."""
    assert Batch(DatasetIndex([2, 0, 1]), preloaded=np.arange(3) * 10).data.tolist() == [0, 10, 20]
