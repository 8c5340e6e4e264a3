"""Failures: ParallelError, its notes and results, remote tracebacks, pickling failures, propagation."""

import threading

import helpers
import numpy as np
import pytest

from batchkit import (
    Batch,
    BatchkitError,
    ParallelError,
    RemoteTraceback,
    WorkerError,
    inbatch_parallel,
    parallel,
)


def odd_failures(target):
    """Run Values.check_even over index values 10..13 on ``target``: 11 and 13 fail."""
    batch = helpers.make_values(4, index=np.array([10, 11, 12, 13]))
    with pytest.raises(ParallelError) as info:
        batch.check_even(target=target)
    return info.value


def with_post(fn, entries, target):
    """Fan ``fn`` out over ``entries`` with a post that returns the results list."""
    return parallel(init=lambda: entries, post=lambda results: results, target=target)(fn)()


# -- ParallelError ---------------------------------------------------------------------------


def test_parallel_error_is_an_exception_group():
    """ParallelError is an ExceptionGroup."""
    assert isinstance(odd_failures("for"), ExceptionGroup)


def test_parallel_error_is_a_batchkit_error():
    """ParallelError is a BatchkitError."""
    assert isinstance(odd_failures("for"), BatchkitError)


def test_except_star_catches_failed_items(target):
    """``except* ValueError`` catches the items that failed with ValueError."""
    batch = helpers.make_values(4, index=np.array([10, 11, 12, 13]))
    caught = []
    try:
        batch.check_even(target=target)
    except* ValueError as group:
        caught.extend(group.exceptions)
    assert sorted(str(error) for error in caught) == ["odd item 11", "odd item 13"]


def test_message_counts_failures_and_names_action_and_target(target):
    """The message reads 'k of n items failed in <qualname> (target=...)'."""
    error = odd_failures(target)
    assert error.message == f"2 of 4 items failed in Values.check_even (target={target!r})"


def test_each_member_notes_action_position_index_value_and_target(target):
    """Each failed item's exception has a note naming the action, its position, index value and target."""
    error = odd_failures(target)
    notes = [
        next(note for note in getattr(member, "__notes__", []) if note.startswith("batchkit:"))
        for member in error.exceptions
    ]
    expected = [
        ("Values.check_even", f"item {position}", f"index value {value}", f"target={target!r}")
        for position, value in [(1, 11), (3, 13)]
    ]
    # matched by content, not by order: the members' order is checked by its own test
    assert all(any(all(part in note for part in parts) for note in notes) for parts in expected)


def test_results_keep_successes_and_failures_in_order(target):
    """ParallelError.results holds the successful values and the exceptions, in init order."""
    results = odd_failures(target).results
    assert [type(r).__name__ if isinstance(r, Exception) else r for r in results] == [
        100,
        "ValueError",
        120,
        "ValueError",
    ]


def test_group_members_follow_init_order(target):
    """The group's members are in init order, even when a later item fails first."""
    workers = {
        "threads": helpers.fail_later_item_first,
        "async": helpers.async_fail_later_item_first,
    }
    helpers.reset_late_first()
    action = parallel(init=lambda: [0, 1], target=target)(workers.get(target, helpers.fail_slowly_first))
    with pytest.raises(ParallelError) as info:
        action(n_workers=2)
    assert [str(member) for member in info.value.exceptions] == ["item 0", "item 1"]


# -- mpc: remote tracebacks and what does not pickle -----------------------------------------


def mpc_failure():
    action = parallel(init=lambda: [0, 1, 2], target="mpc")(helpers.fail_on_odd)
    with pytest.raises(ParallelError) as info:
        action()
    (member,) = info.value.exceptions
    return member


def test_mpc_failure_cause_is_remote_traceback():
    """An item that failed in an mpc worker has a RemoteTraceback as its __cause__."""
    assert isinstance(mpc_failure().__cause__, RemoteTraceback)


def test_mpc_remote_traceback_shows_worker_function_and_raise_line():
    """The remote traceback text names the worker function and shows the line that raised."""
    text = mpc_failure().__cause__.text
    assert "fail_on_odd" in text and 'raise ValueError(f"odd item {x}")' in text


def test_mpc_unpicklable_exception_fails_only_its_item():
    """An exception that cannot be sent back from a worker becomes a WorkerError in its own slot only."""
    results = with_post(helpers.raise_unpicklable_on_one, [0, 1, 2], "mpc")
    assert (results[0], type(results[1]), results[2]) == (0, WorkerError, 20)


def test_mpc_unpicklable_result_fails_only_its_item():
    """A result that cannot be pickled becomes a WorkerError in its own slot only."""
    results = with_post(helpers.return_lock_on_one, [0, 1, 2], "mpc")
    assert (results[0], type(results[1]), results[2]) == (0, WorkerError, 20)


def test_mpc_unpicklable_argument_fails_only_its_item():
    """An init entry that cannot be pickled becomes a WorkerError in its own slot only."""
    results = with_post(helpers.fail_on_odd, [0, threading.Lock(), 2], "mpc")
    assert (results[0], type(results[1]), results[2]) == (0, WorkerError, 20)


def test_mpc_method_returning_non_callable_raises_type_error():
    """A method declared for mpc that returns no function raises TypeError naming target='mpc'."""

    class Broken(Batch):
        @inbatch_parallel(init="indices", target="mpc")
        def act(self):
            return 42

    with pytest.raises(TypeError, match="target='mpc'"):
        Broken(np.arange(3)).act()


# -- what propagates unchanged ---------------------------------------------------------------


class InitFailed(Exception):
    pass


class PostFailed(Exception):
    pass


def test_init_exception_propagates_unchanged(target):
    """An exception raised by init propagates as it is, not wrapped in ParallelError."""
    error = InitFailed("no entries")

    def init():
        raise error

    with pytest.raises(InitFailed) as info:
        parallel(init=init, target=target)(helpers.square)()
    assert info.value is error


def test_post_exception_propagates_unchanged(target):
    """An exception raised by post propagates as it is, not wrapped in ParallelError."""
    error = PostFailed("cannot assemble")

    def post(results):
        raise error

    with pytest.raises(PostFailed) as info:
        parallel(init=lambda: [1, 2], post=post, target=target)(helpers.square)()
    assert info.value is error


class FactoryFailed(Exception):
    pass


def test_mpc_method_exception_propagates_unchanged(target):
    """An exception raised by a method declared for mpc (called once in the caller) propagates as it is."""
    error = FactoryFailed("no worker function")

    class Broken(Batch):
        @inbatch_parallel(init="indices", target="mpc")
        def act(self):
            raise error

    with pytest.raises(FactoryFailed) as info:
        Broken(np.arange(3)).act(target=target)
    assert info.value is error


# mpc is left out: on a BaseException it may kill the shared pool's workers, which later tests reuse
@pytest.mark.parametrize("target", ["for", "threads", "async"])
def test_base_exception_propagates(target):
    """A BaseException that is not an Exception, raised by an item, propagates instead of being collected."""
    action = parallel(init=lambda: [0, 1, 2, 3], post=lambda results: results, target=target)
    with pytest.raises(helpers.Halt):
        action(helpers.halt_on_two)()


def test_init_naming_an_empty_component_says_so():
    """init naming a component that holds no data fails with a message naming the component."""
    from batchkit import Batch

    class Half(Batch):
        components = ("x", "y")

        @inbatch_parallel(init="y", target="for")
        def touch(self, value):
            return value

    batch = Half.from_data(data={"x": np.arange(3)})
    with pytest.raises(ValueError, match=r"init='y'.*holds no data"):
        batch.touch()
