"""Ctrl-C during an action: the caller gets KeyboardInterrupt and no worker is left behind."""

import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid

import pytest
from faults.harness import processes_with

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

SCRIPT = textwrap.dedent(
    """
    import sys, time
    from batchkit import parallel

    def nap(x):
        time.sleep({seconds})
        return x

    action = parallel(init=lambda: range({n_items}), target="{target}", n_workers=2)(nap)
    print("started", flush=True)
    action()
    print("finished", flush=True)
    """
)


def _processes_with(marker: str) -> list[int]:
    """PIDs of live processes whose environment holds ``marker`` (zombies left out)."""
    return processes_with(marker)


def _interrupt(target: str, seconds: float, n_items: int, wait: float):
    marker = f"BATCHKIT_TEST_MARKER={uuid.uuid4().hex}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(seconds=seconds, n_items=n_items, target=target)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout.readline().strip() == "started"
    time.sleep(wait)  # the items are running now
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    return process.returncode, out, err, marker


@pytest.mark.timeout(90)
def test_ctrl_c_stops_a_threads_action():
    """Ctrl-C during a threads action raises KeyboardInterrupt and the process exits promptly."""
    returncode, out, err, _ = _interrupt("threads", seconds=0.2, n_items=200, wait=0.5)
    assert returncode != 0 and "KeyboardInterrupt" in err and "finished" not in out


@pytest.mark.timeout(90)
def test_ctrl_c_leaves_no_worker_process():
    """Ctrl-C during an mpc action: the process exits with KeyboardInterrupt within 2 s, no worker left.

    The items take 30 s: only killing the workers that run them can end the call that soon.
    """
    marker = f"BATCHKIT_TEST_MARKER={uuid.uuid4().hex}"
    env = {**os.environ, "BATCHKIT_TEST_MARKER": marker.split("=")[1]}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(seconds=30.0, n_items=8, target="mpc")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout.readline().strip() == "started"
    time.sleep(2.0)  # the pool is up and the items are running now
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 2.0
    assert process.returncode != 0 and "KeyboardInterrupt" in err and "finished" not in out
    deadline = time.monotonic() + 2
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []


@pytest.mark.timeout(90)
def test_killed_caller_leaves_no_worker_process():
    """When the caller is killed outright (SIGKILL), its mpc workers exit within seconds."""
    marker = f"BATCHKIT_TEST_MARKER={uuid.uuid4().hex}"
    env = {**os.environ, "BATCHKIT_TEST_MARKER": marker.split("=")[1]}
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT.format(seconds=3.0, n_items=8, target="mpc")],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout.readline().strip() == "started"
    time.sleep(2.0)
    assert len(_processes_with(marker)) >= 3  # the caller and its two workers are running
    process.kill()
    process.wait(timeout=30)
    deadline = time.monotonic() + 3  # the workers notice at once that their caller is gone
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []
