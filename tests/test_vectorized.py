"""Vectorized chunks: several items per call, stacked, with failures still found item by item."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import batchkit
from batchkit import Batch, P, ParallelError, inbatch_parallel, parallel
from batchkit._vectorized import stack

TARGETS = ["for", "threads", "mpc"]


def double_all(values):
    return np.asarray(values) * 2


def fail_on_sevens(values):
    values = np.asarray(values)
    if (values % 7 == 0).any():
        raise ValueError(f"a multiple of 7 among {values.tolist()}")
    return values * 2


def row_sums(stacked):
    return stacked.sum(axis=1)


def wrong_length(values):
    return list(values)[:-1]  # one result short


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", TARGETS)
def test_results_equal_the_per_item_results_on_every_target(target):
    items = list(range(23))
    results = batchkit.map(double_all, items, vectorized=5, target=target)
    assert [int(r) for r in results] == [2 * x for x in items]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", TARGETS)
def test_failing_items_are_found_one_by_one_on_every_target(target):
    results = batchkit.map(fail_on_sevens, range(1, 22), vectorized=4, target=target, on_error="collect")
    assert results.failed_positions == [6, 13, 20]  # items 7, 14 and 21
    assert [str(results[i]) for i in results.failed_positions] == [
        "a multiple of 7 among [7]", "a multiple of 7 among [14]", "a multiple of 7 among [21]"
    ]  # fmt: skip
    assert [int(results[i]) for i in range(21) if i not in (6, 13, 20)] == [
        2 * x for x in range(1, 22) if x % 7
    ]


def test_only_the_failed_chunks_run_again():
    seen = []

    def record(values):
        seen.append(list(values))
        return fail_on_sevens(values)

    batchkit.map(record, range(1, 13), vectorized=4, target="for", on_error="collect")
    assert seen == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12], [5], [6], [7], [8]]


def test_items_of_one_shape_and_dtype_are_stacked_into_one_array():
    seen = []

    def record(stacked):
        seen.append((type(stacked), getattr(stacked, "shape", None)))
        return row_sums(stacked)

    images = [np.full(3, float(i)) for i in range(5)]
    assert [float(r) for r in batchkit.map(record, images, vectorized=2, target="for")] == [0, 3, 6, 9, 12]
    assert seen == [(np.ndarray, (2, 3)), (np.ndarray, (2, 3)), (np.ndarray, (1, 3))]


def test_stack_rules():
    assert isinstance(stack([np.zeros(2), np.zeros(3)]), list)
    assert isinstance(stack([np.zeros(2, "f4"), np.zeros(2, "f8")]), list)
    assert stack([1, 2]).dtype.kind == "i" and isinstance(stack([1, 2.0]), list)
    assert isinstance(stack([True, False]), list) and isinstance(stack([{"a": 1}]), list)


@pytest.mark.timeout(60)
def test_a_wrong_number_of_results_fails_every_item_with_a_clear_error():
    results = batchkit.map(wrong_length, range(4), vectorized=2, target="for", on_error="collect")
    assert results.failed_positions == [0, 1, 2, 3]  # alone too, each gets no result back
    assert "given 1 items it must return one result per item" in str(results[1])
    assert "not list of length 0" in str(results[1])
    with pytest.raises(ParallelError, match="4 of 4 items failed"):
        batchkit.map(wrong_length, range(4), vectorized=2, target="for")


def one_sum(stacked):
    return float(stacked.sum())  # one number for the whole stack: not one per item


def test_a_result_that_is_not_a_sequence_is_refused_naming_the_function():
    results = batchkit.map(one_sum, [np.ones(2)] * 3, vectorized=3, target="for", on_error="collect")
    assert results.failed_positions == [0, 1, 2]
    assert "one_sum is vectorized: given 1 items it must return one result per item" in str(results[0])


class Matrices(Batch):
    components = ("matrices", "scales")

    @inbatch_parallel(init="matrices", post="_keep", target="threads", vectorized=3)
    def inverse(self, stacked, factor):
        assert stacked.ndim == 3 and np.ndim(factor) == 0  # the action's argument, passed once
        if (stacked[:, 0, 0] == 4).any():
            raise ValueError("singular-ish")
        return np.linalg.inv(stacked) * factor

    @inbatch_parallel(init="matrices", post="_keep", target="for", vectorized=4)
    def scaled(self, stacked, factor):
        return stacked[:, 0, 0] * factor  # factor: P gives one value per item, stacked too

    def _keep(self, results, *args, **kwargs):
        return results


def _matrices(n):
    return Matrices.from_data(data={"matrices": np.stack([np.eye(2) * (i + 1) for i in range(n)]),
                                    "scales": np.arange(n)})  # fmt: skip


@pytest.mark.timeout(60)
def test_inbatch_parallel_stacks_a_component_and_post_gets_failures_per_item():
    results = _matrices(7).inverse(2.0)
    assert results.failed_positions == [3]
    expected = [2 / (i + 1) for i in range(7) if i != 3]
    assert [float(r[0, 0]) for i, r in enumerate(results) if i != 3] == expected


def test_per_item_values_are_stacked_with_the_entries():
    batch = _matrices(6)
    results = batch.scaled(P(np.arange(6) * 10))
    assert [float(r) for r in results] == [(i + 1) * i * 10 for i in range(6)]


def test_entries_giving_several_arguments_are_stacked_position_by_position():
    @parallel(init=lambda: [(i, -i) for i in range(5)], target="for", vectorized=2)
    def add(a, b):
        return np.asarray(a) * 10 + np.asarray(b)

    assert [int(r) for r in add()] == [9 * i for i in range(5)]


def test_entries_with_different_arguments_are_refused():
    @parallel(init=lambda: [(1, 2), (3,)], target="for", vectorized=2)
    def add(*args):
        return args

    with pytest.raises(ValueError, match="need every entry to give the same arguments"):
        add()


@pytest.mark.parametrize("value", [0, -1, 2.5, "4"])
def test_bad_vectorized_values_are_refused(value):
    with pytest.raises(TypeError, match="'vectorized' must be a positive int"):
        parallel(init=lambda: [1], vectorized=value)(double_all)
    with pytest.raises(TypeError, match="'vectorized' must be a positive int"):
        batchkit.map(double_all, [1], vectorized=value)


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(0, 60), max_size=40),
    size=st.integers(1, 9),
    target=st.sampled_from(["for", "threads"]),
)
@pytest.mark.timeout(120)
def test_vectorized_equals_item_by_item(items, size, target):
    vector = batchkit.map(fail_on_sevens, items, vectorized=size, target=target, on_error="collect")
    single = batchkit.map(lambda x: fail_on_sevens([x])[0], items, target="for", on_error="collect")
    assert vector.failed_positions == single.failed_positions
    assert [int(v) for i, v in enumerate(vector) if i not in vector.failed_positions] == [
        int(v) for i, v in enumerate(single) if i not in single.failed_positions
    ]
