"""``DatasetIndex`` and ``IterationPlan``: values, positions, splits, and the order of batches."""

import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchkit.index import DatasetIndex, IterationPlan
from batchkit.rng import make_rng


def values_of(batches):
    return [batch.indices.tolist() for batch in batches]


def plan_lists(*args, **kwargs):
    return [p.tolist() for p in IterationPlan(*args, **kwargs)]


# -- construction ----------------------------------------------------------------------------------


def test_int_gives_arange():
    """An int ``n`` gives the values ``0..n-1``."""
    assert DatasetIndex(5).indices.tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("source", [[3, 1, 2], (3, 1, 2), np.array([3, 1, 2])])
def test_sequence_or_array_gives_its_values(source):
    """A list, tuple or array gives its values in order."""
    assert DatasetIndex(source).indices.tolist() == [3, 1, 2]


def test_range_and_iterables_are_accepted():
    """A range or a generator gives its values."""
    assert DatasetIndex(range(2, 5)).indices.tolist() == [2, 3, 4]
    assert DatasetIndex(x * 2 for x in range(3)).indices.tolist() == [0, 2, 4]


def test_string_values():
    """String values are kept as strings."""
    assert DatasetIndex(["b", "a"]).indices.tolist() == ["b", "a"]


def test_index_gives_copy_of_its_values():
    """Another index gives an independent index with the same values."""
    first = DatasetIndex([5, 6])
    second = DatasetIndex(first)
    assert second.indices.tolist() == [5, 6]
    assert second.indices is not first.indices


def test_callable_is_called():
    """A callable is called and its result used."""
    assert DatasetIndex(lambda: [7, 8]).indices.tolist() == [7, 8]


def test_values_are_copied_from_the_source():
    """Changing the source array later does not change the index."""
    source = np.array([1, 2, 3])
    index = DatasetIndex(source)
    source[0] = 99
    assert index.indices.tolist() == [1, 2, 3]


def test_indices_are_read_only():
    """Writing into ``indices`` fails, so positions cannot go stale."""
    with pytest.raises(ValueError):
        DatasetIndex(3).indices[0] = 5


@pytest.mark.parametrize("empty", [0, [], np.array([]), lambda: []])
def test_empty_raises_value_error(empty):
    """An empty index raises ValueError."""
    with pytest.raises(ValueError, match="at least one item"):
        DatasetIndex(empty)


def test_two_dimensional_raises_type_error():
    """2-D values raise TypeError naming the shape."""
    with pytest.raises(TypeError, match=r"\(2, 2\)"):
        DatasetIndex(np.zeros((2, 2)))


@pytest.mark.parametrize("bad", [2.5, None, True])
def test_scalar_non_int_raises_type_error(bad):
    """A lone float, None or bool raises TypeError (batchflow would make a one-item index of it)."""
    with pytest.raises(TypeError, match="a string \\(one value\\)"):
        DatasetIndex(bad)


def test_a_string_is_one_index_value_as_in_batchflow():
    """``DatasetIndex("abc")`` holds the single value "abc" (batchflow: ``['abc']``), not 3 letters."""
    assert DatasetIndex("abc").indices.tolist() == ["abc"]
    assert DatasetIndex(b"ab").indices.tolist() == [b"ab"]


def test_duplicates_warn():
    """Duplicate values give a UserWarning."""
    with pytest.warns(UserWarning, match="duplicate"):
        DatasetIndex([1, 2, 1])


# -- values and positions ------------------------------------------------------------------------------


def test_len_size_and_iter():
    """``len``, ``size`` and iteration give the number of values and the values."""
    index = DatasetIndex([4, 5, 6])
    assert len(index) == index.size == 3
    assert [int(v) for v in index] == [4, 5, 6]


def test_contains():
    """``in`` tests membership by value; unhashable values are never in."""
    index = DatasetIndex(["a", "b"])
    assert "a" in index
    assert "z" not in index
    assert [1] not in index


def test_get_pos_of_value():
    """A value gives its position as an int."""
    assert DatasetIndex([10, 20, 30]).get_pos(20) == 1


def test_get_pos_of_numpy_scalar():
    """A numpy scalar value is found like the Python value."""
    index = DatasetIndex(np.arange(100, 110))
    assert index.get_pos(index.indices[4]) == 4


def test_get_pos_of_missing_value_raises_key_error():
    """A value not in the index raises KeyError naming it."""
    with pytest.raises(KeyError, match="42"):
        DatasetIndex(3).get_pos(42)


@pytest.mark.parametrize("values", [[30, 10], np.array([30, 10]), (30, 10)])
def test_get_pos_of_iterable(values):
    """An iterable of values gives an array of positions."""
    assert DatasetIndex([10, 20, 30]).get_pos(values).tolist() == [2, 0]


def test_get_pos_of_strings_iterable():
    """A list of string values gives their positions (a string itself is one value)."""
    index = DatasetIndex(["ab", "cd"])
    assert index.get_pos(["cd"]).tolist() == [1]
    assert index.get_pos("ab") == 0


def test_get_pos_of_slice_of_values():
    """A slice of values gives the slice of their positions, stop excluded."""
    index = DatasetIndex([10, 20, 30, 40])
    assert index.get_pos(slice(20, 40)) == slice(1, 3, None)
    assert index.get_pos(slice(None, 30, 2)) == slice(None, 2, 2)


def test_get_pos_with_duplicates_finds_first():
    """With repeated values, ``get_pos`` gives the first position."""
    with pytest.warns(UserWarning):
        index = DatasetIndex([7, 8, 7])
    assert index.get_pos(7) == 0


def test_subset_by_pos():
    """``subset_by_pos`` gives the values at the positions."""
    assert DatasetIndex([10, 20, 30]).subset_by_pos([2, 0]).tolist() == [30, 10]


def test_create_subset_keeps_class():
    """``create_subset`` gives an index of the same class with the given values."""

    class MyIndex(DatasetIndex):
        pass

    subset = MyIndex(10).create_subset([3, 4])
    assert type(subset) is MyIndex
    assert subset.indices.tolist() == [3, 4]


def test_create_batch_by_positions():
    """``create_batch`` takes positions by default."""
    batch = DatasetIndex([10, 20, 30]).create_batch([2, 0])
    assert isinstance(batch, DatasetIndex)
    assert batch.indices.tolist() == [30, 10]


def test_create_batch_by_slice_is_independent():
    """A slice of positions gives a batch with its own values array."""
    index = DatasetIndex([10, 20, 30])
    batch = index.create_batch(slice(1, None))
    assert batch.indices.tolist() == [20, 30]
    assert not np.shares_memory(batch.indices, index.indices)


def test_create_batch_by_values():
    """``pos=False`` takes values, which must be in the index."""
    index = DatasetIndex(["a", "b", "c"])
    assert index.create_batch(["c", "a"], pos=False).indices.tolist() == ["c", "a"]
    with pytest.raises(KeyError, match="'z'"):
        index.create_batch(["z"], pos=False)


def test_create_batch_as_array():
    """``as_array=True`` gives the values as an array."""
    values = DatasetIndex([10, 20, 30]).create_batch([1], as_array=True)
    assert isinstance(values, np.ndarray)
    assert values.tolist() == [20]


def test_create_batch_from_index():
    """A DatasetIndex given to ``create_batch`` gives its values."""
    assert DatasetIndex(5).create_batch(DatasetIndex([4, 1])).indices.tolist() == [4, 1]


# -- splits --------------------------------------------------------------------------------------------


def test_split_float_share():
    """A float share gives test first, then train (batchflow's order), and no validation part."""
    index = DatasetIndex(10)
    index.split(0.8)
    assert index.train.indices.tolist() == list(range(2, 10))
    assert index.test.indices.tolist() == [0, 1]
    assert index.validation is None


def test_split_default_is_point_eight():
    """``split()`` gives 80% train and 20% test."""
    index = DatasetIndex(5)
    index.split()
    assert (len(index.train), len(index.test)) == (4, 1)


def test_split_three_shares():
    """Three shares give train, test and validation parts."""
    index = DatasetIndex(10)
    index.split([0.5, 0.3, 0.2])
    assert [len(index.train), len(index.test), len(index.validation)] == [5, 3, 2]


def test_split_shares_under_one_give_the_rest_to_validation():
    """Two shares summing to less than 1 give the remaining items to validation (none left out)."""
    index = DatasetIndex(10)
    index.split([0.5, 0.2])
    assert (len(index.train), len(index.test), len(index.validation)) == (5, 2, 3)


def test_split_test_count_rounds_half_to_even():
    """The test count is rounded (2.5 -> 2): 0.5 of 5 items gives 3 train items."""
    index = DatasetIndex(5)
    index.split(0.5)
    assert (len(index.train), len(index.test)) == (3, 2)


def test_split_empty_part_is_none():
    """A part with no items is None."""
    index = DatasetIndex(4)
    index.split(1.0)
    assert len(index.train) == 4
    assert index.test is None


@pytest.mark.parametrize("shares", [[0.7, 0.5], [-0.1, 0.5], [0.2, 0.2, 0.2, 0.2], 1.5])
def test_split_bad_shares_raise(shares):
    """Shares summing over 1, negative, or of another count raise ValueError."""
    with pytest.raises(ValueError, match="shares"):
        DatasetIndex(10).split(shares)


def test_split_shuffled_partitions_and_reproduces():
    """A seeded shuffled split partitions the values, the same way for the same seed."""
    a, b = DatasetIndex(20), DatasetIndex(20)
    a.split(0.5, shuffle=3)
    b.split(0.5, shuffle=3)
    assert a.train.indices.tolist() == b.train.indices.tolist()
    assert sorted(a.train.indices.tolist() + a.test.indices.tolist()) == list(range(20))
    assert a.train.indices.tolist() != list(range(10))


def test_split_parts_keep_class():
    """Split parts are indices of the same class."""

    class MyIndex(DatasetIndex):
        pass

    index = MyIndex(5)
    index.split(0.6)
    assert type(index.train) is MyIndex


# -- other -------------------------------------------------------------------------------------------


def test_add_concatenates():
    """``index1 + index2`` concatenates the values."""
    assert (DatasetIndex([1, 2]) + DatasetIndex([5])).indices.tolist() == [1, 2, 5]


def test_add_warns_on_duplicates():
    """Adding indices that share values warns."""
    with pytest.warns(UserWarning, match="duplicate"):
        DatasetIndex([1, 2]) + DatasetIndex([2])


def test_add_non_index_raises_type_error():
    """Adding something that is not an index raises TypeError."""
    with pytest.raises(TypeError):
        DatasetIndex(3) + [4]  # noqa: RUF005 (the operator itself is under test)


def test_repr_shows_class_values_and_length():
    """The repr names the class, some values and the length."""
    text = repr(DatasetIndex(100))
    assert text.startswith("DatasetIndex([") and "len=100" in text and "..." in text


def test_pickle_round_trip():
    """An index pickles with its values and finds positions after unpickling."""
    index = DatasetIndex(["x", "y", "z"])
    index.get_pos("y")
    copy = pickle.loads(pickle.dumps(index))
    assert copy.indices.tolist() == ["x", "y", "z"]
    assert copy.get_pos("z") == 2
    assert not copy.indices.flags.writeable


def test_pickle_keeps_next_batch_state():
    """A pickled index goes on with its running ``next_batch`` iteration."""
    index = DatasetIndex(6)
    index.next_batch(2)
    copy = pickle.loads(pickle.dumps(index))
    assert copy.next_batch(2).indices.tolist() == [2, 3]


# -- iteration: fixed cases ----------------------------------------------------------------------------


def test_tail_is_topped_up_from_next_epoch():
    """With drop_last=False a short epoch tail is topped up from the next epoch; the last batch is short."""
    assert values_of(DatasetIndex(4).gen_batch(3, n_epochs=2)) == [[0, 1, 2], [3, 0, 1], [2, 3]]


def test_drop_last_drops_short_tails():
    """With drop_last=True each epoch's short tail is dropped."""
    batches = values_of(DatasetIndex(4).gen_batch(3, n_epochs=2, drop_last=True))
    assert batches == [[0, 1, 2], [0, 1, 2]]


def test_n_iters_cycles_through_epochs():
    """``n_iters`` gives that many batches, cycling over the epochs."""
    batches = values_of(DatasetIndex(4).gen_batch(3, n_iters=4))
    assert batches == [[0, 1, 2], [3, 0, 1], [2, 3, 0], [1, 2, 3]]


def test_n_iters_with_drop_last():
    """``n_iters`` with drop_last=True gives only full batches of each epoch."""
    assert values_of(DatasetIndex(4).gen_batch(3, n_iters=3, drop_last=True)) == [[0, 1, 2]] * 3


def test_neither_limit_never_stops():
    """Without n_iters and n_epochs, batches go on epoch after epoch (batchflow), with no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batches = DatasetIndex(5).gen_batch(2)
        assert [next(batches).indices.tolist() for _ in range(6)] == [
            [0, 1],
            [2, 3],
            [4, 0],
            [1, 2],
            [3, 4],
            [0, 1],
        ]


def test_explicit_none_limits_never_stop_as_in_batchflow():
    """``n_epochs=None, n_iters=None`` passed by name is endless, like leaving them out."""
    batches = DatasetIndex(3).gen_batch(2, n_epochs=None, n_iters=None)
    assert [next(batches).indices.tolist() for _ in range(3)] == [[0, 1], [2, 0], [1, 2]]


def test_exact_fit_has_no_short_batch():
    """When the batch size divides the items, every batch is full."""
    assert values_of(DatasetIndex(4).gen_batch(2, n_epochs=2)) == [[0, 1], [2, 3], [0, 1], [2, 3]]


def test_batches_are_indices_of_values():
    """Each batch is an index of the same class holding values, not positions."""

    class MyIndex(DatasetIndex):
        pass

    batches = list(MyIndex(["a", "b", "c"]).gen_batch(2, n_epochs=1))
    assert all(type(b) is MyIndex for b in batches)
    assert values_of(batches) == [["a", "b"], ["c"]]


def test_non_arange_values():
    """Index values 100..109 come out as values, in order."""
    batches = values_of(DatasetIndex(np.arange(100, 110)).gen_batch(4, n_epochs=1))
    assert batches == [[100, 101, 102, 103], [104, 105, 106, 107], [108, 109]]


def test_n_epochs_zero_gives_nothing():
    """``n_epochs=0`` gives no batches."""
    assert list(DatasetIndex(3).gen_batch(2, n_epochs=0)) == []


def test_batch_size_equal_to_length_is_allowed():
    """A batch as large as the index is one batch per epoch."""
    assert values_of(DatasetIndex(3).gen_batch(3, n_epochs=2)) == [[0, 1, 2], [0, 1, 2]]


# -- iteration: errors -----------------------------------------------------------------------------------


def test_batch_larger_than_index_raises():
    """A batch size larger than the index raises ValueError naming both sizes."""
    with pytest.raises(ValueError, match=r"batch_size 5 .*4 items"):
        next(DatasetIndex(4).gen_batch(5))


@pytest.mark.parametrize("size", [0, -2])
def test_batch_size_below_one_raises(size):
    """A batch size below 1 raises ValueError."""
    with pytest.raises(ValueError, match="batch_size"):
        next(DatasetIndex(4).gen_batch(size))


def test_batch_size_not_int_raises_type_error():
    """A float batch size raises TypeError."""
    with pytest.raises(TypeError, match="batch_size"):
        next(DatasetIndex(4).gen_batch(2.0))


def test_n_iters_and_n_epochs_together_raise():
    """``n_iters`` with ``n_epochs`` raises ValueError."""
    with pytest.raises(ValueError, match="not both"):
        next(DatasetIndex(4).gen_batch(2, n_iters=2, n_epochs=1))


@pytest.mark.parametrize("kwargs", [{"n_iters": -1}, {"n_epochs": -1}])
def test_negative_counts_raise(kwargs):
    """A negative n_iters or n_epochs raises ValueError."""
    with pytest.raises(ValueError, match=">= 0"):
        IterationPlan(4, 2, **kwargs)


@pytest.mark.parametrize("kwargs", [{"n_iters": 2.5}, {"n_epochs": "3"}])
def test_non_int_counts_raise_type_error(kwargs):
    """A non-int n_iters or n_epochs raises TypeError."""
    with pytest.raises(TypeError):
        IterationPlan(4, 2, **kwargs)


def test_errors_raise_when_gen_batch_starts():
    """``gen_batch`` is a generator: bad arguments raise on the first ``next``."""
    generator = DatasetIndex(2).gen_batch(3)
    with pytest.raises(ValueError):
        next(generator)


# -- iteration: shuffling ----------------------------------------------------------------------------------


def test_shuffle_false_keeps_order():
    """``shuffle=False`` keeps the index order in every epoch."""
    expected = [[0, 1, 2], [3, 4, 5]] * 2
    assert values_of(DatasetIndex(6).gen_batch(3, shuffle=False, n_epochs=2)) == expected


def test_shuffle_none_shuffles():
    """``shuffle=None`` draws random orders, as in batchflow."""
    batches = [values_of(DatasetIndex(50).gen_batch(50, shuffle=None, n_epochs=1))[0] for _ in range(2)]
    assert batches[0] != batches[1]
    assert sorted(batches[0]) == list(range(50))


def test_shuffle_seed_is_reproducible():
    """The same int seed gives the same whole sequence of batches."""
    index = DatasetIndex(20)
    first = values_of(index.gen_batch(3, shuffle=7, n_epochs=4))
    assert first == values_of(index.gen_batch(3, shuffle=7, n_epochs=4))
    assert first != values_of(index.gen_batch(3, shuffle=8, n_epochs=4))


def test_shuffle_reshuffles_each_epoch():
    """Each epoch has its own permutation, and each is a permutation of the items."""
    batches = values_of(DatasetIndex(20).gen_batch(20, shuffle=1, n_epochs=3))
    assert all(sorted(epoch) == list(range(20)) for epoch in batches)
    assert batches[0] != batches[1] != batches[2]
    assert batches[0] != list(range(20))


def test_shuffle_true_differs_run_to_run():
    """``shuffle=True`` draws fresh orders each run."""
    index = DatasetIndex(50)
    assert values_of(index.gen_batch(50, shuffle=True, n_epochs=1)) != values_of(
        index.gen_batch(50, shuffle=True, n_epochs=1)
    )


def test_shuffle_generator_is_drawn_from():
    """A Generator is used as is: equal seeds give equal runs, and it advances."""
    index = DatasetIndex(20)
    a = values_of(index.gen_batch(5, shuffle=np.random.default_rng(4), n_epochs=1))
    b = values_of(index.gen_batch(5, shuffle=np.random.default_rng(4), n_epochs=1))
    assert a == b
    shared = np.random.default_rng(4)
    assert values_of(index.gen_batch(5, shuffle=shared, n_epochs=1)) != values_of(
        index.gen_batch(5, shuffle=shared, n_epochs=1)
    )


@pytest.mark.parametrize(
    "make_seed", [lambda: np.random.RandomState(3), lambda: np.random.SeedSequence(3)], ids=["rs", "ss"]
)
def test_shuffle_random_state_and_seed_sequence(make_seed):
    """A RandomState or a SeedSequence shuffles, reproducibly for equal seeds."""
    index = DatasetIndex(20)
    a = values_of(index.gen_batch(20, shuffle=make_seed(), n_epochs=1))
    assert a == values_of(index.gen_batch(20, shuffle=make_seed(), n_epochs=1))
    assert sorted(a[0]) == list(range(20)) and a[0] != list(range(20))


def test_shuffled_tail_top_up_comes_from_next_epoch_order():
    """With shuffling, a batch crossing an epoch takes the rest of one order and the start of the next."""
    plan = IterationPlan(4, 3, shuffle=5, n_epochs=2)
    stream = np.concatenate(list(plan)).tolist()
    assert sorted(stream[:4]) == [0, 1, 2, 3] and sorted(stream[4:]) == [0, 1, 2, 3]


def test_plan_reset_replays_seeded_sequence():
    """``IterationPlan.reset`` with an int seed replays the same batches."""
    plan = IterationPlan(10, 3, shuffle=2, n_epochs=3)
    first = [p.tolist() for p in plan]
    plan.reset()
    assert [p.tolist() for p in plan] == first


# -- IterationPlan counters ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "n_batches"),
    [
        ({"n_epochs": 2}, 3),
        ({"n_epochs": 2, "drop_last": True}, 2),
        ({"n_iters": 7}, 7),
        ({}, 2),
        ({"n_epochs": math.inf}, None),
        ({"n_iters": math.inf}, None),
    ],
)
def test_plan_n_batches(kwargs, n_batches):
    """``n_batches`` is the total number of batches, None when endless."""
    assert IterationPlan(4, 3, **kwargs).n_batches == n_batches


def test_plan_counts_iterations_and_epochs():
    """``iteration`` counts batches given, ``epoch`` the epochs fully given."""
    plan = IterationPlan(4, 3, n_epochs=2)
    assert (plan.iteration, plan.epoch) == (0, 0)
    next(plan)
    assert (plan.iteration, plan.epoch) == (1, 0)
    next(plan)
    assert (plan.iteration, plan.epoch) == (2, 1)
    next(plan)
    assert (plan.iteration, plan.epoch) == (3, 2)


def test_plan_epoch_with_drop_last():
    """With drop_last, an epoch is complete once its full batches are given."""
    plan = IterationPlan(5, 2, n_epochs=2, drop_last=True)
    counts = []
    for _ in plan:
        counts.append(plan.epoch)
    assert counts == [0, 1, 1, 2]


def test_plan_endless_goes_on():
    """``n_epochs=math.inf`` gives batches without end."""
    plan = IterationPlan(3, 2, n_epochs=math.inf)
    batches = [next(plan).tolist() for _ in range(30)]
    assert batches[-1] and plan.iteration == 30


def test_plan_yields_position_arrays():
    """A plan yields integer arrays of positions."""
    positions = next(IterationPlan(5, 2))
    assert positions.dtype.kind == "i"


# -- next_batch -------------------------------------------------------------------------------------------


def test_next_batch_keeps_state():
    """Successive ``next_batch`` calls go on from where the last one stopped, into the next epoch."""
    index = DatasetIndex(5)
    assert [index.next_batch(2).indices.tolist() for _ in range(3)] == [[0, 1], [2, 3], [4, 0]]


def test_next_batch_raises_stop_iteration_when_done():
    """``next_batch`` raises StopIteration once its epochs are done, and again after."""
    index = DatasetIndex(3)
    index.next_batch(2, n_epochs=1)
    index.next_batch(2, n_epochs=1)
    with pytest.raises(StopIteration):
        index.next_batch(2, n_epochs=1)
    with pytest.raises(StopIteration):
        index.next_batch(2, n_epochs=1)


def test_next_batch_follows_epochs_and_drop_last():
    """``next_batch`` follows the same order as ``gen_batch`` for the same arguments."""
    index = DatasetIndex(4)
    batches = [index.next_batch(3, n_epochs=2).indices.tolist() for _ in range(3)]
    assert batches == values_of(DatasetIndex(4).gen_batch(3, n_epochs=2))


def test_next_batch_takes_each_calls_batch_size_from_the_stream():
    """A call with another batch size takes it from the running stream (no restart)."""
    index = DatasetIndex(10)
    index.next_batch(2)
    assert index.next_batch(5).indices.tolist() == [2, 3, 4, 5, 6]
    assert index.next_batch(5).indices.tolist() == [7, 8, 9, 0, 1]


def test_next_batch_limits_count_the_whole_stream():
    """``n_epochs`` counts the stream's epochs: after one epoch, n_epochs=2 allows one more."""
    index = DatasetIndex(2)
    index.next_batch(2, n_epochs=1)
    with pytest.raises(StopIteration):
        index.next_batch(2, n_epochs=1)
    assert index.next_batch(2, n_epochs=2).indices.tolist() == [0, 1]
    with pytest.raises(StopIteration):
        index.next_batch(2, n_epochs=2)


def test_next_batch_new_shuffle_applies_from_the_next_epoch():
    """``shuffle=1`` after ``shuffle=True`` permutes the last epoch's order with a generator seeded 1."""
    index = DatasetIndex(6)
    first = index.next_batch(6, shuffle=True).indices
    second = index.next_batch(6, shuffle=1).indices
    assert second.tolist() == first[make_rng(1).permutation(6)].tolist()


def test_next_batch_same_generator_continues():
    """Passing the same Generator object again continues the running iteration."""
    rng = np.random.default_rng(0)
    index = DatasetIndex(6)
    batches = [index.next_batch(3, shuffle=rng).indices.tolist() for _ in range(2)]
    assert sorted(batches[0] + batches[1]) == list(range(6))


def test_reset_restarts_next_batch():
    """``reset()`` starts the iteration over."""
    index = DatasetIndex(4)
    index.next_batch(2)
    index.reset()
    assert index.next_batch(2).indices.tolist() == [0, 1]


def test_reset_rejects_unknown_target():
    """``reset`` with something other than 'iter' or 'all' raises ValueError."""
    with pytest.raises(ValueError, match="'variables'"):
        DatasetIndex(4).reset("variables")


def test_gen_batch_is_independent_of_next_batch():
    """``gen_batch`` starts afresh and leaves the ``next_batch`` state alone."""
    index = DatasetIndex(4)
    index.next_batch(2)
    assert values_of(index.gen_batch(2, n_epochs=1)) == [[0, 1], [2, 3]]
    assert index.next_batch(2).indices.tolist() == [2, 3]


# -- iteration: properties -----------------------------------------------------------------------------


sizes = st.integers(min_value=1, max_value=30).flatmap(
    lambda n: st.tuples(st.just(n), st.integers(min_value=1, max_value=n))
)
seeds = st.one_of(st.just(False), st.integers(min_value=0, max_value=2**32))


@settings(max_examples=150, deadline=None)
@given(sizes=sizes, n_epochs=st.integers(min_value=1, max_value=4), shuffle=seeds)
def test_stream_covers_each_epoch_once(sizes, n_epochs, shuffle):
    """Without drop_last, each epoch's stream stretch is a permutation; only the last batch is short."""
    n, batch_size = sizes
    plan = IterationPlan(n, batch_size, shuffle=shuffle, n_epochs=n_epochs)
    batches = list(plan)
    assert len(batches) == plan.n_batches
    assert all(len(b) == batch_size for b in batches[:-1])
    assert 1 <= len(batches[-1]) <= batch_size
    stream = np.concatenate(batches)
    assert len(stream) == n * n_epochs
    for epoch in range(n_epochs):
        assert sorted(stream[epoch * n : (epoch + 1) * n].tolist()) == list(range(n))


@settings(max_examples=150, deadline=None)
@given(sizes=sizes, n_epochs=st.integers(min_value=1, max_value=4), shuffle=seeds)
def test_drop_last_batches_are_full_and_disjoint_per_epoch(sizes, n_epochs, shuffle):
    """With drop_last, every batch is full and an epoch's batches never repeat an item."""
    n, batch_size = sizes
    plan = IterationPlan(n, batch_size, shuffle=shuffle, n_epochs=n_epochs, drop_last=True)
    batches = [b.tolist() for b in plan]
    per_epoch = n // batch_size
    assert len(batches) == plan.n_batches == n_epochs * per_epoch
    assert all(len(b) == batch_size for b in batches)
    for epoch in range(n_epochs):
        items = [item for batch in batches[epoch * per_epoch : (epoch + 1) * per_epoch] for item in batch]
        assert len(set(items)) == len(items)


@settings(max_examples=100, deadline=None)
@given(sizes=sizes, n_iters=st.integers(min_value=0, max_value=40), drop_last=st.booleans(), shuffle=seeds)
def test_n_iters_gives_exactly_n_full_batches(sizes, n_iters, drop_last, shuffle):
    """With n_iters, there are exactly n_iters batches and all are full."""
    n, batch_size = sizes
    batches = list(IterationPlan(n, batch_size, shuffle=shuffle, n_iters=n_iters, drop_last=drop_last))
    assert len(batches) == n_iters
    assert all(len(b) == batch_size for b in batches)


@settings(max_examples=60, deadline=None)
@given(sizes=sizes, n_epochs=st.integers(min_value=1, max_value=3), seed=st.integers(0, 2**32))
def test_seeded_sequences_repeat(sizes, n_epochs, seed):
    """The same seed always gives the same sequence of batches."""
    n, batch_size = sizes
    assert plan_lists(n, batch_size, shuffle=seed, n_epochs=n_epochs) == plan_lists(
        n, batch_size, shuffle=seed, n_epochs=n_epochs
    )


@settings(max_examples=100, deadline=None)
@given(n=st.integers(1, 12), sizes=st.lists(st.integers(1, 12), min_size=1, max_size=15), seed=seeds)
def test_next_batch_calls_of_any_sizes_read_one_stream(n, sizes, seed):
    """``next_batch`` calls of varying sizes, without limits, read the same items as one plan's stream."""
    sizes = [min(size, n) for size in sizes]
    index = DatasetIndex(n)
    taken = np.concatenate([index.next_batch(size, shuffle=seed).indices for size in sizes])
    plan = IterationPlan(n, 1, shuffle=seed, n_iters=len(taken))
    assert taken.tolist() == np.concatenate(list(plan)).tolist()
