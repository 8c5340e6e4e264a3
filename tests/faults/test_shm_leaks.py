"""mpc shared-memory segments: none is left in /dev/shm after a caller killed outright (SIGKILL) mid-call.

The segments are registered with multiprocessing's resource tracker, which outlives the caller
and unlinks what it still holds; the scenario runs in a fresh interpreter (`faults.harness`).
"""

import os
import sys
import time

import pytest

from faults.harness import finish_scenario, start_scenario

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="Linux signals and /dev/shm")]

KILLED_WITH_ARRAYS = """
import numpy as np
from batchkit import parallel
from faults import workers

def keep(results, *a, **k):
    return results

def hold(i, data, delay):
    time.sleep(delay)
    return float(data[i].sum())

run = parallel(init=lambda *a, **k: list(range(4)), post=keep, target="mpc", n_workers=2)(hold)
data = np.ones((4, 1 << 20))  # 32 MiB: through shared memory
assert run(data, 0.0) == [float(1 << 20)] * 4
print("started", flush=True)
run(data, 30.0)
"""


def _segments(pid: int) -> list[str]:
    return [name for name in os.listdir("/dev/shm") if name.startswith(f"batchkit-{pid}-")]


@pytest.mark.timeout(60)
def test_a_caller_killed_mid_call_leaves_no_segment():
    started = time.monotonic()
    process, marker = start_scenario(KILLED_WITH_ARRAYS)
    try:
        assert process.stdout.readline().strip() == "started", process.stderr.read()
        deadline = time.monotonic() + 10
        while not _segments(process.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        during = _segments(process.pid)
        process.kill()
        process.wait(timeout=10)
        killed = time.monotonic()
        while _segments(process.pid) and time.monotonic() - killed < 10:
            time.sleep(0.02)
        gone = time.monotonic() - killed
        left = _segments(process.pid)
    finally:
        outcome = finish_scenario(process, marker, timeout=30, started=started, linger=3.0)
    print(f"\nSHM caller SIGKILLed mid-call: segments {during}, all unlinked {gone:.3f} s after")
    assert len(during) == 1
    assert left == [] and gone < 5.0
    assert outcome.leftovers == []
