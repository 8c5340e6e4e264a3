"""Indices against batchflow 0.10.1: the expected values were observed running batchflow as a black box."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from batchkit import Batch, Dataset, DatasetIndex, FilesIndex
from batchkit.index import calc_split
from batchkit.rng import make_rng

# -- index.index --------------------------------------------------------------------------------------


def test_index_attribute_is_the_values():
    """``index.index`` is the array of values, the same as ``indices``."""
    index = DatasetIndex([5, 3, 1, 8])
    assert index.index is index.indices
    assert index.index.tolist() == [5, 3, 1, 8]


def test_batch_of_an_index_has_index_values():
    """A batch of an index (an index itself) has ``.index``."""
    assert DatasetIndex(10).create_batch([3, 1]).index.tolist() == [3, 1]


def test_files_index_has_index_values(tmp_path):
    """A FilesIndex has ``.index`` (its keys)."""
    (tmp_path / "a.txt").write_text("a")
    assert FilesIndex(path=str(tmp_path / "*.txt")).index.tolist() == ["a.txt"]


def test_empty_files_index_has_empty_index(tmp_path):
    """An empty FilesIndex has an empty ``.index``."""
    with pytest.warns(UserWarning):
        assert FilesIndex(path=str(tmp_path / "*.none")).index.tolist() == []


# -- calc_split ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "shares", "expected"),
    [
        (10, 0.8, (8, 2, 0)),
        (10, 0.7, (7, 3, 0)),
        (10, [0.5, 0.3, 0.1], (5, 3, 2)),
        (10, [0.6, 0.25], (6, 2, 2)),
        (10, [0.5, 0.5], (5, 5, 0)),
        (10, [0.33, 0.33], (4, 3, 3)),
        (10, [0.8], (8, 2, 0)),
        (10, [0.25, 0.25, 0.25], (3, 2, 5)),
        (10, 1.0, (10, 0, 0)),
        (10, 0.0, (0, 10, 0)),
        (2, 0.5, (1, 1, 0)),
        (3, [0.5, 0.3, 0.2], (1, 1, 1)),
        (3, 0.5, (1, 2, 0)),
        (5, 0.5, (3, 2, 0)),
        (7, [0.5, 0.25], (3, 2, 2)),
        (11, [0.45, 0.45], (5, 5, 1)),
        (15, [0.5, 0.3], (8, 4, 3)),
        (13, [0.5, 0.25, 0.25], (7, 3, 3)),
        (2, 1.0, (2, 0, 0)),
        (10, 0.75, (8, 2, 0)),
        (10, 0.96, (9, 1, 0)),
        (4, 0.99, (3, 1, 0)),
        (10, [0.9, 0.04], (8, 1, 1)),
        (10, [0.98, 0.0], (8, 1, 1)),
        (10, [1.0, 0.0], (9, 1, 0)),
        (10, [0.5, 0.0, 0.5], (4, 1, 5)),
        (10, [0.0, 1.0], (0, 10, 0)),
        (10, [0.7, 0.3], (7, 3, 0)),
        (100, [0.999, 0.0], (98, 1, 1)),
        (3, [0.9, 0.05], (1, 1, 1)),
    ],
)
def test_calc_split_matches_batchflow(n, shares, expected):
    """``calc_split`` gives batchflow's counts (test and validation rounded, train the rest)."""
    assert DatasetIndex(n).calc_split(shares) == expected


@pytest.mark.parametrize(
    ("n", "shares", "batchflow", "expected"),
    [(3, [0.0, 0.5], (0, 2, 2), (0, 2, 1)), (5, [0.0, 0.0, 1.0], (0, 1, 5), (0, 1, 4))],
)
def test_calc_split_never_overshoots(n, shares, batchflow, expected):
    """Where batchflow's counts sum to more than the items (parts overlap), validation gives back."""
    assert sum(batchflow) > n
    assert DatasetIndex(n).calc_split(shares) == expected


def test_calc_split_counts_are_ints():
    """The counts are Python ints."""
    assert all(type(count) is int for count in DatasetIndex(10).calc_split(0.8))


@pytest.mark.parametrize(
    ("n", "shares", "match"),
    [
        (10, [0.5, 0.3, 0.1, 0.1], "1 to 3"),
        (10, [0.7, 0.5], "sum to at most 1"),
        (10, [0.5, 0.6], "sum to at most 1"),
        (1, 0.5, "into 2 subsets"),
        (2, [0.5, 0.3, 0.2], "into 3 subsets"),
        (2, [0.5, 0.5], "into 3 subsets"),
        (1, 1.0, "into 2 subsets"),
        (10, [-0.1, 0.5], r"\[0, 1\]"),
    ],
)
def test_calc_split_errors(n, shares, match):
    """More than three shares, shares over 1, too few items (as batchflow) and negatives raise ValueError."""
    with pytest.raises(ValueError, match=match):
        DatasetIndex(n).calc_split(shares)


shares_strategy = st.one_of(
    st.floats(0, 1),
    st.lists(st.floats(0, 1), min_size=1, max_size=3).filter(lambda s: len(s) == 1 or s[0] + s[1] <= 1),
)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(3, 500), shares=shares_strategy)
def test_calc_split_sums_to_len_for_any_shares(n, shares):
    """For any valid shares the counts are >= 0 and sum to the number of items."""
    counts = calc_split(n, shares)
    assert sum(counts) == n
    assert all(count >= 0 for count in counts)


# -- split ---------------------------------------------------------------------------------------------


def test_split_uses_calc_split_counts_and_batchflow_order():
    """``split([0.6, 0.25])`` on 10 items: validation [0, 1], test [2, 3], train the rest (batchflow)."""
    index = DatasetIndex(10)
    index.split([0.6, 0.25])
    assert index.validation.indices.tolist() == [0, 1]
    assert index.test.indices.tolist() == [2, 3]
    assert index.train.indices.tolist() == [4, 5, 6, 7, 8, 9]


def test_split_with_seed_matches_batchflow():
    """``split(0.8, shuffle=42)``: batchflow's parts, in its order."""
    index = DatasetIndex(10)
    index.split(0.8, shuffle=42)
    assert index.train.indices.tolist() == [1, 3, 6, 4, 5, 0, 7, 2]
    assert index.test.indices.tolist() == [8, 9]


def test_three_way_split_with_seed_matches_batchflow():
    """``split([0.6, 0.25], shuffle=7)``: batchflow's three parts."""
    index = DatasetIndex(10)
    index.split([0.6, 0.25], shuffle=7)
    assert index.train.indices.tolist() == [7, 2, 1, 0, 4, 3]
    assert index.test.indices.tolist() == [8, 9]
    assert index.validation.indices.tolist() == [5, 6]


def test_dataset_split_uses_the_same_counts():
    """``Dataset.split`` puts every item in one of its three parts."""
    ds = Dataset(10)
    ds.split([0.6, 0.25])
    assert (len(ds.train), len(ds.test), len(ds.validation)) == (6, 2, 2)
    assert sorted(np.concatenate([ds.train.indices, ds.test.indices, ds.validation.indices])) == list(
        range(10)
    )


# -- shuffle ---------------------------------------------------------------------------------------------


def test_shuffle_false_is_arange():
    """``shuffle(False)`` is ``arange(n)``."""
    assert DatasetIndex(5).shuffle(False).tolist() == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    "seed",
    [42, np.random.SeedSequence(42), np.random.Generator(np.random.SFC64(42))],
    ids=["int", "ss", "gen"],
)
def test_shuffle_seeded_matches_batchflow(seed):
    """A seed, a SeedSequence or a Generator gives batchflow's permutation."""
    assert DatasetIndex(10).shuffle(seed).tolist() == [8, 9, 1, 3, 6, 4, 5, 0, 7, 2]


def test_shuffle_random_state_matches_batchflow():
    """A RandomState permutes with its own stream, as in batchflow."""
    assert DatasetIndex(10).shuffle(np.random.RandomState(42)).tolist() == [8, 1, 5, 0, 7, 2, 9, 4, 3, 6]


@pytest.mark.parametrize("shuffle", [True, None])
def test_shuffle_true_and_none_are_random(shuffle):
    """``True`` and ``None`` give random permutations."""
    index = DatasetIndex(50)
    a, b = index.shuffle(shuffle), index.shuffle(shuffle)
    assert sorted(a.tolist()) == list(range(50))
    assert a.tolist() != b.tolist()


# -- gen_batch -----------------------------------------------------------------------------------------


def values(batches, n=None):
    return [b.indices.tolist() for b in (batches if n is None else itertools.islice(batches, n))]


def test_endless_gen_batch_matches_batchflow():
    """Without limits: batchflow's endless stream."""
    assert values(DatasetIndex(5).gen_batch(2), 6) == [[0, 1], [2, 3], [4, 0], [1, 2], [3, 4], [0, 1]]


def test_endless_gen_batch_drop_last_matches_batchflow():
    """Without limits, with drop_last: each epoch's full batches, forever."""
    assert values(DatasetIndex(5).gen_batch(2, drop_last=True), 6) == [[0, 1], [2, 3]] * 3


def test_seeded_first_epoch_matches_batchflow():
    """``shuffle=42``: the first epoch is batchflow's."""
    assert values(DatasetIndex(5).gen_batch(5, n_epochs=1, shuffle=42)) == [[4, 1, 0, 3, 2]]


def test_generator_shuffle_epochs_match_batchflow():
    """A Generator: every epoch matches batchflow (each epoch permutes the last one's order)."""
    rng = np.random.Generator(np.random.SFC64(42))
    assert values(DatasetIndex(10).gen_batch(10, n_epochs=2, shuffle=rng)) == [
        [8, 9, 1, 3, 6, 4, 5, 0, 7, 2],
        [9, 7, 8, 6, 1, 3, 4, 2, 5, 0],
    ]


def test_int_seed_epochs_do_not_cycle():
    """An int seed draws each epoch from one generator: unlike batchflow, epoch 3 is not the index order."""
    epochs = values(DatasetIndex(10).gen_batch(10, n_epochs=3, shuffle=42))
    assert epochs[1] == [9, 7, 8, 6, 1, 3, 4, 2, 5, 0]
    assert epochs[2] != list(range(10))


def test_gen_batch_leaves_next_batch_alone():
    """``gen_batch`` starts afresh and leaves the running ``next_batch`` stream where it was."""
    index = DatasetIndex(5)
    index.next_batch(2)
    index.next_batch(2)
    assert values(index.gen_batch(2, n_epochs=1)) == [[0, 1], [2, 3], [4]]
    assert index.next_batch(2).indices.tolist() == [4, 0]


# -- next_batch: one running stream -----------------------------------------------------------------


def stream(calls, n=5):
    index, out = DatasetIndex(n), []
    for kwargs in calls:
        try:
            out.append(index.next_batch(**kwargs).indices.tolist())
        except StopIteration:
            out.append("stop")
    return out


@pytest.mark.parametrize(
    ("calls", "expected"),
    [
        (
            [{"batch_size": 2}] * 4 + [{"batch_size": 3}] * 2,
            [[0, 1], [2, 3], [4, 0], [1, 2], [3, 4, 0], [1, 2, 3]],
        ),
        ([{"batch_size": 2, "n_epochs": 1}] * 4, [[0, 1], [2, 3], [4], "stop"]),
        (
            [{"batch_size": 2, "n_epochs": 1}] * 2 + [{"batch_size": 2, "n_epochs": 2}] * 4,
            [[0, 1], [2, 3], [4, 0], [1, 2], [3, 4], "stop"],
        ),
        ([{"batch_size": 2, "n_epochs": 1}] * 5, [[0, 1], [2, 3], [4], "stop", "stop"]),
        ([{"batch_size": 2, "n_iters": 2}] * 4, [[0, 1], [2, 3], "stop", "stop"]),
        (
            [{"batch_size": 2, "n_iters": 1}] * 2 + [{"batch_size": 2, "n_iters": 3}] * 3,
            [[0, 1], "stop", [2, 3], [4, 0], "stop"],
        ),
        (
            [{"batch_size": 2}] * 2 + [{"batch_size": 2, "n_iters": 3}] * 3,
            [[0, 1], [2, 3], [4, 0], "stop", "stop"],
        ),
        (
            [{"batch_size": 2}] * 2 + [{"batch_size": 2, "n_epochs": 1}] * 3,
            [[0, 1], [2, 3], [4], "stop", "stop"],
        ),
        (
            [{"batch_size": 2, "n_epochs": 1}] * 3 + [{"batch_size": 2}] * 2,
            [[0, 1], [2, 3], [4], "stop", "stop"],
        ),
        (
            [{"batch_size": 2, "n_epochs": 1, "drop_last": True}] * 3
            + [{"batch_size": 2, "n_epochs": 2, "drop_last": True}] * 3,
            [[0, 1], [2, 3], "stop", [0, 1], [2, 3], "stop"],
        ),
        ([{"batch_size": 3, "n_epochs": 2}] * 5, [[0, 1, 2], [3, 4, 0], [1, 2, 3], [4], "stop"]),
        ([{"batch_size": 2, "n_epochs": 2, "drop_last": True}] * 5, [[0, 1], [2, 3], [0, 1], [2, 3], "stop"]),
        (
            [{"batch_size": 2, "n_epochs": 1, "drop_last": True}] * 2
            + [{"batch_size": 2, "n_epochs": 1}] * 2,
            [[0, 1], [2, 3], [4], "stop"],
        ),
        (
            [{"batch_size": 2, "drop_last": True}] * 2 + [{"batch_size": 2}] * 3,
            [[0, 1], [2, 3], [4, 0], [1, 2], [3, 4]],
        ),
        ([{"batch_size": 3, "drop_last": True}] * 3, [[0, 1, 2]] * 3),
        ([{"batch_size": 2, "shuffle": 42}] * 2, [[4, 1], [0, 3]]),
        (
            [{"batch_size": 2, "shuffle": 42}] * 2 + [{"batch_size": 2, "shuffle": False}] * 3,
            [[4, 1], [0, 3], [2, 4], [1, 0], [3, 2]],
        ),
        (
            [{"batch_size": 2, "shuffle": False}] * 2 + [{"batch_size": 2, "shuffle": 42}] * 3,
            [[0, 1], [2, 3], [4, 4], [1, 0], [3, 2]],
        ),
    ],
)
def test_next_batch_stream_matches_batchflow(calls, expected):
    """Successive ``next_batch`` calls, each with its own arguments, give batchflow's batches."""
    assert stream(calls) == expected


def test_next_batch_stream_after_endless_overshoot_stops_cleanly():
    """An epoch limit already passed by the stream stops (batchflow fails here with a TypeError)."""
    assert stream([{"batch_size": 2}] * 3 + [{"batch_size": 2, "n_epochs": 1}]) == [
        [0, 1],
        [2, 3],
        [4, 0],
        "stop",
    ]


def test_next_batch_seeded_stream_crosses_into_a_new_epoch_order():
    """``shuffle=42``: the first epoch is batchflow's [4, 1, 0, 3, 2]; the batch crossing into epoch 2
    starts with its tail; epoch 2 is drawn from the same generator (batchflow re-applies epoch 1's)."""
    index = DatasetIndex(5)
    batches = [index.next_batch(2, shuffle=42).indices.tolist() for _ in range(5)]
    assert batches[:2] == [[4, 1], [0, 3]] and batches[2][0] == 2
    rng = make_rng(42)
    first = rng.permutation(5)
    second = first[rng.permutation(5)]
    assert [item for batch in batches for item in batch][5:10] == second.tolist()


def test_reset_iter_starts_the_stream_over():
    """``reset("iter")`` ends a stopped stream: the next call starts from the first item."""
    index = DatasetIndex(3)
    index.next_batch(2, n_epochs=1)
    index.next_batch(2, n_epochs=1)
    index.reset("iter")
    assert index.next_batch(2, n_epochs=1).indices.tolist() == [0, 1]


def test_dataset_next_batch_is_the_same_stream():
    """``Dataset.next_batch`` follows the same stream rules, and its batches hold their rows."""

    class Values(Batch):
        components = ("x",)

    ds = Dataset(5, Values, preloaded=np.arange(5) * 10)
    batches = [ds.next_batch(2) for _ in range(3)] + [ds.next_batch(3)]
    assert [b.indices.tolist() for b in batches] == [[0, 1], [2, 3], [4, 0], [1, 2, 3]]
    assert batches[2].x.tolist() == [40, 0]


def test_make_rng_seeded_sequence_is_sfc64():
    """``make_rng`` and ``DatasetIndex.shuffle`` draw the same way."""
    assert DatasetIndex(7).shuffle(3).tolist() == make_rng(3).permutation(7).tolist()


def test_pipeline_run_without_limits_stays_one_epoch():
    """A pipeline run without limits is one epoch, as in batchflow (the index's default is endless)."""
    batches = Dataset(5).p.gen_batch(2)
    assert [b.indices.tolist() for b in batches] == [[0, 1], [2, 3], [4]]


def test_one_explicit_none_limit_is_still_endless():
    """``gen_batch(2, n_epochs=None)`` never stops, as in batchflow."""
    assert values(DatasetIndex(3).gen_batch(2, n_epochs=None), 3) == [[0, 1], [2, 0], [1, 2]]
