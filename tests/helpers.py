"""Module-level workers and batches shared by the tests.

Everything here is importable by name, so the ``mpc`` target pickles it by reference and its
worker processes import this module. Functions are left undecorated: a test wraps them with
``parallel(init=..., target=...)`` so that the very same function runs on every target.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import numpy as np

from batchkit import Batch, inbatch_parallel, parallel

# -- plain workers ---------------------------------------------------------------------------


def echo(*args, **kwargs):
    """What the call received: its positional arguments and its keyword arguments."""
    return args, kwargs


def square(x):
    return x * x


def add(x, y):
    return x + y


def describe(*args, **kwargs):
    """How many positional arguments came and, for each, its type name and plain value."""
    plain = [(type(a).__name__, a.tolist() if isinstance(a, np.ndarray) else a) for a in args]
    return len(args), plain, kwargs


def identity(x):
    return x


def always_fail(*args, **kwargs):
    raise RuntimeError(f"called with {args} {kwargs}")


def fail_on_odd(x):
    if x % 2:
        raise ValueError(f"odd item {x}")
    return x * 10


def pid_of(*args, **kwargs):
    return os.getpid()


def slow_pid_of(x):
    time.sleep(0.005)
    return os.getpid()


def sleepy_identity(x, delay):
    time.sleep(delay)
    return x


async def async_sleepy_identity(x, delay):
    await asyncio.sleep(delay)
    return x


# -- failures that do not cross a process boundary -------------------------------------------


class NeedsTwoArgs(Exception):
    """An exception that pickles but cannot be unpickled (its __init__ wants two arguments)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def raise_unpicklable_on_one(x):
    if x == 1:
        raise NeedsTwoArgs(x, x)
    return x * 10


def return_lock_on_one(x):
    return threading.Lock() if x == 1 else x * 10


class Halt(BaseException):
    """A BaseException that is not an Exception (like KeyboardInterrupt, but harmless)."""


def halt_on_two(x):
    if x == 2:
        raise Halt(f"halt at {x}")
    return x


# -- failure order ---------------------------------------------------------------------------

_LATE_FIRST = threading.Event()


def reset_late_first():
    _LATE_FIRST.clear()


def fail_later_item_first(x):
    """Item 0 fails only after item 1 has failed (threads: the two must run on two runners)."""
    if x == 0:
        _LATE_FIRST.wait(5)
    else:
        _LATE_FIRST.set()
    raise ValueError(f"item {x}")


def fail_slowly_first(x):
    """Item 0 fails after a pause, the others at once."""
    if x == 0:
        time.sleep(0.2)
    raise ValueError(f"item {x}")


async def async_fail_later_item_first(x):
    """Item 0 fails after item 1: it sleeps first, item 1 fails at once."""
    if x == 0:
        await asyncio.sleep(0.05)
    raise ValueError(f"item {x}")


# -- concurrency ----------------------------------------------------------------------------


class Overlap:
    """Counts how many items run at the same time (thread-safe)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self):
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self):
        with self._lock:
            self.current -= 1


def count_overlap(x, overlap: Overlap):
    overlap.enter()
    try:
        time.sleep(0.02)
    finally:
        overlap.leave()
    return x


async def async_count_overlap(x, overlap: Overlap):
    overlap.enter()
    try:
        await asyncio.sleep(0.02)
    finally:
        overlap.leave()
    return x


# -- nested calls ----------------------------------------------------------------------------

inner_pids = parallel(init=lambda n: range(n), target="mpc")(pid_of)


def outer_worker(n):
    """Runs in an mpc worker and itself calls an mpc action: returns its pid and the inner pids."""
    return os.getpid(), inner_pids(n)


# -- batches ---------------------------------------------------------------------------------


def affine_fn(value, position, factor, shift=0):
    return value * factor + position + shift


def label_fn(item):
    return int(item.labels) * 10


def index_fn(ix):
    return ix * 2


class Values(Batch):
    """A batch of numbers with labels.

    Every action comes in two forms: ``name`` handles one item (declared for ``for``), and
    ``name_via_worker`` is declared for ``mpc``: called once, it returns the per-item function.
    Both run on any target given per call.
    """

    components = ("values", "labels")

    def _init_pairs(self, *args, **kwargs):
        return [[self.values[i], i] for i in range(len(self))]

    def _post_results(self, results, *args, **kwargs):
        return results

    @inbatch_parallel(init="_init_pairs", post="_post_results", target="for")
    def affine(self, value, position, factor, shift=0):
        return affine_fn(value, position, factor, shift)

    @inbatch_parallel(init="_init_pairs", post="_post_results", target="mpc")
    def affine_via_worker(self, factor, shift=0):
        return affine_fn

    @inbatch_parallel(init="items", post="_post_results", target="for")
    def label(self, item):
        return label_fn(item)

    @inbatch_parallel(init="items", post="_post_results", target="mpc")
    def label_via_worker(self):
        return label_fn

    @inbatch_parallel(init="indices", post="_post_results", target="for")
    def double_index(self, ix):
        return index_fn(ix)

    @inbatch_parallel(init="indices", post="_post_results", target="mpc")
    def double_index_via_worker(self):
        return index_fn

    @inbatch_parallel(init="values", post="_post_results", target="for")
    def element(self, *args, **kwargs):
        return describe(*args, **kwargs)

    @inbatch_parallel(init="values", post="_post_results", target="mpc")
    def element_via_worker(self, *args, **kwargs):
        return describe

    @inbatch_parallel(init="run_once", post="_post_results", target="for")
    def once(self, *args, **kwargs):
        return echo(*args, **kwargs)

    @inbatch_parallel(init="run_once", post="_post_results", target="mpc")
    def once_via_worker(self, *args, **kwargs):
        return echo

    @inbatch_parallel(init="indices", target="for")
    def check_even(self, ix):
        return fail_on_odd(ix)

    @inbatch_parallel(init="indices", target="mpc")
    def check_even_via_worker(self):
        return fail_on_odd


#: the two ways of writing a batch action
FORMS = ("item", "worker")


def action_of(batch: Batch, name: str, form: str):
    """Action ``name`` of ``batch`` in ``form``: per item, or declared for mpc (returns the worker)."""
    return getattr(batch, name if form == "item" else f"{name}_via_worker")


def make_values(n: int = 5, index=None) -> Values:
    return Values.from_data(
        index=index, data={"values": np.arange(n, dtype=float) * 1.5, "labels": np.arange(n) + 100}
    )


def nested_mpc_pids(n):
    """This process's pid, and the pids an mpc action called from here ran its ``n`` items in."""
    inner = parallel(init=lambda: range(n), target="mpc")(pid_of)()
    return os.getpid(), inner


def exit_once(x, marker):
    """Kill this worker process on the first call ever made with ``marker`` (a path); else return x."""
    if x == 0 and not os.path.exists(marker):
        with open(marker, "w"):
            pass
        os._exit(1)
    return x


def exit_always(x):
    """Kill this worker process."""
    os._exit(1)


def nested_dask_pids(n):
    """This process's pid, and the pids a dask action called from here ran its ``n`` items in."""
    inner = parallel(init=lambda: range(n), target="dask")(pid_of)()
    return os.getpid(), inner
