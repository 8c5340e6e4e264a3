"""Run a fault scenario in a fresh Python process and report what it left behind.

Every fault test runs its scenario through `run_scenario`: a child interpreter with a hard
timeout, a unique marker in its environment (inherited by any worker process it starts), and
a JSON line printed by the scenario as its result. After the child ends, `leftovers` lists the
processes still carrying the marker, so a test can assert that nothing was left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

TESTS = str(Path(__file__).resolve().parents[1])
MARKER_NAME = "BATCHKIT_FAULT_MARKER"

#: what every scenario starts with: the tests folder importable, a way to report a result
PRELUDE = textwrap.dedent(
    f"""
    import json, os, sys, time
    sys.path.insert(0, {TESTS!r})

    def report(**values):
        print("RESULT " + json.dumps(values), flush=True)
    """
)


#: scenario code for mpc fault tests: ``keep`` (a post returning the results) and
#: ``action(fn, n, n_workers=2)``, fn fanned out over ``range(n)`` on mpc
MPC_ACTION = """
import time
from batchkit import parallel
from faults import workers

def keep(results, *args, **kwargs):
    return results

def action(fn, n, n_workers=2):
    return parallel(init=lambda *a, **k: list(range(n)), post=keep, target="mpc", n_workers=n_workers)(fn)
"""


@dataclass
class Outcome:
    """What a scenario did: its exit code, its reported values, its output, what it left."""

    returncode: int
    result: dict = field(default_factory=dict)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    leftovers: list[int] = field(default_factory=list)


def processes_with(marker: str) -> list[int]:
    """PIDs of live (not zombie) processes whose environment holds ``marker``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                if stat.read().split(b") ")[-1][:1] == b"Z":
                    continue
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if marker.encode() in environ.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def wait_for_no_leftovers(marker: str, within: float) -> list[int]:
    """Wait up to ``within`` seconds for every marked process to end; return those still alive."""
    deadline = time.monotonic() + within
    while True:
        alive = processes_with(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def kill_marked(marker: str) -> None:
    for pid in processes_with(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def start_scenario(code: str) -> tuple[subprocess.Popen, str]:
    """Start ``code`` (after the prelude) in a child interpreter; return it and its marker."""
    marker = uuid.uuid4().hex
    env = {**os.environ, MARKER_NAME: marker, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: a test may signal the whole group
    )
    return process, f"{MARKER_NAME}={marker}"


def finish_scenario(process, marker: str, timeout: float, started: float, linger: float = 3.0) -> Outcome:
    """Wait for the child (killing it past ``timeout``), then collect its result and leftovers."""
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        kill_marked(marker)
        raise AssertionError(
            f"scenario did not finish within {timeout} s\nstdout:\n{out}\nstderr:\n{err}"
        ) from None
    seconds = time.monotonic() - started
    leftovers = wait_for_no_leftovers(marker, linger)
    kill_marked(marker)
    result = {}
    for line in out.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    return Outcome(process.returncode, result, out, err, seconds, leftovers)


def run_scenario(code: str, timeout: float = 60.0, linger: float = 3.0) -> Outcome:
    """Run ``code`` in a child interpreter and return its `Outcome`.

    ``linger`` is how long the child's worker processes get to exit after it has ended.
    """
    started = time.monotonic()
    process, marker = start_scenario(code)
    return finish_scenario(process, marker, timeout, started, linger)
