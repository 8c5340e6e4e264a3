"""batchkit.map: a function over items on every target, in batches, with three ways to treat failures."""

import asyncio
import logging
import time
import tracemalloc
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import batchkit
from batchkit import ItemTimeout, ParallelError

TARGETS = ["for", "threads", "async", "mpc"]


def square(x, offset=0):
    return x * x + offset


def fail_on_multiples_of_3(x):
    if x % 3 == 0:
        raise ValueError(f"bad {x}")
    return -x


async def async_square(x):
    await asyncio.sleep(0)
    return x * x


def nap(x):
    time.sleep(x)
    return x


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", TARGETS)
def test_results_equal_a_list_comprehension_on_every_target(target):
    items = list(range(50))
    assert batchkit.map(square, items, target=target, offset=1) == [square(x, 1) for x in items]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", TARGETS)
def test_failures_are_collected_in_their_slots_on_every_target(target):
    results = batchkit.map(fail_on_multiples_of_3, range(7), target=target, on_error="collect")
    assert [type(r) for r in results] == [ValueError, int, int, ValueError, int, int, ValueError]
    assert results.failed_positions == [0, 3, 6]
    assert str(results[3]) == "bad 3"


@settings(max_examples=40, deadline=None)
@given(
    items=st.lists(st.integers(-50, 50), max_size=40),
    batch_size=st.one_of(st.none(), st.integers(1, 12)),
    target=st.sampled_from(["for", "threads"]),
)
@pytest.mark.timeout(120)
def test_batches_and_collected_failures_match_a_comprehension(items, batch_size, target):
    batches = []
    results = batchkit.map(
        fail_on_multiples_of_3, iter(items), target=target, batch_size=batch_size,
        on_error="collect", on_batch=batches.append,
    )  # fmt: skip
    expected = [-x if x % 3 else f"bad {x}" for x in items]
    assert [r if isinstance(r, int) else str(r) for r in results] == expected
    assert results.failed_positions == [i for i, x in enumerate(items) if x % 3 == 0]
    size = batch_size or max(1, len(items))
    assert [len(b) for b in batches] == [len(items[i : i + size]) for i in range(0, len(items), size)]
    assert [r for b in batches for r in b] == list(results)


@settings(max_examples=30, deadline=None)
@given(items=st.lists(st.integers(-50, 50), max_size=40), batch_size=st.one_of(st.none(), st.integers(1, 12)))
@pytest.mark.timeout(120)
def test_skip_leaves_out_exactly_the_failed_items(items, batch_size):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = batchkit.map(fail_on_multiples_of_3, items, batch_size=batch_size, on_error="skip")
    assert results == [-x for x in items if x % 3]


@pytest.mark.timeout(60)
def test_raise_stops_after_the_failing_batch_with_every_failure_of_it():
    seen = []
    with pytest.raises(ParallelError) as caught:
        batchkit.map(fail_on_multiples_of_3, range(1, 20), batch_size=4, on_batch=seen.append, target="for")
    assert seen == [[-1, -2]] or seen == []  # the first batch (1..4) holds 3: it raises at once
    assert [str(e) for e in caught.value.exceptions] == ["bad 3"]
    assert "item 2 of batchkit.map(fail_on_multiples_of_3)" in caught.value.exceptions[0].__notes__[0]


@pytest.mark.timeout(60)
def test_later_batches_do_not_run_after_a_raise():
    pulled = []

    def items():
        for x in range(1, 100):
            pulled.append(x)
            yield x

    with pytest.raises(ParallelError):
        batchkit.map(fail_on_multiples_of_3, items(), batch_size=5, target="for")
    assert pulled == [1, 2, 3, 4, 5]


@pytest.mark.timeout(60)
def test_skip_warns_once_with_the_count_and_logs_each_failure(caplog):
    with caplog.at_level(logging.WARNING, logger="batchkit"), pytest.warns(UserWarning) as warned:
        results = batchkit.map(fail_on_multiples_of_3, range(10), batch_size=3, on_error="skip")
    assert results == [-1, -2, -4, -5, -7, -8]
    assert len(warned) == 1 and "4 of 10 items failed" in str(warned[0].message)
    logged = [r.getMessage() for r in caplog.records if r.name == "batchkit"]
    expected = [f"item {i} failed: ValueError('bad {i}')" for i in (0, 3, 6, 9)]
    assert [m.split(": ", 1)[1] for m in logged] == expected


@pytest.mark.timeout(60)
def test_an_iterator_is_consumed_one_batch_at_a_time():
    pulled, seen = [], []

    def items():
        for x in range(10):
            pulled.append(x)
            yield x

    batchkit.map(square, items(), batch_size=4, on_batch=lambda r: seen.append(len(pulled)), target="for")
    assert seen == [4, 8, 10]


@pytest.mark.timeout(120)
def test_keep_false_keeps_memory_flat_over_100000_items():
    def run(keep):
        tracemalloc.start()
        try:
            result = batchkit.map(make_row, range(100_000), batch_size=1000, keep=keep, target="for")
            return tracemalloc.get_traced_memory()[1], result
        finally:
            tracemalloc.stop()

    flat_peak, nothing = run(keep=False)
    kept_peak, kept = run(keep=True)
    assert nothing is None and len(kept) == 100_000
    assert flat_peak < 2 * 2**20  # a batch of 1,000 rows of 100 bytes, and the machinery
    assert kept_peak > 10 * flat_peak


def make_row(i):
    return b"x" * 100 + str(i).encode()  # a new object per item


@pytest.mark.timeout(60)
def test_a_coroutine_function_runs_on_async_by_default_and_is_refused_on_threads():
    assert batchkit.map(async_square, range(5)) == [0, 1, 4, 9, 16]
    assert batchkit.map(async_square, range(5), target="for") == [0, 1, 4, 9, 16]
    with pytest.raises(TypeError, match="coroutine function"):
        batchkit.map(async_square, range(5), target="threads")


@pytest.mark.timeout(60)
def test_timeout_fails_the_slow_item_only():
    results = batchkit.map(nap, [0.0, 5.0, 0.0], timeout=0.3, on_error="collect", n_workers=3)
    assert results[0] == 0.0 and results[2] == 0.0 and isinstance(results[1], ItemTimeout)


@pytest.mark.timeout(60)
def test_progress_shows_one_bar_over_every_batch(capsys):
    batchkit.map(square, range(30), batch_size=7, progress=True, target="for")
    err = capsys.readouterr().err
    assert "30/30" in err and "map(square)" in err
    batchkit.map(square, range(30), batch_size=7, progress=False, target="for")
    assert capsys.readouterr().err == ""


def test_empty_items_give_an_empty_list():
    assert batchkit.map(square, []) == [] and batchkit.map(square, iter([]), batch_size=3) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"func": 3}, TypeError, "'func' must be callable"),
        ({"batch_size": 0}, ValueError, "'batch_size' must be a positive int"),
        ({"batch_size": 2.5}, TypeError, "'batch_size' must be a positive int"),
        ({"on_error": "ignore"}, ValueError, "'on_error' must be one of 'raise', 'skip', 'collect'"),
        ({"on_batch": 1}, TypeError, "'on_batch' must be callable"),
        ({"keep": None}, TypeError, "'keep' must be True or False"),
        ({"progress": "yes"}, TypeError, "'progress' must be True, False or None"),
        ({"target": "thread"}, Exception, "Did you mean 'threads'"),
    ],
)
def test_bad_arguments_are_refused_before_any_item_runs(kwargs, error, match):
    ran = []
    arguments = {"func": ran.append, **kwargs}
    with pytest.raises(error, match=match):
        batchkit.map(arguments.pop("func"), range(3), **arguments)
    assert ran == []
