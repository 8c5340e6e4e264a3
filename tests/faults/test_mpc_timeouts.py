"""mpc: an item that overruns ``timeout`` fails alone; its worker is killed; fail_fast stops early.

Each scenario runs in a fresh interpreter (see `faults.harness`); the item functions are in
`faults.workers`. A measured line per scenario is printed (``pytest -s`` shows it).
"""

import sys

import pytest

from faults.harness import MPC_ACTION, run_scenario

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="Linux signals and /proc")]

COMMON = MPC_ACTION

STUCK = (
    COMMON
    + """
stuck = action(getattr(workers, {name!r}), 16)
assert stuck(-1, timeout=5) == list(range(16))  # the pool is up
workers_before = len(workers.marked_processes())
start = time.monotonic()
results = stuck(5, seconds=30.0, timeout=0.5)
seconds = time.monotonic() - start
report(
    seconds=seconds,
    failed=results.failed_positions,
    kind=type(results[5]).__name__,
    message=str(results[5]),
    limit=results[5].timeout,
    others=[value for i, value in enumerate(results) if i != 5],
    processes=[workers_before, len(workers.marked_processes())],
    next_call=stuck(-1, timeout=5) == list(range(16)),
)
"""
)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", ["sleep_at", "spin_at"])
def test_a_stuck_item_fails_alone_and_its_worker_is_killed(name):
    """An item stuck 30 s (asleep, or spinning with the GIL held) under timeout=0.5 fails alone.

    The call returns soon after the limit, every other item keeps its result, the stuck
    worker is gone (no more processes than before), and the next call works.
    """
    outcome = run_scenario(STUCK.format(name=name), timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    print(
        f"\nMPC-FAULT timeout ({name}, 30 s item, timeout 0.5 s): call returned in "
        f"{result['seconds']:.3f} s, {len(result['failed'])} item(s) failed, processes "
        f"{result['processes']}, leftovers {outcome.leftovers}"
    )
    assert result["failed"] == [5] and result["kind"] == "ItemTimeout" and result["limit"] == 0.5
    assert "timeout of 0.5 s" in result["message"]
    assert result["others"] == [i for i in range(16) if i != 5]
    assert result["seconds"] < 3
    assert result["processes"][1] <= result["processes"][0]
    assert result["next_call"]
    assert outcome.returncode == 0 and outcome.leftovers == []


FAIL_FAST = (
    COMMON
    + """
import tempfile
log = tempfile.mktemp()
check = action(workers.fail_at, 40)
assert check(-1, 0.01) == list(range(40))  # item times known: several chunks per worker
start = time.monotonic()
results = check(0, 0.2, log=log, fail_fast=True)
seconds = time.monotonic() - start
started = sorted(int(x) for x in open(log).read().split())
report(
    seconds=seconds,
    failed=results.failed_positions,
    cancelled=results.cancelled_positions,
    kinds=sorted({type(results[i]).__name__ for i in results.cancelled_positions}),
    started=started,
    done=[i for i, value in enumerate(results) if value == i],
    next_call=check(-1) == list(range(40)),
)
"""
)


@pytest.mark.timeout(60)
def test_fail_fast_starts_no_new_item_anywhere():
    """After the first failure no item starts, in this worker or the other: the rest are cancelled.

    Items take 0.2 s: the other worker's running item ends, then the call returns (all 40
    would take 4 s on two workers).
    """
    outcome = run_scenario(FAIL_FAST, timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    print(
        f"\nMPC-FAULT fail_fast (40 x 0.2 s, item 0 fails): call returned in {result['seconds']:.3f} s, "
        f"{len(result['failed'])} failed, {len(result['cancelled'])} cancelled, started {result['started']}, "
        f"leftovers {outcome.leftovers}"
    )
    assert result["failed"] == [0]
    # item 0, and at most the one item the other worker had already started (on a loaded
    # machine that worker may not have started one yet): it ends, then no more start
    assert result["started"][0] == 0 and len(result["started"]) <= 2
    assert set(result["done"]) == set(result["started"]) - {0}
    assert len(result["cancelled"]) == 40 - len(result["started"]) and result["kinds"] == ["ItemCancelled"]
    assert result["seconds"] < 1.0
    if len(result["started"]) == 2:  # the call waited for that item (0.2 s) to end
        assert result["seconds"] > 0.15
    assert result["next_call"]
    assert outcome.returncode == 0 and outcome.leftovers == []


TIMEOUT_FAIL_FAST = (
    COMMON
    + """
stuck = action(workers.sleep_at, 30, n_workers=2)
assert stuck(-1) == list(range(30))
start = time.monotonic()
results = stuck(0, seconds=30.0, delay=0.05, timeout=0.5, fail_fast=True)
seconds = time.monotonic() - start
report(seconds=seconds, failed=results.failed_positions, cancelled=len(results.cancelled_positions))
"""
)


@pytest.mark.timeout(60)
def test_a_timeout_under_fail_fast_stops_the_call():
    """A timed-out item is a failure: with fail_fast the call stops right after it."""
    outcome = run_scenario(TIMEOUT_FAIL_FAST, timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    print(
        f"\nMPC-FAULT timeout + fail_fast: call returned in {result['seconds']:.3f} s, "
        f"failed {result['failed']}, {result['cancelled']} cancelled, leftovers {outcome.leftovers}"
    )
    assert result["failed"] == [0] and result["cancelled"] >= 10
    assert result["seconds"] < 3
    assert outcome.returncode == 0 and outcome.leftovers == []
