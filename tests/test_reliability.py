"""timeout= and fail_fast=: the same outcomes on every target (``for`` is the reference).

The faults that need a fresh process (dying workers, Ctrl-C, what is left running) are in
``tests/faults``.
"""

import time

import fault_items
import numpy as np
import pytest

from batchkit import (
    Batch,
    BatchkitError,
    ItemCancelled,
    ItemTimeout,
    ParallelError,
    any_action_failed,
    parallel,
)

pytestmark = pytest.mark.timeout(60)


def fan_out(name, target, n, *args, post=None, **options):
    """Run ``fault_items.<name>`` over ``range(n)`` on ``target`` with the given call options."""
    fn = fault_items.for_target(name, target)
    action = parallel(init=lambda *a, **k: list(range(n)), post=post, target=target, n_workers=2)(fn)
    return action(*args, **options)


def keep(results, *args, **kwargs):
    return results


# -- timeout ----------------------------------------------------------------------------------


def test_a_stuck_item_fails_alone_with_item_timeout(target):
    """A stuck item gets ItemTimeout in its slot; every other item keeps its result."""
    results = fan_out("stuck_at", target, 8, 3, post=keep, timeout=0.5)
    assert isinstance(results[3], ItemTimeout)
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5, 6, 7]


def test_a_call_with_a_stuck_item_returns_soon_after_the_timeout(target):
    """The call returns within the timeout plus a margin, not when the stuck item ends."""
    start = time.monotonic()
    fan_out("stuck_at", target, 4, 1, post=keep, timeout=0.5)
    assert time.monotonic() - start < 10  # the stuck item sleeps 30 s


def test_the_timed_out_position_is_reported_exactly(target):
    """The timed-out item is the one failed position that post and ParallelError see."""
    assert fan_out("stuck_at", target, 6, 2, post=keep, timeout=0.5).failed_positions == [2]
    with pytest.raises(ParallelError) as info:
        fan_out("stuck_at", target, 6, 2, timeout=0.5)
    assert info.value.failed_positions == [2]


def test_item_timeout_is_a_timeout_error_naming_the_limit(target):
    """ItemTimeout is a BatchkitError and a TimeoutError, and its message names the limit."""
    error = fan_out("stuck_at", target, 3, 0, post=keep, timeout=0.5)[0]
    assert isinstance(error, BatchkitError) and isinstance(error, TimeoutError)
    assert "0.5 s" in str(error) and error.timeout == 0.5


def test_items_within_the_timeout_are_untouched(target):
    """With a generous timeout every item succeeds, exactly as without one."""
    assert fan_out("stuck_at", target, 6, 99, timeout=30) == list(range(6))


def test_an_items_own_timeout_error_is_not_taken_for_batchkits(target):
    """A TimeoutError the item raised itself stays as it is, even under a timeout."""
    results = fan_out("raise_timeout_error", target, 2, post=keep, timeout=30)
    assert all(type(r) is TimeoutError for r in results)


def test_the_decorator_timeout_is_the_default_and_a_call_overrides_it(target):
    """timeout= on the decorator applies to every call; a call's own timeout= wins."""
    fn = fault_items.for_target("stuck_at", target)
    action = parallel(init=lambda *a, **k: [0, 1], post=keep, target=target, timeout=0.5)(fn)
    assert isinstance(action(1, seconds=1.5)[1], ItemTimeout)
    assert action(1, seconds=1.5, timeout=10) == [0, 1]


# -- fail_fast --------------------------------------------------------------------------------


def test_fail_fast_cancels_the_items_not_started(target):
    """After the first failure no new item starts: the rest are ItemCancelled in their slots."""
    results = fan_out("fail_at", target, 40, 0, 0.05, post=keep, fail_fast=True)
    assert results.failed_positions == [0]
    assert results.cancelled_positions, "no item was cancelled"
    assert all(isinstance(results[i], ItemCancelled) for i in results.cancelled_positions)
    done = set(range(40)) - {0} - set(results.cancelled_positions)
    assert all(results[i] == i for i in done)


def test_fail_fast_error_holds_the_real_failures_and_counts_the_cancelled(target):
    """The ParallelError's members are the real failures; its message counts the cancelled."""
    with pytest.raises(ParallelError) as info:
        fan_out("fail_at", target, 40, 0, 0.05, fail_fast=True)
    error = info.value
    assert [type(e) for e in error.exceptions] == [ValueError]
    assert f"{len(error.cancelled_positions)} not started" in str(error)
    assert error.cancelled_positions


def test_fail_fast_returns_early(target):
    """A fail_fast call returns long before all items could have run."""
    start = time.monotonic()
    fan_out("fail_at", target, 40, 0, 0.2, post=keep, fail_fast=True)
    assert time.monotonic() - start < 40 * 0.2 / 2


def test_without_fail_fast_every_item_runs(target):
    """Without fail_fast a failure cancels nothing."""
    results = fan_out("fail_at", target, 10, 0, post=keep)
    assert results.failed_positions == [0] and results.cancelled_positions == []
    assert results[1:] == list(range(1, 10))


def test_cancelled_items_count_as_failed_for_any_action_failed(target):
    """any_action_failed sees a call stopped by fail_fast."""
    assert any_action_failed(fan_out("fail_at", target, 10, 0, 0.05, post=keep, fail_fast=True))


def test_a_timeout_with_fail_fast_stops_the_call(target):
    """A timed-out item is a failure: with fail_fast the items not started are cancelled."""
    fn = fault_items.for_target("stuck_at", target)
    action = parallel(init=lambda *a, **k: list(range(30)), post=keep, target=target, n_workers=1)(fn)
    results = action(0, timeout=0.5, fail_fast=True)
    assert results.failed_positions == [0] and len(results.cancelled_positions) >= 20


# -- bad settings -----------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1.0, "1", True])
def test_a_bad_timeout_is_refused_before_work_runs(bad):
    """A non-positive or non-numeric timeout is refused with ValueError naming it."""
    action = parallel(init=lambda: [1], target="for")(fault_items.fail_at)
    with pytest.raises(ValueError, match="'timeout'"):
        action(0, timeout=bad)


def test_a_bad_fail_fast_is_refused_at_decoration():
    """fail_fast must be a bool, refused when the decorator is applied."""
    with pytest.raises(TypeError, match="'fail_fast'"):
        parallel(init=lambda: [1], target="for", fail_fast="yes")


# -- apply_parallel shares the settings -------------------------------------------------------


class Frames(Batch):
    components = ("frames",)


def test_apply_parallel_takes_a_timeout():
    """apply_parallel(timeout=) gives a stuck item ItemTimeout and keeps the others."""
    batch = Frames.from_data(data={"frames": np.arange(6)})
    with pytest.raises(ParallelError) as info:
        batch.apply_parallel(fault_items.stuck_at, 2, src="frames", dst="out", timeout=0.3, seconds=5)
    assert info.value.failed_positions == [2] and isinstance(info.value.exceptions[0], ItemTimeout)


def test_apply_parallel_takes_fail_fast():
    """apply_parallel(fail_fast=True) cancels the items not started after the first failure."""
    batch = Frames.from_data(data={"frames": np.arange(40)})
    with pytest.raises(ParallelError) as info:
        batch.apply_parallel(fault_items.fail_at, 0, 0.02, src="frames", n_workers=2, fail_fast=True)
    assert info.value.failed_positions == [0] and info.value.cancelled_positions


def test_the_settings_reach_neither_init_nor_post_nor_the_method():
    """timeout and fail_fast are reserved: init, post and the items never see them."""
    seen = []

    def init(*args, **kwargs):
        seen.append(("init", kwargs))
        return [1]

    def post(results, *args, **kwargs):
        seen.append(("post", kwargs))
        return results

    def item(x, **kwargs):
        return kwargs

    results = parallel(init=init, post=post, target="for")(item)(scale=2, timeout=5, fail_fast=True)
    assert seen == [("init", {"scale": 2}), ("post", {"scale": 2})] and results == [{"scale": 2}]


def test_a_method_may_not_declare_a_reserved_setting():
    """A method taking a parameter named timeout would never receive it: refused at decoration."""
    with pytest.raises(TypeError, match="reserves"):
        parallel(init=[1])(lambda x, timeout=1: x)
