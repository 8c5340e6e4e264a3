"""GIL-bound pure-Python items (64 x ~5 ms) on processes against sequential.

Run: ``python benchmarks/bench_gil.py``.
"""

from __future__ import annotations

import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
from _common import cpu_probe, fmt, machine, median, ratio, run_interleaved, table

from batchkit import Batch, inbatch_parallel, parallel

N_ITEMS = 64


def python_work(seed, loops):
    """An integer loop: pure Python, holds the GIL all along."""
    total = seed
    for i in range(loops):
        total = (total * 1103515245 + 12345 + i) & 0x7FFFFFFF
    return total


class Items(Batch):
    @inbatch_parallel(init="indices", post="_collect", target="mpc")
    def work(self, loops):
        return python_work

    def _collect(self, results, *args, **kwargs):
        return results


@parallel(init=lambda loops: range(N_ITEMS), target="mpc")
def work_function(seed, loops):
    return python_work(seed, loops)


def calibrate(target_seconds=0.005) -> int:
    loops = 10_000
    while True:
        start = time.perf_counter()
        python_work(1, loops)
        took = time.perf_counter() - start
        if took > 0.001:
            return int(loops * target_seconds / took)
        loops *= 2


def main(rounds: int = 11) -> int:
    loops = calibrate()
    print(f"# GIL-bound items: {N_ITEMS} x ~5 ms of pure Python\n\n{machine()}\n")
    print(f"CPU probe (2 threads vs 1, ideal 2.0): {cpu_probe():.2f}; loops per item: {loops}\n")
    batch = Items(np.arange(N_ITEMS))
    seeds = list(range(N_ITEMS))
    expected = [python_work(s, loops) for s in seeds]
    tpe, ppe = ThreadPoolExecutor(2), ProcessPoolExecutor(2)

    def sequential():
        return [python_work(s, loops) for s in seeds]

    def ppe_chunked():
        return list(ppe.map(python_work, seeds, [loops] * N_ITEMS, chunksize=math.ceil(N_ITEMS / 8)))

    def tpe_items():
        return [f.result() for f in [tpe.submit(python_work, s, loops) for s in seeds]]

    def joblib_loky():
        from joblib import Parallel, delayed

        return Parallel(n_jobs=2)(delayed(python_work)(s, loops) for s in seeds)

    cases = {
        "sequential": sequential,
        "batchkit mpc (method returns the worker)": lambda: batch.work(loops),
        "batchkit mpc (parallel() function)": lambda: work_function(loops),
        "ProcessPoolExecutor(2) reused, 8 chunks": ppe_chunked,
        "joblib loky": joblib_loky,
        "ThreadPoolExecutor(2), future per item": tpe_items,
    }

    def check(name, result):
        if list(result) != expected:
            raise AssertionError(f"{name} gave wrong results")

    samples = run_interleaved(cases, rounds=rounds, check=check)
    rows = [
        [name, fmt(median(s)), f"{ratio(samples, 'sequential', name):.2f}x"] for name, s in samples.items()
    ]
    print(table(["case", "time per batch", "speed-up vs sequential"], rows))
    value = ratio(samples, "sequential", "batchkit mpc (method returns the worker)")
    verdict = "PASS" if value >= 1.75 else "FAIL"
    print("\n| performance target | speed-up | at least | result |\n|---|---|---|---|")
    print(f"| 64 GIL-bound ~5 ms items on mpc vs sequential | {value:.2f}x | 1.75x | {verdict} |")
    print(f"\nCPU probe at the end: {cpu_probe():.2f}")
    tpe.shutdown()
    ppe.shutdown()
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
