"""Dispatch overhead: what a call and an item cost on each target, with trivial items.

Run: ``python benchmarks/bench_dispatch.py``. Every case returns its items' values in order
(checked once per case). Per-item figures are the call's time divided by the items.
"""

from __future__ import annotations

import asyncio
import math
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
from _common import cpu_probe, fmt, machine, median, ratio, run_interleaved, table

from batchkit import Batch, inbatch_parallel

SIZES = (1, 100, 10_000)


def identity(ix):
    return ix


class Trivial(Batch):
    """Actions whose items cost nothing: what is measured is the dispatch."""

    def by_hand(self, ix):
        return ix

    @inbatch_parallel(init="indices", post="_collect", target="threads")
    def on_threads(self, ix):
        return ix

    @inbatch_parallel(init="indices", post="_collect", target="for")
    def on_for(self, ix):
        return ix

    @inbatch_parallel(init="indices", post="_collect", target="async")
    async def on_async(self, ix):
        return ix

    @inbatch_parallel(init="indices", post="_collect", target="mpc")
    def on_mpc(self):
        return identity

    def _collect(self, results, *args, **kwargs):
        return results


def _batchflow_cases(n, expected):
    try:
        from batchflow.decorators import inbatch_parallel as bf_parallel
    except ImportError:
        return {}

    class BF:
        def __init__(self, items):
            self.items_ = items

        def init_items(self, *args, **kwargs):
            return self.items_

        def collect(self, results, *args, **kwargs):
            return results

        @bf_parallel(init="init_items", post="collect", target="threads")
        def work_threads(self, ix):
            return ix

        @bf_parallel(init="init_items", post="collect", target="for")
        def work_for(self, ix):
            return ix

    holder = BF(expected)
    return {"batchflow threads": holder.work_threads, "batchflow for": holder.work_for}


def cases_for(n, tpe, ppe):
    batch = Trivial(np.arange(n))
    indices = batch.indices.tolist()
    method = batch.by_hand

    def loop():
        return [method(ix) for ix in indices]

    def tpe_chunked():
        step = math.ceil(n / 4)
        futures = [
            tpe.submit(lambda lo: [method(ix) for ix in indices[lo : lo + step]], lo)
            for lo in range(0, n, step)
        ]
        return [value for future in futures for value in future.result()]

    def tpe_submit_wait():  # one future per item
        return [future.result() for future in [tpe.submit(method, ix) for ix in indices]]

    def ppe_chunked():
        return list(ppe.map(identity, indices, chunksize=max(1, math.ceil(n / 8))))

    def joblib_threads():
        from joblib import Parallel, delayed

        return Parallel(n_jobs=2, prefer="threads")(delayed(method)(ix) for ix in indices)

    def joblib_loky():
        from joblib import Parallel, delayed

        return Parallel(n_jobs=2)(delayed(identity)(ix) for ix in indices)

    cases = {
        "plain loop": loop,
        "ThreadPoolExecutor(2) reused, 4 chunks": tpe_chunked,
        "ThreadPoolExecutor(2) reused, future per item": tpe_submit_wait,
        "ProcessPoolExecutor(2) reused, 8 chunks": ppe_chunked,
        "joblib threads": joblib_threads,
        "joblib loky": joblib_loky,
        "batchkit for": batch.on_for,
        "batchkit threads": batch.on_threads,
        "batchkit async": batch.on_async,
        "batchkit mpc": batch.on_mpc,
    }
    cases.update(_batchflow_cases(n, indices))
    return cases


def main(rounds: int = 7) -> int:
    print(f"# Dispatch overhead\n\n{machine()}\n\nCPU probe (2 threads vs 1, ideal 2.0): {cpu_probe():.2f}\n")
    asyncio.set_event_loop(asyncio.new_event_loop())  # joblib and batchflow's async need none; harmless
    tpe, ppe = ThreadPoolExecutor(2), ProcessPoolExecutor(2)
    per_size = {}
    for n in SIZES:
        expected = list(range(n))

        def check(name, result, expected=expected):
            if list(result) != expected:
                raise AssertionError(f"{name} gave wrong results")

        per_size[n] = run_interleaved(cases_for(n, tpe, ppe), rounds=rounds, check=check)
    names = list(per_size[SIZES[0]])
    rows = []
    for name in names:
        row = [name]
        for n in SIZES:
            t = median(per_size[n][name])
            row.append(f"{fmt(t)} ({fmt(t / n)}/item)" if n > 1 else fmt(t))
        row.append(f"{ratio(per_size[SIZES[-1]], name, 'plain loop'):.2f}")
        rows.append(row)
    header = ["case"] + [f"N={n}" for n in SIZES] + [f"x loop @N={SIZES[-1]}"]
    print(table(header, rows))
    checks = [
        (
            "threads, 10,000 items vs reused TPE fed chunks",
            per_size[10_000],
            "batchkit threads",
            "ThreadPoolExecutor(2) reused, 4 chunks",
            2.0,
        ),
        (
            "threads, 1 item vs reused TPE submit-and-wait",
            per_size[1],
            "batchkit threads",
            "ThreadPoolExecutor(2) reused, future per item",
            2.0,
        ),
        (
            "mpc, 100 items vs reused PPE fed chunks",
            per_size[100],
            "batchkit mpc",
            "ProcessPoolExecutor(2) reused, 8 chunks",
            2.0,
        ),
    ]
    print(
        "\n| performance target | ratio (median of per-round ratios) | limit | result |\n|---|---|---|---|"
    )
    failed = 0
    for label, samples, case, reference, limit in checks:
        value = ratio(samples, case, reference)
        failed += value > limit
        print(f"| {label} | {value:.2f}x | <= {limit}x | {'PASS' if value <= limit else 'FAIL'} |")
    print(f"\nCPU probe at the end: {cpu_probe():.2f}")
    tpe.shutdown()
    ppe.shutdown()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
