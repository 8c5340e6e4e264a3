"""Block processing of a volume on disk: time and peak memory, against a hand-written loop.

A 256 MiB float32 volume in a ``.npy`` file gets a 3-D box mean of radius 2 (computed only
from data inside the volume), written to a ``.npy`` sink. Cases:

* ``loop``: a hand-written loop over `split_into_blocks`, reading from one memmap of the
  source and writing into one memmap of the sink (what one writes without batchkit);
* ``threads`` and ``mpc``: `process_blocks` with the same blocks;
* ``dask``: ``dask.array.map_overlap`` with ``depth=2, boundary="none"``, when dask is installed;
* ``whole``: the filter on the whole volume in memory, for reference.

Each case runs in a fresh interpreter and reports its peak resident memory (``VmHWM`` of
``/proc/self/status``; for ``mpc`` also the largest among its worker processes). Mapped file
pages a process has touched count as resident, so a loop that keeps one memmap open for the
whole volume ends up "holding" the files, though the kernel may drop those pages at will.
Every case's sink is compared with the loop's (``np.array_equal``).

Run: ``python benchmarks/bench_blocks.py`` (``--shape 128 512 512`` for a smaller volume).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

RADIUS = 2
SIZE_MAX = 16  # slices per block along axis 0, overlap included


def box_mean(block: np.ndarray, radius: int = RADIUS) -> np.ndarray:
    """The mean over a (2r+1)^3 box of the elements inside the array, in float32."""
    out = np.asarray(block, dtype=np.float32)
    count = np.ones((), dtype=np.float32)
    for axis in range(out.ndim):
        length = out.shape[axis]
        total = out.copy()
        for d in range(1, radius + 1):
            if d >= length:
                break
            lo = [slice(None)] * out.ndim
            hi = [slice(None)] * out.ndim
            lo[axis], hi[axis] = slice(0, length - d), slice(d, length)
            total[tuple(lo)] += out[tuple(hi)]
            total[tuple(hi)] += out[tuple(lo)]
        out = total
        ones = np.arange(length)
        window = np.minimum(ones + radius, length - 1) - np.maximum(ones - radius, 0) + 1
        per_axis = window.astype(np.float32)
        shape = [1] * out.ndim
        shape[axis] = length
        count = count * per_axis.reshape(shape)
    out /= count
    return out


def rss_mib(pid: str = "self", field: str = "VmHWM") -> float:
    """``VmHWM`` (peak resident memory) or ``VmRSS`` (now) of a process, in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def descendant_pids(pid: str = "self") -> list[int]:
    """Every process below this one (mpc workers are children of a forkserver, its child)."""
    found = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as children:
                direct = [int(child) for child in children.read().split()]
        except OSError:
            continue
        for child in direct:
            found += [child, *descendant_pids(str(child))]
    return found


def run_case(case: str, source_path: str, sink_path: str, n_workers: int) -> dict:
    """One case, in this (fresh) process: returns seconds and peak memory."""
    from batchkit import process_blocks, split_into_blocks

    extra = {}
    if case == "threads":  # the thread pool and its imports, as mpc's pool below
        process_blocks(box_mean, np.zeros((4, 4, 4), np.float32), target="threads", n_workers=n_workers)
    if case == "mpc":  # start the worker pool first: its start is not block processing
        process_blocks(box_mean, np.zeros((4, 4, 4), np.float32), target="mpc", n_workers=n_workers)
    start_mib = rss_mib(field="VmRSS")  # the interpreter, numpy and batchkit, before any block
    start = time.perf_counter()
    if case == "loop":
        source = np.load(source_path, mmap_mode="r")
        sink = np.lib.format.open_memmap(sink_path, mode="w+", dtype=source.dtype, shape=source.shape)
        for block in split_into_blocks(source, size_max=SIZE_MAX, overlap=RADIUS):
            result = box_mean(np.asarray(source[block.slicing]))
            sink[block.valid_slicing] = result[block.valid_in_block]
        sink.flush()
    elif case in ("threads", "mpc"):
        process_blocks(
            box_mean, source_path, sink_path,
            size_max=SIZE_MAX, overlap=RADIUS, target=case, n_workers=n_workers,
        )  # fmt: skip
    elif case == "dask":
        import dask.array as da

        source = np.load(source_path, mmap_mode="r")
        sink = np.lib.format.open_memmap(sink_path, mode="w+", dtype=source.dtype, shape=source.shape)
        chunks = (SIZE_MAX - 2 * RADIUS, *source.shape[1:])
        volume = da.from_array(source, chunks=chunks)
        filtered = volume.map_overlap(box_mean, depth=RADIUS, boundary="none", dtype=np.float32)
        da.store(filtered, sink, lock=False, scheduler="threads", num_workers=n_workers)
        sink.flush()
    elif case == "whole":
        source = np.load(source_path)
        np.save(sink_path, box_mean(source))
    else:
        raise ValueError(case)
    seconds = time.perf_counter() - start
    if case == "mpc":
        extra["worker_peak_mib"] = max((rss_mib(str(pid)) for pid in descendant_pids()), default=0.0)
    return {"case": case, "seconds": seconds, "peak_mib": rss_mib(), "start_mib": start_mib, **extra}


def same_files(a: str, b: str) -> bool:
    x, y = np.load(a, mmap_mode="r"), np.load(b, mmap_mode="r")
    step = 16
    return x.shape == y.shape and all(
        np.array_equal(x[i : i + step], y[i : i + step]) for i in range(0, x.shape[0], step)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=[256, 512, 512])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--paths", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, *args.paths, args.workers)))
        return 0
    try:
        import dask.array  # noqa: F401

        cases = ["loop", "threads", "mpc", "dask", "whole"]
    except ImportError:
        cases = ["loop", "threads", "mpc", "whole"]
    shape = tuple(args.shape)
    size_mib = np.prod(shape) * 4 / 2**20
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
        source_path = os.path.join(folder, "source.npy")
        source = np.lib.format.open_memmap(source_path, mode="w+", dtype=np.float32, shape=shape)
        rng = np.random.default_rng(0)
        for i in range(0, shape[0], 16):
            source[i : i + 16] = rng.random((min(16, shape[0] - i), *shape[1:]), dtype=np.float32)
        source.flush()
        del source
        print(f"# Block processing: a {shape} float32 volume ({size_mib:.0f} MiB) on disk, "
              f"box mean r={RADIUS}\n")  # fmt: skip
        print(f"{os.cpu_count()} CPUs; {args.workers} workers; blocks of at most {SIZE_MAX} slices "
              f"along axis 0, overlap {RADIUS}; numpy {np.__version__}\n")  # fmt: skip
        if "dask" not in cases:
            print("dask is not installed: the map_overlap case is skipped\n")
        rows = []
        for case in cases:
            sink_path = os.path.join(folder, f"sink_{case}.npy")
            command = [sys.executable, __file__, "--case", case, "--paths", source_path, sink_path,
                       "--workers", str(args.workers)]  # fmt: skip
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"{case} failed:\n{done.stderr}")
                return 1
            result = json.loads(done.stdout.strip().splitlines()[-1])
            same = same_files(sink_path, os.path.join(folder, "sink_loop.npy"))
            workers = f"{result['worker_peak_mib']:.0f} MiB" if "worker_peak_mib" in result else "-"
            above = result["peak_mib"] - result["start_mib"]
            rows.append([case, f"{result['seconds']:.2f} s", f"{result['peak_mib']:.0f} MiB",
                         f"{above:.0f} MiB", f"{above / size_mib:.2f}", workers,
                         "yes" if same else "NO"])  # fmt: skip
            if case != "loop":
                os.remove(sink_path)
        header = ["case", "time", "peak RSS", "peak above start", "above start / volume",
                  "peak RSS of largest worker", "equals loop"]  # fmt: skip
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
