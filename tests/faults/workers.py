"""Module-level item functions for the mpc fault scenarios (workers import them by name).

Each takes the item ``x`` first; the item equal to ``bad`` (or in ``bad``, a list) misbehaves,
the others return ``x`` (after ``delay`` seconds, so that calls last long enough to overlap or
be interrupted). With ``log``, an item appends its value to that file as it starts, so a
scenario can count how often an item ran, even in a worker that then died.
"""

import ctypes
import os
import resource
import signal
import time


def _wait(delay):
    if delay:
        time.sleep(delay)


def _is_bad(x, bad) -> bool:
    return x in bad if isinstance(bad, list | tuple | set) else x == bad


def _log(x, log):
    if log:
        with open(log, "a") as file:
            file.write(f"{x}\n")


def exit_at(x, bad, delay=0.0, code=3, log=None):
    """The item ``bad`` ends its worker with ``os._exit(code)``."""
    _log(x, log)
    if _is_bad(x, bad):
        os._exit(code)
    _wait(delay)
    return x


def sigkill_at(x, bad, delay=0.0, log=None):
    """The item ``bad`` kills its own worker with SIGKILL."""
    _log(x, log)
    if _is_bad(x, bad):
        os.kill(os.getpid(), signal.SIGKILL)
    _wait(delay)
    return x


def segfault_at(x, bad, delay=0.0, log=None):
    """The item ``bad`` crashes its worker by reading address 0 (SIGSEGV), without a core file."""
    _log(x, log)
    if _is_bad(x, bad):
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        ctypes.string_at(0)
    _wait(delay)
    return x


def sleep_at(x, bad, seconds=30.0, delay=0.0, log=None):
    """The item ``bad`` sleeps ``seconds`` (a stuck item)."""
    _log(x, log)
    if _is_bad(x, bad):
        time.sleep(seconds)
    _wait(delay)
    return x


def spin_at(x, bad, seconds=30.0):
    """The item ``bad`` spins in pure Python for ``seconds`` (stuck, holding the GIL)."""
    if _is_bad(x, bad):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    return x


def fail_at(x, bad, delay=0.0, log=None):
    """The item ``bad`` raises ValueError at once; the others take ``delay`` seconds."""
    _log(x, log)
    if _is_bad(x, bad):
        raise ValueError(f"item {x} is bad")
    _wait(delay)
    return x


def nap(x, delay):
    """Return ``x`` after ``delay`` seconds."""
    _wait(delay)
    return x


def pid_after(x, delay):
    """This worker's pid, after ``delay`` seconds."""
    _wait(delay)
    return os.getpid()


class KillsOnPickle:
    """A result that kills the worker while it is being pickled (outside any item's code)."""

    def __reduce__(self):
        os._exit(7)


def result_kills_at(x, bad):
    """The item ``bad`` returns a value whose pickling ends the worker (an unknown culprit)."""
    return KillsOnPickle() if _is_bad(x, bad) else x


# -- for the scenario itself (the caller) --------------------------------------------------------


def marked_processes() -> list[int]:
    """The other live processes of this scenario: workers, the forkserver, the resource tracker."""
    from faults.harness import MARKER_NAME, processes_with

    return processes_with(f"{MARKER_NAME}={os.environ[MARKER_NAME]}")


def zombies() -> list[int]:
    """Zombie processes whose parent is this process or one of its children (the forkserver)."""
    me = os.getpid()
    parents, states = {}, {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(") ", 1)[1].split()
            except OSError:
                continue
            parents[int(entry)], states[int(entry)] = int(fields[1]), fields[0]
    ours = {me} | {pid for pid, parent in parents.items() if parent == me}
    return [pid for pid, state in states.items() if state == "Z" and parents[pid] in ours]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))
