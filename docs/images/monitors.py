"""Draws ``monitors.png``: the CPU and memory of one pipeline run, first in the caller, then on mpc.

Run ``python docs/images/monitors.py`` (needs matplotlib and psutil) to write the picture next to
this file. The run renders and filters images; the same pipeline runs twice, with
``target="for"`` and then with ``target="mpc"``, while a `CPUMonitor` and a `MemoryMonitor`
(both with ``children=True``, so the worker processes count) sample every 100 ms.
"""

from __future__ import annotations

import itertools
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from batchkit import Batch, CPUMonitor, Dataset, MemoryMonitor, action, inbatch_parallel

HERE = os.path.dirname(os.path.abspath(__file__))


def smooth(seed):
    image = np.random.default_rng(seed).random((300, 300))
    for _ in range(20):  # pure Python around small numpy calls: GIL-bound
        image = (image + np.roll(image, 1, 0) + np.roll(image, 1, 1)) / 3
    return float(image.mean())


class Scenes(Batch):
    components = ("value",)

    @action
    @inbatch_parallel(init="indices", post="_keep", target="mpc")
    def render(self):
        return smooth  # mpc's contract: the method gives the function each item runs

    def _keep(self, results, *args, **kwargs):
        self.value = np.asarray(results)
        return self


def main() -> None:
    cpu = CPUMonitor(frequency=0.1, children=True)
    memory = MemoryMonitor(frequency=0.1, children=True)
    dataset = Dataset(320, Scenes)
    marks = []
    with cpu, memory:
        for target in ("for", "mpc"):
            marks.append((time.time(), target))
            dataset.p.render(target=target).run(batch_size=40, bar=False)
        marks.append((time.time(), None))
    start = marks[0][0]  # the run's start (a CPU reading comes one period later)
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 4.2), sharex=True)
    cpu.plot(top)
    memory.plot(bottom)
    for ax in (top, bottom):
        for (begin, target), (end, _) in itertools.pairwise(marks):
            ax.axvspan(begin - start, end - start, alpha=0.08 if target == "for" else 0.16, color="#2b5d8a")
            if ax is top:
                middle = (begin + end) / 2 - start
                ax.text(middle, 0.95, f"target={target!r}", transform=ax.get_xaxis_transform(),
                        ha="center", va="top", fontsize=9)  # fmt: skip
    top.set_xlabel("")
    top.set_ylim(0, max(cpu.data) * 1.3)
    top.set_ylabel("CPU (% of a core)")
    bottom.set_ylabel("memory (GiB)")
    top.set_title("CPUMonitor and MemoryMonitor (children=True) over one pipeline, two targets", fontsize=10)
    figure.tight_layout()
    figure.savefig(os.path.join(HERE, "monitors.png"), dpi=110)


if __name__ == "__main__":
    main()
