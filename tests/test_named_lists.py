"""L: a component holding one object per item, worked on item by item (batchflow's L).

Expected values written from batchflow 0.10.1's behaviour on the same objects: ``L("objs").v``
is ``[0, 1, 2, 3]``, ``L("objs").twice()`` ``[0, 2, 4, 6]``, ``.twice(k=3)`` ``[0, 3, 6, 9]``,
and ``L([...]).v`` works on a plain list.
"""

from __future__ import annotations

import pickle

import cloudpickle
import numpy as np
import pytest

from batchkit import B, Batch, Dataset, L, V


class Obj:
    def __init__(self, v):
        self.v = v

    def twice(self, k=2):
        return self.v * k

    def pair(self):
        return (self.v, -self.v)


class Objects(Batch):
    components = ("objs",)


@pytest.fixture
def batch():
    made = Dataset(4, Objects).create_batch(np.arange(4))
    made.objs = np.array([Obj(i) for i in range(4)], dtype=object)
    return made


def test_an_attribute_is_read_from_each_object(batch):
    assert L("objs").v.get(batch) == [0, 1, 2, 3]


def test_a_call_is_made_on_each_object_with_the_same_arguments(batch):
    assert L("objs").twice().get(batch) == [0, 2, 4, 6]
    assert L("objs").twice(k=3).get(batch) == [0, 3, 6, 9]


def test_steps_chain_item_by_item(batch):
    assert L("objs").pair()[1].get(batch) == [0, -1, -2, -3]


def test_arguments_may_be_named_expressions(batch):
    assert L("objs").twice(k=B("objs").shape[0]).get(batch) == [0, 4, 8, 12]


def test_the_source_may_be_a_list_or_an_expression(batch):
    assert L([Obj(5), Obj(6)]).v.get() == [5, 6]
    assert L(B("objs")).v.get(batch) == [0, 1, 2, 3]


def test_l_alone_gives_the_objects_as_a_list(batch):
    objects = L("objs").get(batch)
    assert isinstance(objects, list) and [o.v for o in objects] == [0, 1, 2, 3]


def test_a_named_component_needs_a_batch():
    with pytest.raises(ValueError, match="needs a batch"):
        L("objs").v.get()


def test_private_names_do_not_build_expressions():
    with pytest.raises(AttributeError, match="private and dunder"):
        L("objs")._hidden  # noqa: B018 - the access itself is the test


def test_repr_shows_the_chain():
    assert repr(L("objs").twice(k=3)[0].v) == "L('objs').twice(k=3)[0].v"


def test_l_pickles_with_its_steps(batch):
    expr = L("objs").twice(k=3)
    for dumps in (pickle.dumps, cloudpickle.dumps):
        assert pickle.loads(dumps(expr)).get(batch) == [0, 3, 6, 9]


def test_l_in_a_pipeline_stores_the_per_item_values():
    def fill(batch):
        batch.objs = np.array([Obj(int(i)) for i in batch.indices], dtype=object)

    pipeline = (
        Dataset(6, Objects)
        .p.init_variable("v", [])
        .call(fill, B())
        .update(V("v", mode="e"), L("objs").twice())
    )
    pipeline.run(3, bar=False)
    assert pipeline.v("v") == [0, 2, 4, 6, 8, 10]
