"""A heavy GIL-free numba kernel over 64 items of 1 MiB: threads against sequential and prange.

Run: ``python benchmarks/bench_nogil.py``. Every case runs the same compiled per-item kernel
(``heavy_item``), so the comparison is of scheduling, not of separately compiled copies.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from _common import cpu_probe, fmt, machine, median, ratio, run_interleaved, table

from batchkit import Batch, inbatch_parallel, mjit

N_ITEMS, ITEM_FLOATS = 64, (1 << 20) // 8


@numba.njit(nogil=True)
def heavy_item(x, out):
    for i in range(x.size):
        v = x[i]
        out[i] = np.sin(v) * np.exp(-v * v / 2.0) + np.log1p(abs(v))


@numba.njit(nogil=True, parallel=True)
def heavy_prange(xs, outs):
    for k in numba.prange(xs.shape[0]):
        heavy_item(xs[k], outs[k])


class Signals(Batch):
    components = ("x", "out")

    @inbatch_parallel(init="_pairs", target="threads")
    @mjit
    def heavy(self, x, out):
        heavy_item(x, out)

    def _pairs(self, *args, **kwargs):
        return [[x, out] for x, out in zip(self.x, self.out, strict=True)]


def main(rounds: int = 9) -> int:
    print(f"# nogil kernel: {N_ITEMS} items x 1 MiB float64\n\n{machine()}\n")
    print(f"CPU probe (2 threads vs 1, ideal 2.0): {cpu_probe():.2f}\n")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_ITEMS, ITEM_FLOATS))
    batch = Signals.from_data(data={"x": x, "out": np.zeros_like(x)})
    item_list = list(x)
    outs = np.zeros_like(x)
    tpe = ThreadPoolExecutor(2)
    expected = np.empty_like(x)
    for k in range(N_ITEMS):
        heavy_item(x[k], expected[k])

    def sequential():
        for k in range(N_ITEMS):
            heavy_item(x[k], outs[k])
        return outs

    def tpe_items():
        for future in [tpe.submit(heavy_item, x[k], outs[k]) for k in range(N_ITEMS)]:
            future.result()
        return outs

    def prange_stacked():
        heavy_prange(x, outs)
        return outs

    def prange_incl_stack():
        heavy_prange(np.stack(item_list), outs)
        return outs

    cases = {
        "sequential (same kernel, Python loop)": sequential,
        "batchkit for": lambda: batch.heavy(target="for").out,
        "batchkit threads (default workers)": lambda: batch.heavy().out,
        "batchkit threads, n_workers=2": lambda: batch.heavy(n_workers=2).out,
        "ThreadPoolExecutor(2) reused, future per item": tpe_items,
        "numba prange over the stacked array": prange_stacked,
        "numba prange incl. np.stack of the items": prange_incl_stack,
    }

    def check(name, result):
        if not np.array_equal(result, expected):
            raise AssertionError(f"{name} gave wrong results")
        outs[:] = 0
        batch.out[:] = 0

    samples = run_interleaved(cases, rounds=rounds, check=check)
    seq = "sequential (same kernel, Python loop)"
    rows = [[name, fmt(median(s)), f"{ratio(samples, seq, name):.2f}x"] for name, s in samples.items()]
    print(table(["case", "time per batch", "speed-up vs sequential"], rows))
    threads = "batchkit threads (default workers)"
    checks = [
        ("threads vs sequential", ratio(samples, seq, threads), 1.9),
        (
            "threads vs prange over the stacked array",
            ratio(samples, "numba prange over the stacked array", threads),
            0.95,
        ),
    ]
    print(
        "\n| performance target | speed-up (median of per-round ratios) | at least | result |\n"
        "|---|---|---|---|"
    )
    failed = 0
    for label, value, floor in checks:
        failed += value < floor
        print(f"| {label} | {value:.2f}x | {floor}x | {'PASS' if value >= floor else 'FAIL'} |")
    print(f"\nCPU probe at the end: {cpu_probe():.2f}; numba threading layer: {numba.threading_layer()}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
