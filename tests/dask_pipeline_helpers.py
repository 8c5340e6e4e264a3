"""A batch class and pipelines for the cluster tests: importable by name on the dask workers."""

from __future__ import annotations

import os
import time

import numpy as np

from batchkit import B, Batch, Dataset, StopPipeline, V, action, inbatch_parallel


def triple(x):
    return x * 3


def fail_on_seven(x):
    if x == 7:
        raise ValueError("item 7 is bad")
    return x


class Numbers(Batch):
    """Numbers ``x``; ``where`` records the pid of the process that made each batch."""

    components = ("x", "where")

    @action
    def double(self):
        self.x = self.x * 2
        return self

    @action
    def noise(self):
        """Replace ``x`` with draws from the batch's own generator."""
        self.x = self.random.random(len(self))
        return self

    @action
    def mark_process(self):
        self.where = np.full(len(self), os.getpid())
        return self

    @action
    def slower_first(self, total: int):
        """Sleep longer for earlier batches, so later ones finish first."""
        time.sleep(0.02 * (total - self.iteration))
        return self

    @action
    def fail_on(self, value):
        if value in self.x:
            raise ValueError(f"batch holding {value} fails")
        return self

    @action
    def stop_on(self, value):
        if value in self.x:
            raise StopPipeline
        return self

    @action
    def die_once(self, marker: str):
        """Kill this worker process the first time a batch holding 0 comes (``marker`` says it did)."""
        if 0 in self.x and not os.path.exists(marker):
            with open(marker, "w"):
                pass
            os._exit(1)
        return self

    @action
    @inbatch_parallel(init="x", post="_store_x", target="mpc")
    def triple_items(self):
        return triple

    @action
    @inbatch_parallel(init="x", target="threads")
    def check_items(self, x):
        return fail_on_seven(x)

    def _store_x(self, results, *args, **kwargs):
        self.x = np.asarray(results)
        return self


def dataset(n: int = 20) -> Dataset:
    return Dataset(n, batch_class=Numbers, preloaded={"x": np.arange(n), "where": np.zeros(n, dtype=int)})


def variables_pipeline(mode: str, n: int = 20):
    """A pipeline assigning each batch's ``x`` to variable "v" in ``mode``."""
    default = {"w": None, "a": [], "e": [], "u": set()}[mode]
    pipeline = dataset(n).p.init_variable("v", default).double()
    if mode == "u":
        return pipeline.call(_update_set, B())
    return pipeline.update(V("v"), B("x"), mode=mode)


def _update_set(batch):
    batch.pipeline.set_variable("v", {int(x) for x in batch.x}, mode="u")
