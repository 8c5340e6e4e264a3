"""Module-level batch classes and workers for the pipeline and apply_parallel tests.

Everything is importable by name, so the ``mpc`` target can pickle it by reference.
"""

from __future__ import annotations

import contextlib
import threading
import time

import numpy as np

from batchkit import Batch, Dataset, SkipBatch, StopPipeline, action, apply_parallel, inbatch_parallel

# -- plain per-item workers (apply_parallel) ---------------------------------------------------


def double(x):
    return x * 2


def add(x, y):
    return x + y


def scale_shift(x, factor, shift=0):
    return x * factor + shift


def pair_sum(pair):
    """The sum of a ``(x, y)`` tuple item."""
    x, y = pair
    return x + y


def sum_and_diff(pair):
    x, y = pair
    return x + y, x - y


def strict_one_arg(x):
    """Accepts exactly one argument: fails if anything (like ``src=``) leaks into the call."""
    return x + 1


def draw(x, rng):
    """One random draw per item, from the item's own generator."""
    return float(rng.random())


def draw_scaled(x, rng, scale=1.0):
    """One random draw per item, times ``scale`` (a worker that takes a keyword besides ``rng``)."""
    return float(rng.random()) * scale


def double_or_keep(x, factor=2):
    return x * factor


def meet_and_double(x, barrier):
    """Double ``x`` once ``barrier.parties`` items are running at the same time (10 s at most)."""
    barrier.wait(10)
    return x * 2


def ragged(x):
    """A list of ``x`` ones: results of different lengths."""
    return [1] * int(x)


def fail_on_three(x):
    if x == 3:
        raise ValueError(f"item {x} is bad")
    return x


def collect_post(results, *args, src=None, dst=None, **kwargs):
    """A post that returns the results list and what it was told."""
    return {"results": list(results), "src": src, "dst": dst}


# -- concurrency counting ------------------------------------------------------------------------


class Overlap:
    """Counts how many batches are inside an action at the same time (thread-safe)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def enter(self):
        with self.lock:
            self.current += 1
            self.peak = max(self.peak, self.current)

    def leave(self):
        with self.lock:
            self.current -= 1


# -- batch classes --------------------------------------------------------------------------------


class Numbers(Batch):
    """One component ``x``; actions of every kind."""

    components = ("x",)

    @action
    def add_one(self):
        self.x = self.x + 1
        return self

    @action
    def resize(self, size=1, mode="same"):
        self.size_seen = size
        return self

    @action
    def multiply(self, factor):
        self.x = self.x * factor
        return self

    @action
    def store(self, name, value):
        """Set attribute ``name`` to ``value`` (to look at what an evaluated argument gave)."""
        setattr(self, name, value)
        return self

    @action
    def record(self, log):
        """Append this batch's index values to ``log`` (a list shared by the test)."""
        log.append(self.indices.tolist())
        return self

    @action
    def fail_if(self, values):
        """Raise ValueError if the batch holds any of ``values``."""
        bad = set(values) & set(self.indices.tolist())
        if bad:
            raise ValueError(f"bad values {sorted(bad)}")
        return self

    @action
    def skip_if(self, values):
        if set(values) & set(self.indices.tolist()):
            raise SkipBatch()
        return self

    @action
    def stop_if(self, values):
        if set(values) & set(self.indices.tolist()):
            raise StopPipeline()
        return self

    @action
    def sleep(self, seconds):
        time.sleep(seconds)
        return self

    @action
    def sleep_if(self, values, seconds):
        """Sleep ``seconds`` if the batch holds any of ``values``."""
        if set(values) & set(self.indices.tolist()):
            time.sleep(seconds)
        return self

    @action
    def meet(self, barrier):
        """Wait until ``barrier.parties`` batches are here (at most 10 s; a broken barrier is ignored)."""
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(10)
        return self

    @action
    def slow_fail_if(self, values, delay):
        """Sleep ``delay`` then raise if the batch holds any of ``values``; otherwise return at once."""
        if set(values) & set(self.indices.tolist()):
            time.sleep(delay)
            raise ValueError(f"slow failure on {sorted(set(values) & set(self.indices.tolist()))}")
        return self

    @action
    def count_overlap(self, overlap, seconds=0.02):
        overlap.enter()
        try:
            time.sleep(seconds)
        finally:
            overlap.leave()
        return self

    @action
    def replace_with_new(self):
        """Return a new batch (of the same items): the pipeline goes on with it."""
        new = Numbers.from_data(index=self.indices, data={"x": self.x * 100})
        return new

    @action
    def joined(self, other):
        """The first argument is the batch of a joined pipeline."""
        self.other_x = other.x
        return self

    @action
    @inbatch_parallel(init="indices", post="_gather", target="threads")
    def per_item(self, ix, value, offset=0):
        """One call per index value: returns ``(ix, value + offset)``."""
        return ix, value + offset

    def _gather(self, results, *args, **kwargs):
        self.gathered = list(results)
        return self

    @apply_parallel(src="x", dst="y")
    def plus(self, x, amount=1):
        return x + amount

    def not_an_action(self):
        return self


class Other(Batch):
    """Another batch class whose action ``Numbers`` does not have."""

    components = ("x",)

    @action
    def only_in_other(self):
        return self


class Pairs(Batch):
    """Two components for tuple and list src."""

    components = ("a", "b")

    @apply_parallel
    def bump(self, value, amount=1):
        return value + amount

    @apply_parallel(src=("a", "b"), dst="s")
    def combine(self, pair):
        return pair[0] * 10 + pair[1]

    @apply_parallel(src="a", requires_rng=True, dst="r")
    def noise(self, value, rng):
        return float(rng.random())


def numbers_dataset(n=10, batch_class=Numbers, start=0):
    """A dataset of ``n`` items with index values ``start..start+n-1`` and ``x`` = 10 * position."""
    return Dataset(np.arange(start, start + n), batch_class, preloaded={"x": np.arange(n) * 10})


def pairs_batch(n=6):
    return Pairs.from_data(data={"a": np.arange(n), "b": np.arange(n) * 100})


# -- skip_items ------------------------------------------------------------------------------------


def fail_on_marked(ix, marked=(3, 7)):
    """Per-item worker: raise for the index values in ``marked``, else return ``ix * 10``."""
    if ix in marked:
        raise ValueError(f"item {ix} is marked")
    return ix * 10


def wait_then_fail_on_marked(ix, marked=(3, 7)):
    """Like `fail_on_marked`, after a pause (so that fail_fast leaves items unstarted)."""
    time.sleep(0.01)
    return fail_on_marked(ix, marked)


class Marked(Batch):
    """Components ``x`` (an array) and ``names`` (a list): both must be cropped with the index."""

    components = ("x", "names")

    @action
    @inbatch_parallel(init="indices", target="mpc")
    def check(self, marked=(3, 7)):
        """Declared for mpc: returns the per-item worker, so it runs on every target."""
        return fail_on_marked

    @action
    @inbatch_parallel(init="indices", target="mpc")
    def check_slowly(self, marked=(3, 7)):
        return wait_then_fail_on_marked

    @action
    def add_one(self):
        self.x = self.x + 1
        return self

    @action
    def fail_if(self, values):
        """Raise a plain ValueError (not a ParallelError) if the batch holds any of ``values``."""
        if set(values) & set(self.indices.tolist()):
            raise ValueError(f"bad values {sorted(set(values) & set(self.indices.tolist()))}")
        return self

    @action
    def check_wrapped(self, marked=(3, 7)):
        """Calls a parallel action and raises another error from its ParallelError."""
        try:
            self.check(marked=marked, target="for")
        except Exception as error:
            raise RuntimeError("checking failed") from error
        return self

    @action
    @inbatch_parallel(init="_pairs", target="for")
    def check_pairs(self, ix, marked=(3, 7)):
        """One call per pair of items: its positions are not the batch's."""
        fail_on_marked(ix, marked)

    def _pairs(self, *args, **kwargs):
        return self.indices[::2].tolist()

    @apply_parallel(src="x", dst="y")
    def tenth(self, x, bad=30):
        if x == bad:
            raise ValueError(f"x {x} is bad")
        return x / 10

    @apply_parallel(src=("x", "x"), dst=("low", "high"))
    def bounds(self, pair, bad=30):
        if pair[0] == bad:
            raise ValueError(f"x {pair[0]} is bad")
        return pair[0] - 1, pair[0] + 1


def marked_dataset(n=10):
    """Index values ``0..n-1``, ``x`` = 10 * value, ``names`` = ``["n0", "n1", ...]``."""
    return Dataset(n, Marked, preloaded={"x": np.arange(n) * 10, "names": [f"n{i}" for i in range(n)]})


# -- journals --------------------------------------------------------------------------------------


class Journaled(Batch):
    """Actions for resumable runs: a pause, a failure switched on by a flag file, random draws."""

    components = ("x", "noise")

    @action
    def pause(self, seconds):
        time.sleep(seconds)
        return self

    @action
    def fail_while(self, flag, values):
        """Raise while the file ``flag`` exists, for a batch holding any of ``values``."""
        import os

        if os.path.exists(flag) and set(values) & set(self.indices.tolist()):
            raise ValueError(f"flag {flag} is up for {sorted(set(values) & set(self.indices.tolist()))}")
        return self

    @action
    def draw(self):
        self.noise = self.random.random(len(self))
        return self

    @action
    def double(self):
        self.x = self.x * 2
        return self


def journaled_dataset(n=24, width=None):
    """``x`` is the index value (repeated ``width`` times per item, to make the parts larger)."""
    x = np.arange(n) if width is None else np.repeat(np.arange(n)[:, None], width, axis=1)
    return Dataset(n, Journaled, preloaded={"x": x})
