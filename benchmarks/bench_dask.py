"""target="dask" and pipelines on a dask LocalCluster, against mpc, the plain loop and dask's own API.

1. What dask costs by itself: one task's round trip, the cost per task of many tiny tasks
   (``client.map``), moving bytes to a worker and back (``scatter``/``gather``), and starting and
   closing a LocalCluster.
2. Items per second of one action: 400 pure-Python items of ~2 ms, and 2,000 tiny items of
   ~20 us, on ``target="dask"``, on ``mpc``, in a plain loop, and with ``client.map`` (one task
   per item, the way a dask user writes it without batchkit), all on the same cluster and items.
3. Batches per second of a pipeline (40 batches of 16 items, ~2 ms of pure Python per item)
   locally, with ``prefetch``, and on the cluster (``run(..., client=...)``).

The cluster is what batchkit starts by itself: one single-threaded worker process per core,
on 127.0.0.1. Run: ``python benchmarks/bench_dask.py``.
"""

from __future__ import annotations

import time

import numpy as np
from _common import cpu_probe, fmt, machine, median, ratio, run_interleaved, table

import batchkit
from batchkit import Batch, Dataset, action, inbatch_parallel, parallel
from batchkit._cpus import available_cpus

SLOW_ITEMS, SLOW_WORK = 400, 40_000  # ~2 ms of pure Python per item on the project's machine
TINY_ITEMS, TINY_WORK = 2_000, 400  # ~20 us per item


def work(x, n):
    """Pure-Python, GIL-bound work: about ``n`` additions."""
    total = 0
    for i in range(n):
        total += i ^ x
    return total


def noop(x):
    return x


class Numbers(Batch):
    components = ("x", "y")

    @action
    @inbatch_parallel(init="x", post="_store", target="for")
    def compute(self, x, n):
        return work(int(x), n)

    def _store(self, results, *args, **kwargs):
        self.y = np.asarray(results)
        return self


def start_cluster():
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        host="127.0.0.1",
        processes=True,
        n_workers=available_cpus(),
        threads_per_worker=1,
        dashboard_address=None,
    )
    return cluster, Client(cluster, set_as_default=False)


def dask_costs(client) -> tuple[str, dict]:
    """One task's round trip, the cost per task of many, bytes out and back, cluster start."""
    rows, figures = [], {}
    client.submit(noop, 0, pure=False).result()
    trips = []
    for k in range(50):
        start = time.perf_counter()
        client.submit(noop, k, pure=False).result()
        trips.append(time.perf_counter() - start)
    figures["round_trip"] = median(trips)
    rows.append(["one task, submit and result (median of 50)", fmt(figures["round_trip"])])
    per_task = []
    for _ in range(3):
        start = time.perf_counter()
        client.gather(client.map(noop, range(2000), pure=False))
        per_task.append((time.perf_counter() - start) / 2000)
    figures["per_task"] = median(per_task)
    rows.append(["per task, 2,000 no-op tasks by client.map (median of 3)", fmt(figures["per_task"])])
    data = np.ones(64 << 17)  # 64 MiB
    per_mib = []
    for _ in range(3):
        start = time.perf_counter()
        [future] = client.scatter([data], hash=False)
        back = future.result()
        per_mib.append((time.perf_counter() - start) / 64)
        assert back.shape == data.shape
        future.release()
    figures["per_mib"] = median(per_mib)
    rows.append(["64 MiB to a worker and back (scatter, result), per MiB", fmt(figures["per_mib"])])
    starts, closes = [], []
    for _ in range(3):
        start = time.perf_counter()
        cluster, fresh = start_cluster()
        fresh.submit(noop, 0).result()
        starts.append(time.perf_counter() - start)
        start = time.perf_counter()
        fresh.close()
        cluster.close()
        closes.append(time.perf_counter() - start)
    figures["start"] = median(starts)
    started = f"start a LocalCluster of {available_cpus()} workers, first task done"
    rows.append([started, fmt(figures["start"])])
    rows.append(["close it", fmt(median(closes))])
    return table(["what", "seconds"], rows), figures


def items_table(client, n_items: int, n: int, rounds: int) -> str:
    entries = list(range(n_items))
    expected = [work(x, n) for x in entries]
    on = {target: parallel(init=entries, target=target)(work) for target in ("dask", "mpc")}

    def plain_loop():
        return [work(x, n) for x in entries]

    def client_map():
        return client.gather(client.map(work, entries, [n] * n_items, pure=False))

    cases = {
        "plain loop": plain_loop,
        "batchkit target='dask'": lambda: on["dask"](n),
        "batchkit target='mpc'": lambda: on["mpc"](n),
        "dask client.map (a task per item)": client_map,
    }
    samples = run_interleaved(cases, rounds=rounds, check=lambda name, result: result == expected)
    rows = []
    for name in cases:
        seconds = median(samples[name])
        rows.append(
            [name, fmt(seconds), f"{n_items / seconds:,.0f}", f"{ratio(samples, 'plain loop', name):.2f}x"]
        )
    return table(["case", "per call", "items/s", "speed-up over the loop"], rows)


def pipeline_table(client, rounds: int) -> str:
    n_items, batch_size = 640, 16
    dataset = Dataset(n_items, Numbers, preloaded={"x": np.arange(n_items), "y": np.zeros(n_items)})
    pipeline = dataset.p.compute(SLOW_WORK)
    n_batches = n_items // batch_size

    def collect(**options):
        seen = []
        pipeline.run(batch_size, bar=False, on_batch=lambda batch: seen.append(int(batch.y[0])), **options)
        return seen

    expected = collect()
    cases = {
        "local run": collect,
        "local run, prefetch=2 (threads)": lambda: collect(prefetch=2),
        "on the LocalCluster (client=)": lambda: collect(client=client),
    }
    samples = run_interleaved(cases, rounds=rounds, check=lambda name, result: result == expected)
    rows = []
    for name in cases:
        seconds = median(samples[name])
        rows.append(
            [name, fmt(seconds), f"{n_batches / seconds:,.1f}", f"{ratio(samples, 'local run', name):.2f}x"]
        )
    return table(["case", "per run of 40 batches", "batches/s", "speed-up over the local run"], rows)


def main() -> None:
    print(f"machine: {machine()}; CPU probe {cpu_probe():.2f} (ideal 2.0)\n")
    cluster, client = start_cluster()
    try:
        with batchkit.config(client=client):
            print("### What dask costs by itself\n")
            text, figures = dask_costs(client)
            print(text, "\n")
            print(f"### {SLOW_ITEMS} items of ~2 ms of pure Python\n")
            print(items_table(client, SLOW_ITEMS, SLOW_WORK, rounds=5), "\n")
            print(f"### {TINY_ITEMS:,} items of ~20 us\n")
            print(items_table(client, TINY_ITEMS, TINY_WORK, rounds=3), "\n")
            print("### A pipeline of 40 batches of 16 items (~2 ms each)\n")
            print(pipeline_table(client, rounds=3), "\n")
            print(
                "figures for scaling out: "
                + ", ".join(f"{name} {fmt(value)}" for name, value in figures.items())
            )
    finally:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
