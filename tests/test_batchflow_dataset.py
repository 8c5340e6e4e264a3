"""Datasets against batchflow 0.10.1: expected values observed running batchflow as a black box."""

import numpy as np
import pytest

from batchkit import Dataset, DatasetIndex
from batchkit.index import ValuesNotFoundError

# -- build_index -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [(3, [0, 1, 2]), ([4, 5], [4, 5]), (lambda: [7, 8], [7, 8])],
    ids=["int", "seq", "call"],
)
def test_build_index_from_int_sequence_or_callable(source, expected):
    """``Dataset.build_index`` makes a DatasetIndex from an int, a sequence or a callable."""
    index = Dataset.build_index(source)
    assert isinstance(index, DatasetIndex)
    assert index.indices.tolist() == expected


def test_build_index_returns_an_index_as_is():
    """An index is returned as is."""
    index = DatasetIndex(4)
    assert Dataset.build_index(index) is index


# -- cv_split ----------------------------------------------------------------------------------------


def test_cv_split_folds_match_batchflow():
    """Unshuffled folds of 10 items in 3: batchflow's tests and trains."""
    ds = Dataset(10)
    ds.cv_split(n_splits=3)
    assert ds.cv0.test.indices.tolist() == [0, 1, 2, 3]
    assert ds.cv0.train.indices.tolist() == [4, 5, 6, 7, 8, 9]
    assert ds.cv1.test.indices.tolist() == [4, 5, 6]
    assert ds.cv2.test.indices.tolist() == [7, 8, 9]


def test_cv_split_shuffled_folds_match_batchflow():
    """``shuffle=42``: batchflow's folds, in its order."""
    ds = Dataset(10)
    ds.cv_split(n_splits=3, shuffle=42)
    assert [ds.cv(i).test.indices.tolist() for i in range(3)] == [[8, 9, 1, 3], [6, 4, 5], [0, 7, 2]]
    assert ds.cv0.train.indices.tolist() == [6, 4, 5, 0, 7, 2]


def test_cv_split_fold_holds_every_item_in_index_order():
    """A fold ``cvN`` holds all items in the index's order, even when shuffled (batchflow)."""
    ds = Dataset(10)
    ds.cv_split(n_splits=3, shuffle=42)
    assert ds.cv0.indices.tolist() == list(range(10))


def test_cv_split_uneven_folds_match_batchflow():
    """11 items in 4 folds: 3, 3, 3, 2."""
    ds = Dataset(11)
    ds.cv_split(n_splits=4)
    assert [ds.cv(i).test.indices.tolist() for i in range(4)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]


def test_cv_split_sets_train_and_test_of_all_items():
    """``dataset.train`` and ``dataset.test`` become datasets of all the items (not the dataset itself)."""
    ds = Dataset(10)
    ds.cv_split(n_splits=3)
    assert ds.train is not ds
    assert ds.train.indices.tolist() == ds.test.indices.tolist() == list(range(10))


def test_cv_split_train_and_test_cv_are_the_folds_parts():
    """``train.cvN`` and ``test.cvN`` are the same objects as ``cvN.train`` and ``cvN.test``."""
    ds = Dataset(10)
    ds.cv_split(n_splits=3)
    assert all(getattr(ds.train, f"cv{i}") is ds.cv(i).train for i in range(3))
    assert all(getattr(ds.test, f"cv{i}") is ds.cv(i).test for i in range(3))


def test_cv_split_resplit_removes_stale_folds():
    """A re-split with fewer folds removes ``cv2`` from the dataset and from its train and test."""
    ds = Dataset(10)
    ds.cv_split(n_splits=3)
    ds.cv_split(n_splits=2)
    assert not hasattr(ds, "cv2")
    assert not hasattr(ds.train, "cv2") and not hasattr(ds.test, "cv2")
    assert ds.cv1.test.indices.tolist() == [5, 6, 7, 8, 9]
    assert ds.n_splits == 2


def test_cv_returns_the_fold():
    """``dataset.cv(n)`` is ``dataset.cvN``."""
    ds = Dataset(6)
    ds.cv_split(n_splits=2)
    assert ds.cv(1) is ds.cv1


def test_cv_of_a_missing_fold_raises():
    """``cv(n)`` for a fold that does not exist raises AttributeError naming the range."""
    ds = Dataset(6)
    ds.cv_split(n_splits=2)
    with pytest.raises(AttributeError, match=r"0 to 1 \(got 5\)"):
        ds.cv(5)


def test_cv_split_unknown_method_raises():
    """An unknown method raises ValueError (as batchflow)."""
    with pytest.raises(ValueError, match="kfold"):
        Dataset(6).cv_split(method="loo")


# -- create_subset -------------------------------------------------------------------------------------


def test_create_subset_missing_values_raise_index_error():
    """Values not in the dataset raise IndexError (batchflow's) naming them."""
    with pytest.raises(IndexError, match=r"\[100\]"):
        Dataset(10).create_subset([100, 1])


def test_create_subset_error_is_a_key_error_too():
    """The error class subclasses both IndexError and KeyError."""
    assert issubclass(ValuesNotFoundError, IndexError) and issubclass(ValuesNotFoundError, KeyError)
    with pytest.raises(KeyError):
        Dataset(10).create_subset(np.array([100]))


def test_create_subset_keeps_the_given_order():
    """A subset keeps the order of the values given (batchflow)."""
    assert Dataset(10).create_subset([3, 1]).indices.tolist() == [3, 1]
