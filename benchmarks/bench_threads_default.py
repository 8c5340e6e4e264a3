"""The ``threads`` target's default thread count on busy and on waiting items: time and peak memory.

Run: ``python benchmarks/bench_threads_default.py``. Two steps, each called with the default
thread count and with fixed ones:

- a memory-heavy numpy step (64 items, each combining 8 MB temporaries,
  ``np.sqrt(a * a + b * b).sum()``): it keeps the cores busy, so threads beyond one per core
  only add their temporaries to the peak memory and fight over the memory bus;
- an I/O-like step (32 items, each sleeping 20 ms): the items wait, so more threads overlap more.

Times are interleaved rounds in one process (the default case's executor has seen the function
in the untimed warm-up call, as in any program that calls a step more than once). Peak memory is
measured per case in a fresh process: its VmHWM (from ``/proc/self/status``) after three calls,
less its VmHWM before them, so the interpreter and numpy are not counted.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from _common import cpu_probe, fmt, machine, median, ratio, run_interleaved, table

from batchkit import parallel
from batchkit._cpus import available_cpus

CPUS = available_cpus()
OLD_DEFAULT = min(32, CPUS + 4)
N_HEAVY, HEAVY_SIZE = 64, 1 << 20  # 1 Mi float64 = 8 MB per temporary
N_SLEEPY, NAP = 32, 0.02


@parallel(init=lambda n: range(n))
def heavy(i, n):
    a = np.full(HEAVY_SIZE, float(i))
    b = a + 1.0
    return float(np.sqrt(a * a + b * b).sum())


@parallel(init=lambda n: range(n))
def sleepy(i, n):
    import time

    time.sleep(NAP)
    return i


STEPS = {"heavy": (heavy, N_HEAVY), "sleepy": (sleepy, N_SLEEPY)}
SETTINGS = {
    "default": {},
    f"n_workers={CPUS} (cpus)": {"n_workers": CPUS},
    f"n_workers={OLD_DEFAULT} (cpus + 4, the old default)": {"n_workers": OLD_DEFAULT},
    "target='for'": {"target": "for"},
}


def cases(step: str) -> dict:
    fn, n = STEPS[step]
    return {
        name: (lambda fn=fn, n=n, options=options: fn(n, **options)) for name, options in SETTINGS.items()
    }


def _vm_hwm_kib() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))


def _peak_child(step: str, name: str) -> None:
    """In a fresh process: print the VmHWM growth (KiB) over three calls of one case."""
    case = cases(step)[name]
    before = _vm_hwm_kib()
    for _ in range(3):
        case()
    print(_vm_hwm_kib() - before, _vm_hwm_kib())


def peak_mib(step: str, name: str) -> tuple[float, float]:
    """(growth of the peak over the calls, the whole process's peak), in MiB, in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--peak", step, name], capture_output=True, text=True, check=True
    )
    growth, total = done.stdout.split()
    return int(growth) / 1024, int(total) / 1024


def expected(step: str):
    fn, n = STEPS[step]
    return fn(n, target="for")


def measure(step: str, rounds: int):
    want = expected(step)

    def check(name, result):
        if result != want:
            raise AssertionError(f"{step}, {name}: wrong results")

    samples = run_interleaved(cases(step), rounds=rounds, check=check)
    peaks = {name: peak_mib(step, name) for name in SETTINGS}
    rows = [
        [
            name,
            fmt(median(samples[name])),
            f"{ratio(samples, name, 'default'):.2f}",
            f"{g:.0f} MiB",
            f"{t:.0f} MiB",
        ]
        for name, (g, t) in peaks.items()
    ]
    header = ["case", "time per call", "x default", "peak growth", "process peak"]
    print(f"\n### {step}\n\n" + table(header, rows))
    return samples, peaks


def main(rounds: int = 7) -> int:
    print(f"# The threads target's default thread count\n\n{machine()}\n")
    print(f"CPU probe (2 threads vs 1, ideal 2.0): {cpu_probe():.2f}")
    heavy_samples, heavy_peaks = measure("heavy", rounds)
    sleepy_samples, _ = measure("sleepy", rounds)
    cpus_case, wide_case = list(SETTINGS)[1], list(SETTINGS)[2]
    best = max(ratio(heavy_samples, "default", other) for other in ("default", cpus_case, "target='for'"))
    memory = heavy_peaks["default"][0] / heavy_peaks[cpus_case][0]
    checks = [
        ("heavy: default vs the best of (default, cpus, for)", best, "<=", 1.1),
        ("heavy: default's peak growth vs cpus'", memory, "<=", 1.2),
        # "at least as fast", within the 5 % this shared machine moves between rounds
        ("sleepy: default vs cpus + 4", ratio(sleepy_samples, "default", wide_case), "<=", 1.05),
        ("sleepy: default vs cpus (clearly faster)", ratio(sleepy_samples, "default", cpus_case), "<=", 0.75),
    ]
    print("\n| performance target | ratio | limit | result |\n|---|---|---|---|")
    failed = 0
    for label, value, _, limit in checks:
        ok = value <= limit
        failed += not ok
        print(f"| {label} | {value:.2f}x | <= {limit}x | {'PASS' if ok else 'FAIL'} |")
    print(f"\nCPU probe at the end: {cpu_probe():.2f}")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--peak":
        _peak_child(sys.argv[2], sys.argv[3])
    else:
        sys.exit(main())
