"""mpc: Ctrl-C reaches the caller at once and kills the call's workers; a killed caller leaves none.

Each scenario runs in a fresh interpreter (see `faults.harness`), in a process group of its
own; the item functions are in `faults.workers`. A measured line per scenario is printed.
"""

import json
import os
import signal
import sys
import time

import pytest

from faults.harness import finish_scenario, processes_with, start_scenario

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="Linux signals and /proc")]

INTERRUPTED = """
from batchkit import parallel
from faults import workers

nap = parallel(init=lambda *a, **k: list(range(8)), target="mpc", n_workers=2)(workers.nap)
pids = parallel(init=lambda *a, **k: list(range(8)), target="mpc", n_workers=2)(workers.pid_after)
busy = sorted(set(pids(0.1)))  # the two workers, which the long call will keep busy
print("started", flush=True)
try:
    nap(30.0)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    alive = workers.marked_processes()
    report(busy=busy, busy_alive=sorted(set(busy) & set(alive)), next_call=nap(0.0) == list(range(8)))
    print("exiting", flush=True)
    raise
"""


def _read_until(process, last: str) -> tuple[list[str], float]:
    lines = []
    while True:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"the scenario ended before printing {last!r}: {lines}")
        lines.append(line.strip())
        if line.strip() == last:
            return lines, time.monotonic()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("to", ["caller", "process group"])
def test_ctrl_c_reaches_the_caller_at_once_and_kills_the_calls_workers(to):
    """SIGINT (to the caller, or to its whole group) during 30 s items: KeyboardInterrupt within 2 s.

    The workers running the call's items are killed, the pool serves the next call, and the
    interpreter exits within 2 s leaving nothing behind.
    """
    started = time.monotonic()
    process, marker = start_scenario(INTERRUPTED)
    try:
        _read_until(process, "started")
        time.sleep(1.0)  # the items are running now
        sent = time.monotonic()
        if to == "caller":
            os.kill(process.pid, signal.SIGINT)
        else:
            os.killpg(process.pid, signal.SIGINT)
        _, interrupted = _read_until(process, "interrupted")
        lines, exiting = _read_until(process, "exiting")
        process.wait(timeout=10)
        exited = time.monotonic()
    finally:
        outcome = finish_scenario(process, marker, timeout=30, started=started)
    result = json.loads(next(line for line in lines if line.startswith("RESULT "))[len("RESULT ") :])
    print(
        f"\nMPC-FAULT Ctrl-C to the {to}: KeyboardInterrupt after {interrupted - sent:.3f} s, "
        f"interpreter exit {exited - exiting:.3f} s after, busy workers still alive {result['busy_alive']}, "
        f"leftovers {outcome.leftovers}"
    )
    assert interrupted - sent < 2.0
    assert exited - exiting < 2.0
    assert len(result["busy"]) == 2 and result["busy_alive"] == []
    assert result["next_call"]
    assert outcome.returncode != 0 and "KeyboardInterrupt" in outcome.stderr
    assert outcome.leftovers == []


KILLED = """
from batchkit import parallel
from faults import workers

nap = parallel(init=lambda *a, **k: list(range(8)), target="mpc", n_workers=2)(workers.nap)
assert nap(0.0) == list(range(8))
print("started", flush=True)
nap(30.0)
"""


@pytest.mark.timeout(60)
def test_a_caller_killed_outright_leaves_no_process_within_two_seconds():
    """SIGKILL of the caller during 30 s items: its workers (and the forkserver) end within 2 s."""
    started = time.monotonic()
    process, marker = start_scenario(KILLED)
    try:
        _read_until(process, "started")
        time.sleep(1.0)
        running = len(processes_with(marker))
        process.kill()
        process.wait(timeout=10)
        killed = time.monotonic()
        while processes_with(marker) and time.monotonic() - killed < 10:
            time.sleep(0.02)
        gone = time.monotonic() - killed
    finally:
        outcome = finish_scenario(process, marker, timeout=30, started=started, linger=0.1)
    print(f"\nMPC-FAULT caller SIGKILLed: {running} processes running, all gone {gone:.3f} s after")
    assert running >= 3  # the caller, its two workers (and the forkserver)
    assert gone < 2.0
    assert outcome.leftovers == []
