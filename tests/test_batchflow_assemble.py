"""batchflow's default post (``post="_assemble"``) and ``Batch.get``, as batchflow 0.10.1 does them.

Expected values come from running the same actions on batchflow: on the first three of ten 2x2
images numbered 0..39, doubling with ``dst`` given to the decorator sums to 132, tripling with
``dst`` given to the call to 198; a new ``dst`` becomes a component; a tuple ``dst`` takes each
result apart; ragged results make an object array.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from batchkit import Batch, Dataset, ParallelError, action
from batchkit.decorators import inbatch_parallel

IMAGES = np.arange(40, dtype=float).reshape(10, 2, 2)


class Images(Batch):
    components = ("images", "labels")

    @action
    @inbatch_parallel(init="indices", post="_assemble", dst="images")
    def doubled(self, ix):
        return self.get(ix, "images") * 2

    @action
    @inbatch_parallel(init="indices", post="_assemble")
    def scaled(self, ix, factor, dst=None):
        return self.get(ix, "images") * factor

    @action
    @inbatch_parallel(init="indices", post="_assemble")
    def pair(self, ix, dst=None):
        return self.get(ix, "images") + 1, self.get(ix, "labels") * 10

    @action
    @inbatch_parallel(init="indices", post="_assemble")
    def ragged(self, ix, dst=None):
        return np.zeros(int(ix) + 1)

    @action
    @inbatch_parallel(init="indices", post="_assemble")
    def fails_on_odd(self, ix, dst=None):
        if ix % 2:
            raise ValueError(f"odd {ix}")
        return self.get(ix, "images")


def first_three():
    return Dataset(10, Images, preloaded=(IMAGES, np.arange(10))).create_batch(np.arange(3))


def test_dst_given_to_the_decorator_receives_the_results():
    assert first_three().doubled().images.sum() == 132.0


def test_dst_given_to_the_call_receives_the_results():
    assert first_three().scaled(3.0, dst="images").images.sum() == 198.0


def test_a_new_dst_becomes_a_component():
    batch = first_three().scaled(3.0, dst="brighter")
    assert batch.brighter.shape == (3, 2, 2) and batch.images.sum() == 66.0


def test_a_tuple_dst_takes_each_result_apart():
    batch = first_three().pair(dst=("images", "labels"))
    assert batch.images.sum() == 78.0 and batch.labels.tolist() == [0, 10, 20]


def test_ragged_results_make_an_object_array():
    batch = first_three().ragged(dst="r")
    assert batch.r.dtype == object and [x.shape for x in batch.r] == [(1,), (2,), (3,)]


def test_failed_items_raise_a_parallel_error_naming_them():
    with pytest.raises(ParallelError, match="1 of 3 items failed") as caught:
        first_three().fails_on_odd(dst="images")
    assert caught.value.failed_positions == [1] and "odd 1" in str(caught.value.exceptions[0])


def test_a_pipeline_can_drop_the_items_that_failed_in_assemble():
    pipeline = Dataset(10, Images, preloaded=(IMAGES, np.arange(10))).p.fails_on_odd(dst="images")
    kept = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.run(5, bar=False, on_error="skip_items", on_batch=lambda b: kept.extend(b.indices))
    assert kept == [0, 2, 4, 6, 8]


def test_without_dst_the_error_says_where_to_give_it():
    with pytest.raises(TypeError, match=r"needs dst="):
        first_three().scaled(2.0)


def test_get_reads_an_item_a_component_or_an_element():
    batch = first_three()
    assert batch.get(2, "images").tolist() == [[8.0, 9.0], [10.0, 11.0]]
    assert batch.get(None, "labels").tolist() == [0, 1, 2]
    assert batch.get(1).labels == 1 and batch.get() is batch.data


def test_get_of_a_value_not_in_the_batch_raises_key_error():
    with pytest.raises(KeyError, match="999"):
        first_three().get(999, "images")


def test_get_of_an_unknown_component_raises_attribute_error():
    with pytest.raises(AttributeError, match="nope"):
        first_three().get(1, "nope")
