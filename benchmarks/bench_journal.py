"""What a journal costs per batch: ``run(..., journal=path)`` against the same run without one.

Run: ``python benchmarks/bench_journal.py`` (``BENCH_DIR=/some/disk`` to measure another disk
than the temporary directory's).

200 batches of 32 items of 256 float32 (a 32 KiB part each), four cases interleaved: no output
and no journal; a journal alone (one fsynced record per batch); ``write_to`` alone (atomic
parts, no fsync); ``write_to`` with a journal (each part, the manifest and the directory
fsynced, then the record). The cost is dominated by the disk's fsync latency, so it varies
with the disk far more than with the CPU.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from _common import machine, median, run_interleaved, table

from batchkit import Batch, Dataset

N_BATCHES, BATCH_SIZE, WIDTH = 200, 32, 256


class Rows(Batch):
    components = ("x",)


def case(dataset, output: bool, journal: bool):
    def run():
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_DIR")) as folder:
            pipeline = dataset.p.write_to(f"{folder}/out") if output else dataset.p
            pipeline.run(BATCH_SIZE, bar=False, journal=f"{folder}/run.journal" if journal else None)
            assert pipeline.last_run.batches_done == N_BATCHES

    return run


def main() -> int:
    print(f"# Journal overhead\n\n{machine()}\n")
    dataset = Dataset(
        N_BATCHES * BATCH_SIZE, Rows, preloaded={"x": np.ones((N_BATCHES * BATCH_SIZE, WIDTH), np.float32)}
    )
    cases = {
        "no output": case(dataset, output=False, journal=False),
        "journal only": case(dataset, output=False, journal=True),
        "write_to": case(dataset, output=True, journal=False),
        "write_to + journal": case(dataset, output=True, journal=True),
    }
    samples = run_interleaved(cases, rounds=5, min_sample=0.0)
    per_batch = {name: median(values) / N_BATCHES for name, values in samples.items()}
    rows = [[name, f"{seconds * 1e3:.3f} ms"] for name, seconds in per_batch.items()]
    print(table([f"case ({N_BATCHES} batches of {BATCH_SIZE} x {WIDTH} float32)", "per batch"], rows))
    alone = per_batch["journal only"] - per_batch["no output"]
    with_output = per_batch["write_to + journal"] - per_batch["write_to"]
    print(
        f"\njournal overhead per batch: {alone * 1e3:.3f} ms without output, "
        f"{with_output * 1e3:.3f} ms with write_to"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
