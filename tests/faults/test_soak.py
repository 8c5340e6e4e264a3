"""A soak of thousands of calls, with failures, timeouts and fail_fast mixed in: nothing grows.

After a warm-up, the scenario counts threads, child processes, open file descriptors and RSS;
then it runs many more calls and counts again. Pools are reused, so none of them may grow
(RSS within a small margin for the allocator).
"""

import sys

import pytest

from faults.harness import run_scenario

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="Linux /proc")]

SOAK = """
import os, threading
from batchkit import parallel
import fault_items

target = {target!r}
stuck = fault_items.for_target("stuck_at", target)
fail = fault_items.for_target("fail_at", target)
keep = lambda results, *args, **kwargs: results

def make(fn, n):
    return parallel(init=lambda *a, **k: list(range(n)), post=keep, target=target, n_workers=2)(fn)

def children():
    me = str(os.getpid())
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{{entry}}/stat") as stat:
                    fields = stat.read().rsplit(") ", 1)[1].split()
            except OSError:
                continue
            count += fields[1] == me and fields[0] != "Z"
    return count

def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))

def snapshot():
    return dict(threads=threading.active_count(), fds=len(os.listdir("/proc/self/fd")),
                children=children(), rss=rss_kib())

quick, failing = make(fail, 20), make(fail, 20)

def round_():
    assert quick(-1) == list(range(20))
    results = failing(5)
    assert results.failed_positions == [5]
    stopped = failing(0, 0.001, fail_fast=True)
    assert stopped.failed_positions == [0]

for _ in range({warmup}):
    round_()
before = snapshot()
for _ in range({rounds}):
    round_()
after = snapshot()
report(before=before, after=after)
"""


#: three calls a round; fewer on mpc, whose calls cross a process boundary
ROUNDS = [("for", 1500), ("threads", 1500), ("async", 1500), ("mpc", 300)]


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("target", "rounds"), ROUNDS)
def test_thousands_of_calls_grow_nothing(target, rounds):
    """Threads, child processes and fds stay the same over thousands of calls; RSS within 5 MiB."""
    outcome = run_scenario(SOAK.format(target=target, warmup=rounds // 10, rounds=rounds), timeout=240)
    assert outcome.result, outcome.stderr
    before, after = outcome.result["before"], outcome.result["after"]
    assert after["threads"] == before["threads"]
    assert after["children"] == before["children"]
    assert after["fds"] == before["fds"]
    assert after["rss"] - before["rss"] < 5 * 1024, (before, after)
    assert outcome.returncode == 0 and outcome.leftovers == []
