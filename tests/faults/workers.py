"""Module-level item functions for the mpc fault scenarios (workers import them by name).

Each takes the item ``x`` first; the item equal to ``bad`` misbehaves, the others return ``x``
(after ``delay`` seconds, so that calls last long enough to overlap or be interrupted).
"""

import ctypes
import os
import resource
import signal
import time


def _wait(delay):
    if delay:
        time.sleep(delay)


def exit_at(x, bad, delay=0.0, code=3):
    """The item ``bad`` ends its worker with ``os._exit(code)``."""
    if x == bad:
        os._exit(code)
    _wait(delay)
    return x


def sigkill_at(x, bad, delay=0.0):
    """The item ``bad`` kills its own worker with SIGKILL."""
    if x == bad:
        os.kill(os.getpid(), signal.SIGKILL)
    _wait(delay)
    return x


def segfault_at(x, bad, delay=0.0):
    """The item ``bad`` crashes its worker by reading address 0 (SIGSEGV), without a core file."""
    if x == bad:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        ctypes.string_at(0)
    _wait(delay)
    return x


def sleep_at(x, bad, seconds=30.0, delay=0.0):
    """The item ``bad`` sleeps ``seconds`` (a stuck item)."""
    if x == bad:
        time.sleep(seconds)
    _wait(delay)
    return x


def spin_at(x, bad, seconds=30.0):
    """The item ``bad`` spins in pure Python for ``seconds`` (stuck, holding the GIL)."""
    if x == bad:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            pass
    return x


def fail_at(x, bad, delay=0.0):
    """The item ``bad`` raises ValueError at once; the others take ``delay`` seconds."""
    if x == bad:
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
    return KillsOnPickle() if x == bad else x
