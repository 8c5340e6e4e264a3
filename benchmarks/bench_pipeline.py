"""Pipelines: memory over many batches, and prefetch on I/O-like actions.

Run: ``python benchmarks/bench_pipeline.py``.

1. Peak RSS of a run of 1,000 and of 10,000 small batches (each with a per-batch callback and
   an output written to disk), each in a fresh process: a run keeps no batch, so the two peaks
   should be the same within 10 %.
2. A pipeline whose action sleeps 10 ms per batch (an I/O wait), with prefetch 0, 2, 4 and 8.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

import numpy as np
from _common import fmt, machine, median, run_interleaved, table

from batchkit import Batch, Dataset, action

N_ITEMS, BATCH_SIZE = 8_000, 8


class Small(Batch):
    components = ("x", "y")

    @action
    def scale(self, factor):
        self.y = self.x * factor
        return self

    @action
    def wait(self, seconds):
        time.sleep(seconds)
        return self


def _memory_child(n_batches: int) -> None:
    """Runs in a fresh process: one run of ``n_batches``; prints the peak RSS in KiB."""
    import resource

    dataset = Dataset(N_ITEMS, batch_class=Small, preloaded={"x": np.random.rand(N_ITEMS, 16)})
    seen = []
    with tempfile.TemporaryDirectory() as folder:
        pipeline = dataset.p.scale(2.0).write_to(f"{folder}/out")
        pipeline.run(BATCH_SIZE, n_iters=n_batches, bar=False, on_batch=lambda batch: seen.append(len(batch)))
    assert len(seen) == n_batches
    print(
        json.dumps(
            {"n_batches": n_batches, "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        )
    )


def memory_table() -> tuple[str, float]:
    results = {}
    for n_batches in (1_000, 10_000):
        started = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(n_batches)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[n_batches] = (
            json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_kib"],
            time.perf_counter() - started,
        )
    growth = results[10_000][0] / results[1_000][0] - 1
    rows = [[f"{n:,}", f"{rss / 1024:.1f} MiB", f"{took:.1f} s"] for n, (rss, took) in results.items()]
    return table(["batches", "peak RSS (fresh process)", "wall time"], rows), growth


def prefetch_table() -> str:
    dataset = Dataset(N_ITEMS, batch_class=Small, preloaded={"x": np.random.rand(N_ITEMS, 16)})
    pipeline = dataset.p.wait(0.01).scale(2.0)
    cases = {
        f"prefetch={k}": (lambda k=k: pipeline.run(BATCH_SIZE, n_iters=40, prefetch=k, bar=False))
        for k in (0, 2, 4, 8)
    }
    samples = run_interleaved(cases, rounds=5, min_sample=0.0)
    base = median(samples["prefetch=0"])
    speedups = {name: base / median(s) for name, s in samples.items()}
    rows = [[name, fmt(median(s)), f"{speedups[name]:.2f}x"] for name, s in samples.items()]
    return table(["case (40 batches, 10 ms sleep each)", "time", "speed-up vs prefetch=0"], rows)


def main() -> int:
    print(f"# Pipelines\n\n{machine()}\n")
    memory, growth = memory_table()
    print(memory)
    verdict = "PASS" if growth <= 0.10 else "FAIL"
    print(f"\nPeak RSS growth from 1,000 to 10,000 batches: {growth * 100:+.1f} % (limit +10 %): {verdict}\n")
    print(prefetch_table())
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--memory-child":
        _memory_child(int(sys.argv[2]))
    else:
        sys.exit(main())
