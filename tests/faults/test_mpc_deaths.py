"""mpc: a worker process that dies fails only the item that killed it.

Each scenario runs in a fresh interpreter (see `faults.harness`); the item functions are in
`faults.workers`. A measured line per scenario is printed (``pytest -s`` shows it).
"""

import sys

import pytest

from faults.harness import MPC_ACTION, run_scenario

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="Linux signals and /proc")]

COMMON = (
    MPC_ACTION
    + """
import threading
from batchkit import WorkerDied
"""
)

ONE_DEATH = (
    COMMON
    + """
import io, tempfile
from batchkit import item_progress
log = tempfile.mktemp()
killer = action(getattr(workers, {name!r}), 24)
assert killer(-1) == list(range(24))  # the pool is up, item times are known
screen = io.StringIO()
start = time.monotonic()
with item_progress(file=screen):
    results = killer(7, 0.002, log=log)
seconds = time.monotonic() - start
runs = open(log).read().split().count("7")
report(
    seconds=seconds,
    failed=results.failed_positions,
    kind=type(results[7]).__name__,
    message=str(results[7]),
    exitcode=getattr(results[7], "exitcode", None),
    others=[value for i, value in enumerate(results) if i != 7],
    killer_runs=runs,
    progress_done="24/24" in screen.getvalue(),
    next_call=killer(-1) == list(range(24)),
)
"""
)


def _measured(name, outcome, **extra):
    details = ", ".join(f"{key} {value}" for key, value in extra.items())
    print(
        f"\nMPC-FAULT {name}: call returned in {outcome.result.get('seconds', float('nan')):.3f} s, "
        f"{len(outcome.result.get('failed', []))} item(s) failed, leftovers {outcome.leftovers}"
        + (f", {details}" if details else "")
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("name", "exitcode", "words"),
    [
        ("exit_at", 3, "exited with code 3"),
        ("sigkill_at", -9, "killed by signal 9 (SIGKILL)"),
        ("segfault_at", -11, "killed by signal 11 (SIGSEGV)"),
    ],
)
def test_a_dying_item_fails_alone_with_worker_died(name, exitcode, words):
    """os._exit, SIGKILL or a segfault: that item alone gets WorkerDied naming how; the rest is kept.

    The killer ran in its chunk, at most once more among the items announced with it (tiny
    items are announced in runs), and once alone, which confirmed it; never again after that.
    The progress bar still counts every item, and the next call works.
    """
    outcome = run_scenario(ONE_DEATH.format(name=name), timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    _measured(name, outcome, killer_runs=result["killer_runs"])
    assert result["failed"] == [7]
    assert result["kind"] == "WorkerDied" and result["exitcode"] == exitcode
    assert result["message"] == f"the worker process running this item died: {words}"
    assert result["others"] == [i for i in range(24) if i != 7]
    assert 2 <= result["killer_runs"] <= 3
    assert result["progress_done"] and result["next_call"]
    assert result["seconds"] < 5
    assert outcome.returncode == 0 and outcome.leftovers == []


UNKNOWN_CULPRIT = (
    COMMON
    + """
killer = action(workers.result_kills_at, 32)
assert killer(-1) == list(range(32))
start = time.monotonic()
results = killer(13)
seconds = time.monotonic() - start
report(
    seconds=seconds,
    failed=results.failed_positions,
    message=str(results[13]),
    exitcode=results[13].exitcode,
    others=[value for i, value in enumerate(results) if i != 13],
)
"""
)


@pytest.mark.timeout(60)
def test_a_death_outside_any_item_is_traced_by_halving_the_chunk():
    """A worker killed while sending results (no item running): halving finds the one culprit."""
    outcome = run_scenario(UNKNOWN_CULPRIT, timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    _measured("death outside an item (result pickling)", outcome)
    assert result["failed"] == [13] and result["exitcode"] == 7
    assert result["message"].startswith("the worker process running this item died: exited with code 7")
    assert result["others"] == [i for i in range(32) if i != 13]
    assert outcome.returncode == 0 and outcome.leftovers == []


CONCURRENT = (
    COMMON
    + """
innocent = action(workers.nap, 60)
killer = action(workers.sigkill_at, 30)
assert innocent(0.0) == list(range(60)) and killer(-1, 0.0) == list(range(30))
found = {}

def run_innocent():
    found["innocent"] = innocent(0.01)

thread = threading.Thread(target=run_innocent)
start = time.monotonic()
thread.start()
killed = killer([3, 11, 25], 0.01)
seconds = time.monotonic() - start
thread.join(30)
report(
    seconds=seconds,
    failed=killed.failed_positions,
    kinds=sorted({type(killed[i]).__name__ for i in killed.failed_positions}),
    killer_others=[value for i, value in enumerate(killed) if i not in (3, 11, 25)],
    innocent=found.get("innocent"),
)
"""
)


@pytest.mark.timeout(60)
def test_a_concurrent_call_from_another_thread_loses_nothing():
    """Three workers die under one call while another thread's call shares the pool: it keeps all."""
    outcome = run_scenario(CONCURRENT, timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    _measured("three deaths beside a concurrent call", outcome)
    assert result["innocent"] == list(range(60))
    assert result["failed"] == [3, 11, 25] and result["kinds"] == ["WorkerDied"]
    assert result["killer_others"] == [i for i in range(30) if i not in (3, 11, 25)]
    assert outcome.returncode == 0 and outcome.leftovers == []


REPEATED = (
    COMMON
    + """
kinds = [workers.exit_at, workers.sigkill_at, workers.segfault_at]
actions = [action(fn, 12) for fn in kinds]
both = action(workers.nap, 8)  # 8 x 50 ms: a call that uses both workers

def snapshot():
    assert both(0.05) == list(range(8))
    return workers.open_fds(), len(workers.marked_processes())

for each in actions:
    assert each(-1) == list(range(12))
fds, processes = snapshot()
start = time.monotonic()
wrong = 0
for k in range(20):
    results = actions[k % 3](k % 12)
    wrong += results.failed_positions != [k % 12]
    wrong += [v for i, v in enumerate(results) if i != k % 12] != [i for i in range(12) if i != k % 12]
seconds = (time.monotonic() - start) / 20
fds_after, processes_after = snapshot()
report(
    seconds=seconds, wrong=wrong,
    fds=[fds, fds_after],
    processes=[processes, processes_after],
    zombies=workers.zombies(),
    next_call=actions[0](-1) == list(range(12)),
)
"""
)


@pytest.mark.timeout(90)
def test_twenty_deaths_in_a_row_leak_no_process_and_no_fd():
    """20 calls, each with an item that kills its worker: fds, processes, zombies stay as they were."""
    outcome = run_scenario(REPEATED, timeout=75)
    result = outcome.result
    assert result, outcome.stderr
    print(
        f"\nMPC-FAULT 20 deaths in a row: {result['seconds']:.3f} s per call, wrong calls {result['wrong']}, "
        f"fds {result['fds']}, marked processes {result['processes']}, zombies {result['zombies']}, "
        f"leftovers {outcome.leftovers}"
    )
    assert result["wrong"] == 0
    assert result["fds"][1] == result["fds"][0]
    assert result["processes"][1] == result["processes"][0]
    assert result["zombies"] == [] and result["next_call"]
    assert outcome.returncode == 0 and outcome.leftovers == []
