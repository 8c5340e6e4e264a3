"""mpc: the slot protocol between `Calls.run_range` and a worker's `SlotCancel`, in this process.

A worker learns which item runs from run_range reading ``cancel.requested`` exactly once
before each item, in order; the caller trusts that to blame the right item when a worker
dies. These tests pin it for each of run_range's loops.
"""

import array
import multiprocessing.sharedctypes
import pickle
import time

import pytest

from batchkit._calls import MIXED, SINGLE, Calls, Outcomes
from batchkit.executors._mpc_pickle import store_reply
from batchkit.executors._mpc_worker import (
    ITEM,
    SLOT_WIDTH,
    SPAN,
    STARTED,
    STOP,
    STOPPED,
    SlotCancel,
    _run_chunk,
    _run_items,
    _SharedStop,
)

pytestmark = pytest.mark.timeout(30)

BASE = SLOT_WIDTH  # the second slot: the offset is used


def _table():
    return memoryview(array.array("q", [0] * (3 * SLOT_WIDTH)))


class Recorder:
    """An item function that records the ITEM field the worker announced while it runs."""

    def __init__(self, table, fail_at=None):
        self.table = table
        self.seen = []
        self.fail_at = fail_at

    def __call__(self, x, *args, **kwargs):
        self.seen.append((x, self.table[BASE + ITEM], self.table[BASE + STARTED]))
        if x == self.fail_at:
            raise ValueError(x)
        return x


@pytest.mark.parametrize(
    "calls",
    [
        Calls([0, 1, 2, 3, 4], SINGLE),  # the hot loop
        Calls([[0], [1], [2], [3], [4]], MIXED, args=("extra",)),  # the loop that binds arguments
    ],
    ids=["plain", "bound"],
)
@pytest.mark.parametrize("watched", [False, True], ids=["", "with progress"])
def test_each_item_is_announced_before_it_runs(calls, watched):
    """While item k runs, its slot holds k and a start time from this clock, for every loop."""
    table = _table()
    calls.cancel = SlotCancel(table, BASE)
    if watched:
        calls.progress = lambda n: None  # run_range's watched loop
    record = Recorder(table)
    before = time.monotonic_ns()
    outcomes = Outcomes(len(calls))
    calls.run_range(record, 0, len(calls), outcomes)
    assert outcomes.values == [0, 1, 2, 3, 4]
    assert [(x, item) for x, item, _ in record.seen] == [(k, k) for k in range(5)]
    assert all(before <= started <= time.monotonic_ns() for _, _, started in record.seen)


def test_the_stop_flag_stops_before_the_next_item():
    """A stop set while an item runs: that item ends, no further item starts, ITEM says stopped."""
    table = _table()
    calls = Calls(list(range(6)), SINGLE)
    calls.cancel = SlotCancel(table, BASE)

    def stop_at_two(x):
        if x == 2:
            table[BASE + STOP] = 1  # what the caller does for fail_fast or Ctrl-C
        return x

    outcomes = Outcomes(6)
    calls.run_range(stop_at_two, 0, 6, outcomes)
    assert outcomes.values[:3] == [0, 1, 2] and outcomes.values[3:] == Outcomes(3).values
    assert table[BASE + ITEM] == STOPPED


def test_fail_fast_in_the_worker_sets_the_stop_flag():
    """With fail_fast, the failed item sets the shared stop flag, which the caller reads."""
    table = _table()
    calls = Calls(list(range(6)), SINGLE, fail_fast=True)
    calls.cancel = SlotCancel(table, BASE)
    outcomes = Outcomes(6)
    calls.run_range(Recorder(table, fail_at=1), 0, 6, outcomes)
    assert outcomes.failed == [1] and table[BASE + STOP] == 1
    assert [x for x in outcomes.values[2:]] == Outcomes(4).values
    assert table[0:SLOT_WIDTH].tolist() == [0] * SLOT_WIDTH  # other slots untouched


def test_runs_of_tiny_items_are_announced_as_runs():
    """With ``block`` > 1 the slot holds the first item of the running run and the run's length."""
    table = _table()
    calls = Calls(list(range(10)), SINGLE)
    record = []

    def item(x):
        record.append((x, table[BASE + ITEM], table[BASE + SPAN]))
        return x

    outcomes = Outcomes(10)
    _run_items(item, calls, outcomes, 4, table, BASE, stop=None)
    assert outcomes.values == list(range(10))
    assert record == [(x, x // 4 * 4, 4 if x < 8 else 2) for x in range(10)]


def test_runs_under_fail_fast_stop_through_the_shared_flag():
    """In runs, fail_fast's stop is the shared flag: a failure stops the run and the next ones."""
    shared = multiprocessing.sharedctypes.RawArray("q", 3 * SLOT_WIDTH)
    table = memoryview(shared).cast("B").cast("q")
    stop = _SharedStop.from_buffer(shared, (BASE + STOP) * 8)
    calls = Calls(list(range(10)), SINGLE, fail_fast=True)
    outcomes = Outcomes(10)
    _run_items(Recorder(table, fail_at=5), calls, outcomes, 4, table, BASE, stop)
    assert outcomes.values[:5] == [0, 1, 2, 3, 4] and outcomes.failed == [5]
    assert outcomes.values[6:] == Outcomes(4).values
    assert table[BASE + STOP] == 1 and table[BASE + ITEM] == STOPPED


def test_an_item_raising_system_exit_fails_alone_and_the_rest_is_sent_back_as_not_run():
    """SystemExit from an item does not end the worker: it fails that item; the later ones come back unrun."""

    def exits_at_two(x):
        if x == 2:
            raise SystemExit(4)
        return x

    table = _table()
    reply = _run_chunk(exits_at_two, pickle.dumps(Calls(list(range(5)), SINGLE)), 1, table, BASE, None)
    outcomes = Outcomes(5)
    _, again, failed, whole = store_reply(reply, range(5), outcomes)
    assert outcomes.values[:2] == [0, 1] and outcomes.failed == [2] and failed and not whole
    assert "SystemExit" in str(outcomes.values[2]) and again == [3, 4]
