"""One failure path: exact failed positions reach ParallelError and post; routing by ability."""

import asyncio
import time

import numpy as np
import pytest

from batchkit import Batch, Executor, ParallelError, Results, any_action_failed, parallel
from batchkit.executors import get_executor

pytestmark = pytest.mark.timeout(60)


def returns_an_exception(x):
    """An item whose *result* is an exception object: a value, not a failure."""
    return ValueError(f"a value, not a failure: {x}")


def keep(results, *args, **kwargs):
    return results


#: targets that run a plain function in a worker (on async it would run in the loop's thread)
PLAIN_TARGETS = ["for", "threads", "mpc"]


@pytest.mark.parametrize("target", PLAIN_TARGETS)
def test_a_returned_exception_is_not_a_failure(target):
    """An item that returns an exception object is not among the failed positions."""
    action = parallel(init=lambda: [1, 2], target=target)(returns_an_exception)
    results = action()  # no ParallelError: nothing failed
    assert all(isinstance(r, ValueError) for r in results)


@pytest.mark.parametrize("target", PLAIN_TARGETS)
def test_post_receives_the_exact_failed_positions(target):
    """post gets Results whose failed_positions are the items that raised, not those returning errors."""

    def mixed(x):
        if x == 1:
            raise KeyError(x)
        return ValueError(x)

    results = parallel(init=lambda: [0, 1, 2], post=keep, target=target)(mixed)()
    assert isinstance(results, Results) and results.failed_positions == [1]
    assert any_action_failed(results)


def test_any_action_failed_trusts_the_executor_over_the_values():
    """On Results, any_action_failed reads the reported failures, not the types of the values."""
    assert not any_action_failed(Results([ValueError("returned")]))
    assert any_action_failed(Results([1, KeyError(1)], failed_positions=[1]))


def test_results_is_a_plain_list_for_post():
    """Results compares, indexes and iterates like the list batchflow's post received."""
    results = Results([1, 2, 3])
    assert results == [1, 2, 3] and results[1:] == [2, 3] and list(results) == [1, 2, 3]


class Scores(Batch):
    components = ("values",)


def fail_slow_first(value):
    """Item 0 fails last (after a sleep), item 3 fails first: completion order differs from init order."""
    if value == 0:
        time.sleep(0.2)
        raise ValueError("zero")
    if value == 3:
        raise ValueError("three")
    return value


def test_apply_parallel_failures_come_sorted_and_exact():
    """apply_parallel shares the failure path: failed positions in init order, whatever finished first."""
    batch = Scores.from_data(data={"values": np.arange(6)})
    with pytest.raises(ParallelError) as info:
        batch.apply_parallel(fail_slow_first, src="values", dst="out", target="threads", n_workers=3)
    assert info.value.failed_positions == [0, 3]
    assert [str(e) for e in info.value.exceptions] == ["zero", "three"]


def test_apply_parallel_post_gets_results_with_positions():
    """An apply_parallel post receives Results with the failed positions."""
    seen = {}

    class WithPost(Scores):
        def _post(self, results, *args, **kwargs):
            seen["failed"] = results.failed_positions
            return self

    batch = WithPost.from_data(data={"values": np.arange(6)})
    batch.apply_parallel(fail_slow_first, src="values", dst="out", target="threads", post="_post")
    assert seen["failed"] == [0, 3]


# -- routing by declared ability --------------------------------------------------------------


class RecordingCoroutineExecutor(Executor):
    """A user's executor that runs coroutines (one at a time) and records that it was used."""

    name = "recording-async"
    runs_coroutines = True

    def __init__(self):
        self.used = 0

    def run(self, fn, calls, options):
        self.used += 1
        return get_executor("async").run(fn, calls, options)


async def async_double(x):
    await asyncio.sleep(0)
    return 2 * x


def test_an_executor_instance_that_runs_coroutines_is_honoured_for_async_methods():
    """An Executor instance given for an async def function runs it (not the built-in async)."""
    executor = RecordingCoroutineExecutor()
    assert parallel(init=lambda: [1, 2], target=executor)(async_double)() == [2, 4]
    assert executor.used == 1


class PlainExecutor(Executor):
    name = "plain"

    def run(self, fn, calls, options):
        return get_executor("for").run(fn, calls, options)


def test_an_executor_that_cannot_run_coroutines_is_refused_for_async_methods():
    """An executor that does not declare runs_coroutines is refused for an async def, naming why."""
    with pytest.raises(TypeError, match="needs a target that runs coroutines"):
        parallel(init=lambda: [1], target=PlainExecutor())(async_double)


def test_threads_is_refused_for_async_methods_at_call_time():
    """A call choosing target='threads' for an async def is refused before any item runs."""
    action = parallel(init=lambda: [1], target="async")(async_double)
    with pytest.raises(TypeError, match="needs a target that runs coroutines"):
        action(target="threads")
