"""``python -m batchkit bench``: how fast each target is on this machine, against the alternatives.

Five workloads (the cost of a call, the cost of an item, a numba kernel that releases the
GIL, pure-Python work that holds it, and an I/O-like wait) run on the plain loop, each of
batchkit's targets, ``concurrent.futures`` (threads and processes) and joblib, side by side
in one process, interleaved round by round. Every runner's results are checked against the
loop's. The table is printed; ``bench.json`` and, with matplotlib installed (the ``plot``
extra), ``bench.png`` are written.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

from ._report import machine, plot, table, write_json
from ._runners import Runners
from ._workloads import make_workloads

__all__ = ["run_bench"]


def _timed(run, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - start) / calls


def _import_seconds(module: str, repeats: int) -> float:
    """The median wall time of a fresh interpreter importing ``module``, less an empty one's."""

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return time.perf_counter() - start

    empty = statistics.median(once("pass") for _ in range(repeats))
    return max(0.0, statistics.median(once(f"import {module}") for _ in range(repeats)) - empty)


def _measure(workloads, runners: Runners, rounds: int, say) -> dict:
    results = {}
    names = runners.names()
    for workload in workloads:
        say(f"  {workload.name}: {workload.what}")
        runs = {name: runners.runner(name, workload) for name in names}
        runs = {name: run for name, run in runs.items() if run is not None}
        expected = runs["loop"]()
        for name, run in runs.items():  # warm-up: pools started, kernels compiled; results checked
            got = list(run())
            if got != expected:
                raise AssertionError(f"bench: {name} computed other results than the loop on {workload.name}")
        samples = {name: [] for name in runs}
        order = list(runs.items())
        for round_number in range(rounds):
            for name, run in order if round_number % 2 == 0 else order[::-1]:
                samples[name].append(_timed(run, workload.calls))
        per = len(workload.items) if workload.per == "item" else 1
        seconds = {name: statistics.median(values) / per for name, values in samples.items()}
        results[workload.name] = {
            "what": workload.what,
            "per": workload.per,
            "items": len(workload.items),
            "seconds": {name: seconds.get(name) for name in names},
            "speedup": {
                name: (seconds["loop"] / seconds[name] if name in seconds and seconds[name] > 0 else None)
                for name in names
            },
        }
    return results


def run_bench(quick: bool = False, out: str = ".", stream=None) -> dict:
    """Run the benchmark, print its table, write ``bench.json`` (and ``bench.png``); return the results.

    Parameters
    ----------
    quick : bool
        A tenth of the work and one timed round: a smoke test, not a measurement.
    out : str
        The folder the files are written to (made if missing).
    stream : file, optional
        Where the table and progress go (default: standard output).

    Returns
    -------
    dict
        What ``bench.json`` holds: the machine, the runners, per workload the seconds and
        speed-ups of each runner, and the import times.
    """
    stream = stream or sys.stdout

    def say(text: str) -> None:
        print(text, file=stream, flush=True)

    os.makedirs(out, exist_ok=True)
    runners = Runners()  # first: its process pool must exist before joblib is imported
    say(f"batchkit bench ({'quick' if quick else 'full'} run), on {machine()['cpus']} CPUs:")
    try:
        workloads = _measure(make_workloads(quick), runners, 1 if quick else 3, say)
    finally:
        runners.close()
    repeats = 1 if quick else 3
    results = {
        "machine": machine(),
        "quick": quick,
        "runners": runners.names(),
        "workloads": workloads,
        "import": {name: _import_seconds(name, repeats) for name in ("batchkit", "numba")},
    }
    say("")
    say(table(results))
    json_path, png_path = os.path.join(out, "bench.json"), os.path.join(out, "bench.png")
    write_json(results, json_path)
    say(f"\nwrote {json_path}")
    if plot(results, png_path):
        say(f"wrote {png_path}")
    else:
        say("no plot: matplotlib is not installed (install it, or the package's 'plot' extra, for bench.png)")
    return results
