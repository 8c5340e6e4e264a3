"""What reliability costs and what it saves: timeout= and fail_fast= against the alternatives.

1. The price on calls that need neither: 1,000 trivial items per call, with and without
   ``timeout=`` (a supervising caller) and ``fail_fast=True``, on every target.
2. One stuck item among 8 (it sleeps 5 s): how long the call takes to return and how many
   results it keeps, with ``timeout=0.3``, against joblib's ``Parallel(timeout=0.3)``.
3. The first of 200 items (10 ms each) fails: how long until the caller knows, with and
   without ``fail_fast``, against joblib (which stops at the first error) and
   ``concurrent.futures`` with a hand-written cancel loop.

Run: ``python benchmarks/bench_reliability.py``.
"""

from __future__ import annotations

import contextlib
import os
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

from _common import cpu_probe, fmt, machine, median, ratio, run_interleaved, table

from batchkit import ParallelError, parallel

TARGETS = ("for", "threads", "async", "mpc")


def add_one(x):
    return x + 1


async def async_add_one(x):
    return x + 1


def stuck_at(x, stuck, seconds):
    if x == stuck:
        time.sleep(seconds)
    return x


def die_at(x, culprit):
    if x == culprit:
        os._exit(3)  # the worker process dies on the spot: a crash in native code, say
    return x


def fail_first(x, delay):
    if x == 0:
        raise ValueError("the first item is bad")
    time.sleep(delay)
    return x


def keep(results, *args, **kwargs):
    return results


def price_of_settings() -> str:
    cases = {}
    for target in TARGETS:
        fn = async_add_one if target == "async" else add_one
        for label, options in (
            ("plain", {}),
            ("timeout=60", {"timeout": 60}),
            ("fail_fast", {"fail_fast": True}),
        ):
            action = parallel(init=lambda: range(1000), target=target, **options)(fn)
            cases[f"{target} {label}"] = action
    samples = run_interleaved(cases, rounds=7, check=lambda name, result: result == list(range(1, 1001)))
    rows = []
    for target in TARGETS:
        plain = f"{target} plain"
        cells = [target, fmt(median(samples[plain]) / 1000)]
        for label in ("timeout=60", "fail_fast"):
            case = f"{target} {label}"
            cells.append(f"{fmt(median(samples[case]) / 1000)} ({ratio(samples, case, plain):.2f}x)")
        rows.append(cells)
    return table(["target", "per item, plain", "with timeout=60", "with fail_fast=True"], rows)


def stuck_item() -> str:
    rows = []
    for target in ("for", "threads", "mpc"):
        action = parallel(init=lambda *a: range(8), post=keep, target=target, n_workers=2, timeout=0.3)(
            stuck_at
        )
        start = time.perf_counter()
        results = action(3, 5.0)
        took = time.perf_counter() - start
        kept = sum(1 for i, r in enumerate(results) if i not in results.failed_positions and r == i)
        rows.append([f"batchkit {target}, timeout=0.3", fmt(took), f"{kept} of 8"])
    from joblib import Parallel, delayed

    start = time.perf_counter()
    try:
        values = Parallel(n_jobs=2, timeout=0.3)(delayed(stuck_at)(i, 3, 5.0) for i in range(8))
        kept = len(values)
    except Exception as error:  # joblib raises multiprocessing's TimeoutError
        if "TimeoutError" not in type(error).__name__:
            raise
        kept = 0
    rows.append(["joblib loky, timeout=0.3", fmt(time.perf_counter() - start), f"{kept} of 8 (TimeoutError)"])
    return table(["case", "call returned after", "results kept"], rows)


def dead_worker() -> str:
    rows = []
    action = parallel(init=lambda *a: range(8), post=keep, target="mpc", n_workers=2)(die_at)
    start = time.perf_counter()
    results = action(3)
    kept = sum(1 for i, r in enumerate(results) if i not in results.failed_positions and r == i)
    rows.append(["batchkit mpc", fmt(time.perf_counter() - start), f"{kept} of 8", type(results[3]).__name__])
    from joblib import Parallel, delayed

    start = time.perf_counter()
    try:
        values, error = Parallel(n_jobs=2)(delayed(die_at)(i, 3) for i in range(8)), ""
    except Exception as exc:  # loky ends the whole call
        values, error = [], type(exc).__name__
    rows.append(["joblib loky", fmt(time.perf_counter() - start), f"{len(values)} of 8", error])
    return table(["case", "call returned after", "results kept", "error"], rows)


def first_item_fails() -> str:
    rows = []
    for target in ("threads", "mpc"):
        for fail_fast in (False, True):
            action = parallel(init=lambda *a: range(200), target=target, n_workers=2, fail_fast=fail_fast)(
                fail_first
            )
            start = time.perf_counter()
            try:
                action(0.01)
            except ParallelError as error:
                cancelled = len(error.cancelled_positions)
            rows.append(
                [f"batchkit {target}, fail_fast={fail_fast}", fmt(time.perf_counter() - start), cancelled]
            )
    from joblib import Parallel, delayed

    start = time.perf_counter()
    with contextlib.suppress(ValueError):
        Parallel(n_jobs=2, prefer="threads")(delayed(fail_first)(i, 0.01) for i in range(200))
    rows.append(["joblib threads (stops at the first error)", fmt(time.perf_counter() - start), "?"])
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(fail_first, i, 0.01) for i in range(200)]
        wait(futures, return_when=FIRST_EXCEPTION)
        cancelled = sum(future.cancel() for future in futures)
    rows.append(
        ["ThreadPoolExecutor(2), wait FIRST_EXCEPTION + cancel", fmt(time.perf_counter() - start), cancelled]
    )
    return table(["case", "caller knows after", "items not started"], rows)


def main() -> None:
    print(f"machine: {machine()}; CPU probe {cpu_probe():.2f} (ideal 2.0)\n")
    print("### The price of the settings (1,000 trivial items per call)\n")
    print(price_of_settings(), "\n")
    print("### One stuck item among 8 (it sleeps 5 s)\n")
    print(stuck_item(), "\n")
    print("### One item of 8 kills its worker process\n")
    print(dead_worker(), "\n")
    print("### The first of 200 items (10 ms each) fails\n")
    print(first_item_fails())


if __name__ == "__main__":
    main()
