"""64 items each reading a 16 MiB slice of a 1 GiB array on processes: mpc, joblib, a hand-written pool.

Run: ``python benchmarks/bench_arrays.py [GiB]`` (default 1). Cases, each on 2 worker processes
(one per core of the reference machine), pools warm:

* ``mpc (writable)``: the array as an action argument; it crosses through one shared-memory
  segment per call, and after the call the regions the items received are copied back (the
  price of keeping writes);
* ``mpc (read-only)``: the same array marked read-only: shared, nothing copied back;
* ``mpc (component)``: ``init`` gives each item its slice (views of one base), as
  ``init="<component>"`` does; shared once, each slice copied back;
* ``mpc (to_shared)``: the array made by ``batchkit.to_shared`` beforehand: it lives in shared
  memory, so nothing is copied either way, however many calls it crosses to;
* ``joblib``: ``joblib.Parallel`` (loky, default ``max_nbytes``: the array is dumped to a
  memmapped file once per call);
* ``hand-written``: the array copied into a ``multiprocessing.shared_memory`` segment made
  once and reused by every call, a ``ProcessPoolExecutor`` whose workers attach it once, tasks
  naming a slice.

Times are the median of ``ROUNDS`` calls with nothing sampling; memory is measured in one more
call per case. Memory added: the peak, sampled every 10 ms during a call, of the PSS
(``/proc/<pid>/smaps_rollup``, shared pages counted once across processes) of the caller and
all its descendants, less their ``Pss_Shmem``, plus the pages in use in ``/dev/shm`` (so a
shared-memory page counts once, mapped or not), minus the same sum before the call.
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import shared_memory

import numpy as np
from _common import machine, table

from batchkit import parallel, to_shared
from batchkit.executors._shm_segments import CACHE

N_ITEMS = 64
N_WORKERS = 2
ROUNDS = 3


def keep(results, *args, **kwargs):
    return results


def read_slice(i, data, rows):
    return float(data[i * rows : (i + 1) * rows].sum())


def read_view(view):
    return float(view.sum())


# -- the hand-written baseline ----------------------------------------------------------------------

_attached = {}


def _attach(name, shape, dtype):
    segment = shared_memory.SharedMemory(name=name)
    _attached["data"] = np.ndarray(shape, dtype, segment.buf)
    _attached["segment"] = segment


def _read_attached(i, rows):
    return float(_attached["data"][i * rows : (i + 1) * rows].sum())


class HandWritten:
    def __init__(self, data):
        self.segment = shared_memory.SharedMemory(create=True, size=data.nbytes)
        self.shared = np.ndarray(data.shape, data.dtype, self.segment.buf)
        args = (self.segment.name, data.shape, data.dtype)
        # forkserver, not fork: forked workers would share the caller's pages copy-on-write,
        # and the next write into ``data`` (the writable case's copy-back) would copy them
        context = multiprocessing.get_context("forkserver")
        self.pool = ProcessPoolExecutor(N_WORKERS, context, initializer=_attach, initargs=args)

    def __call__(self, data, rows):
        self.shared[...] = data  # the copy, once per call, as batchkit makes it
        return list(self.pool.map(_read_attached, range(N_ITEMS), [rows] * N_ITEMS))

    def close(self):
        self.pool.shutdown()
        del self.shared
        self.segment.close()
        self.segment.unlink()


# -- memory -----------------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def _pss_kib(pid: int) -> int:
    """The process's PSS without its shared-memory pages (those are counted in /dev/shm, once)."""
    fields = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                name, _, rest = line.partition(":")
                if name in ("Pss", "Pss_Shmem"):
                    fields[name] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return fields.get("Pss", 0) - fields.get("Pss_Shmem", 0)


def _dev_shm_kib() -> int:
    info = os.statvfs("/dev/shm")
    return (info.f_blocks - info.f_bfree) * info.f_frsize // 1024


def footprint_kib() -> int:
    pids = [os.getpid(), *_descendants(os.getpid())]
    return sum(_pss_kib(pid) for pid in set(pids)) + _dev_shm_kib()


class Peak:
    """The peak footprint, sampled in a thread while the block runs."""

    def __enter__(self):
        self.before = footprint_kib()
        self.peak, self.done = self.before, threading.Event()
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while not self.done.wait(0.01):
            self.peak = max(self.peak, footprint_kib())

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
        self.peak = max(self.peak, footprint_kib())
        self.added_mib = (self.peak - self.before) / 1024


def main() -> None:
    gib = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    n_values = int(gib * (1 << 30)) // 8
    rows_total = N_ITEMS * 1024
    data = np.random.default_rng(0).random((rows_total, n_values // rows_total))
    rows = rows_total // N_ITEMS
    frozen = data.copy()
    frozen.flags.writeable = False
    expected = [read_slice(i, data, rows) for i in range(N_ITEMS)]

    from joblib import Parallel, delayed

    mpc = parallel(init=lambda *a, **k: list(range(N_ITEMS)), post=keep, target="mpc", n_workers=N_WORKERS)(
        read_slice
    )
    slices = [data[i * rows : (i + 1) * rows] for i in range(N_ITEMS)]  # as init="<component>" gives
    on_views = parallel(init=lambda *a, **k: slices, post=keep, target="mpc", n_workers=N_WORKERS)(read_view)
    joblib_pool = Parallel(n_jobs=N_WORKERS, backend="loky")
    hand = HandWritten(data)
    kept = to_shared(data)
    cases = {
        "mpc (writable)": lambda: mpc(data, rows),
        "mpc (read-only)": lambda: mpc(frozen, rows),
        "mpc (component)": lambda: on_views(),
        "mpc (to_shared)": lambda: mpc(kept, rows),
        "joblib": lambda: joblib_pool(delayed(read_slice)(i, data, rows) for i in range(N_ITEMS)),
        "hand-written": lambda: hand(data, rows),
    }
    slice_mib, total_gib = rows * data.shape[1] * 8 / 2**20, data.nbytes / 2**30
    print(machine())
    print(f"{N_ITEMS} items x {slice_mib:.0f} MiB slices of a {total_gib:.2f} GiB float64 array,")
    print(f"{N_WORKERS} workers, median of {ROUNDS} warm calls")
    try:
        seconds, peaks = _measure(cases, expected)
    finally:
        hand.close()
    if not _targets(seconds, peaks, data.nbytes / 2**20):
        sys.exit(1)


def _measure(cases, expected) -> tuple[dict, dict]:
    """Times first, with nothing watching; then one more call per case under the memory sampler.

    Reading ``smaps_rollup`` walks a process's page tables under its memory lock, which slows
    the page faults of the process it reads: timed under the sampler, the cases that fault
    most would look slower than they are.
    """
    for run in cases.values():  # warm: pools started, modules imported
        assert np.allclose(run(), expected)
    times = {name: [] for name in cases}
    added = {name: [] for name in cases}
    for _ in range(ROUNDS):
        for name, run in cases.items():
            start = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - start)
            assert np.allclose(result, expected)
    cold = {}
    for name, run in cases.items():  # a first call: no segment kept from an earlier one
        CACHE.clear()
        start = time.perf_counter()
        run()
        cold[name] = time.perf_counter() - start
    for name, run in cases.items():  # memory: a first call, then again
        CACHE.clear()
        for _ in range(2):
            with Peak() as peak:
                result = run()
            assert np.allclose(result, expected)
            added[name].append(peak.added_mib)
    seconds = {name: statistics.median(values) for name, values in times.items()}
    peaks = {name: max(values) for name, values in added.items()}
    rows = [
        [name, f"{seconds[name]:.3f} s", f"{cold[name]:.3f} s", f"{added[name][0]:.0f} MiB",
         f"{added[name][1]:.0f} MiB"]
        for name in cases
    ]  # fmt: skip
    header = ["case", "time (median, warm)", "time, first call", "memory added, first call", "again"]
    print(table(header, rows))
    return seconds, peaks


def _targets(seconds, peaks, batch_mib) -> bool:
    """The performance targets: no slower than joblib, at most 1.1x the batch added, 0 when kept."""
    checks = [
        ("mpc (writable) time / joblib time", seconds["mpc (writable)"] / seconds["joblib"], 1.0),
        ("mpc (read-only) time / joblib time", seconds["mpc (read-only)"] / seconds["joblib"], 1.0),
        ("mpc (component) time / joblib time", seconds["mpc (component)"] / seconds["joblib"], 1.0),
        ("mpc (writable) memory added / batch", peaks["mpc (writable)"] / batch_mib, 1.1),
        ("mpc (component) memory added / batch", peaks["mpc (component)"] / batch_mib, 1.1),
        ("mpc (to_shared) memory added / batch", peaks["mpc (to_shared)"] / batch_mib, 0.05),
    ]
    print()
    print(
        table(
            ["target", "measured", "limit", "result"],
            [
                [label, f"{value:.2f}x", f"<= {limit}x", "PASS" if value <= limit else "FAIL"]
                for label, value, limit in checks
            ],
        )
    )
    return all(value <= limit for _, value, limit in checks)


if __name__ == "__main__":
    main()
