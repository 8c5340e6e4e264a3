"""The demo behind ``python -m batchkit demo``.

A synthetic image dataset (blobs on a noisy background, made on the fly) sits in a simulated
object store that answers after a latency. Each batch goes through three actions:

1. ``load``: fetch each image from the store (``async``: the waits overlap);
2. ``denoise``: a 5x5 weighted blur and a tone curve per image, a numba ``@mjit`` kernel that
   releases the GIL (``threads``: the kernels run on every core);
3. ``encode``: run-length encode each thresholded image in pure Python, GIL-bound work
   (``mpc``: worker processes).

The whole dataset runs twice, once on those targets and once with ``target="for"`` (the plain
loop), and the demo checks that both give the same results before it prints the speed-ups.
"""

from __future__ import annotations

import asyncio
import sys
import time

import numpy as np

from ._action import action
from ._cpus import available_cpus
from ._parallel import inbatch_parallel
from .batch import Batch
from .jit import mjit

__all__ = ["ImageBatch", "SyntheticStore", "rle_encode", "run_demo"]

STEPS = (("load", "async"), ("denoise", "threads"), ("encode", "mpc"))


class SyntheticStore:
    """Images of Gaussian blobs on a noisy background, served after a simulated latency."""

    def __init__(self, n_images: int, size: int = 128, latency: float = 0.005, seed: int = 0):
        rng = np.random.default_rng(seed)
        y, x = np.mgrid[0:size, 0:size].astype(np.float32)
        images = rng.normal(0.1, 0.05, size=(n_images, size, size)).astype(np.float32)
        for image in images:
            for _ in range(rng.integers(3, 8)):
                cy, cx = rng.uniform(0, size, 2)
                radius = rng.uniform(size / 32, size / 8)
                image += rng.uniform(0.4, 1.0) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))
        self.images = images
        self.latency = latency

    def __len__(self) -> int:
        return len(self.images)

    async def fetch(self, index: int) -> np.ndarray:
        await asyncio.sleep(self.latency)  # the round trip to the storage service
        return self.images[index].copy()


def rle_encode(image: np.ndarray, threshold: float) -> list[int]:
    """Run-length encoding (start, length, start, length, ...) of ``image > threshold``.

    Pure Python on purpose: this is the kind of per-item step that only processes speed up.
    """
    runs, start, previous = [], 0, False
    for position, inside in enumerate((image > threshold).ravel().tolist()):
        if inside and not previous:
            start = position
        elif previous and not inside:
            runs += (start, position - start)
        previous = inside
    if previous:
        runs += (start, image.size - start)
    return runs


class ImageBatch(Batch):
    """A batch of images: the raw ones, the denoised ones and their run-length encodings."""

    components = ("images", "smooth", "encoded")

    @action
    @inbatch_parallel(init="indices", post="_put_images", target="async")
    async def load(self, index, store):
        return await store.fetch(index)

    def _put_images(self, images, *args, **kwargs):
        self._raise_failures(images)
        self.images = np.stack(images)
        return self

    @action
    @inbatch_parallel(init="_image_pairs", target="threads")
    @mjit
    def denoise(self, image, out, gamma):
        size_y, size_x = image.shape
        weights = np.array([1.0, 4.0, 6.0, 4.0, 1.0])
        for i in range(size_y):
            for j in range(size_x):
                total = 0.0
                norm = 0.0
                for di in range(-2, 3):
                    for dj in range(-2, 3):
                        y, x = i + di, j + dj
                        if 0 <= y < size_y and 0 <= x < size_x:
                            w = weights[di + 2] * weights[dj + 2]
                            total += w * image[y, x]
                            norm += w
                value = max(total / norm, 0.0)
                out[i, j] = 1.0 - np.exp(-3.0 * value**gamma)

    def _image_pairs(self, *args, **kwargs):
        # One entry per image: the image and the slot its result goes into.
        self.smooth = np.empty_like(self.images)
        return [[image, out] for image, out in zip(self.images, self.smooth, strict=True)]

    @action
    @inbatch_parallel(init="smooth", post="_put_encoded", target="mpc")
    def encode(self, threshold):
        # target="mpc": called once here; the returned function runs in the worker processes
        return rle_encode

    def _put_encoded(self, encoded, *args, **kwargs):
        self._raise_failures(encoded)
        self.encoded = encoded
        return self

    def _raise_failures(self, results):
        errors = self.get_errors(results)
        if errors:
            raise errors[0]


def _run(store, batch_size, targets, label, bar):
    """Run the dataset through the three steps on ``targets``; return the batches and step times."""
    timings = dict.fromkeys(targets, 0.0)
    progress = None
    if bar:
        from tqdm.auto import tqdm

        progress = tqdm(total=len(store), desc=label, unit="img", file=sys.stderr)
    steps = (("load", (store,)), ("denoise", (0.8,)), ("encode", (0.5,)))
    batches = []
    try:
        for lo in range(0, len(store), batch_size):
            batch = ImageBatch(np.arange(lo, min(lo + batch_size, len(store))))
            for name, arguments in steps:
                start = time.perf_counter()
                getattr(batch, name)(*arguments, target=targets[name])
                timings[name] += time.perf_counter() - start
            batches.append(batch)
            if progress is not None:
                progress.update(len(batch))
    finally:
        if progress is not None:
            progress.close()
    return batches, timings


def _same_results(reference, candidate) -> bool:
    return all(
        np.array_equal(a.images, b.images) and np.array_equal(a.smooth, b.smooth) and a.encoded == b.encoded
        for a, b in zip(reference, candidate, strict=True)
    )


def run_demo(n_images=384, batch_size=64, size=128, latency=0.005, bar=True, out=None) -> int:
    """Run the demo, print a table of times and speed-ups, and return 0 when all went well."""
    out = out or sys.stdout
    print(
        f"batchkit demo: {n_images} synthetic {size}x{size} images in batches of {batch_size}, "
        f"{available_cpus()} CPUs",
        file=out,
    )
    store = SyntheticStore(n_images, size=size, latency=latency)

    start = time.perf_counter()
    warm = ImageBatch(np.arange(min(batch_size, n_images)))
    warm.load(store).denoise(0.8).encode(0.5)  # compiles the kernel, starts the worker processes
    print(f"warm-up (numba compile, worker start): {time.perf_counter() - start:.2f} s", file=out)
    out.flush()  # the progress bars go to stderr: keep the two streams in order

    plain = dict.fromkeys(name for name, _ in STEPS)
    plain = {name: "for" for name in plain}
    parallel = dict(STEPS)
    reference, loop_times = _run(store, batch_size, plain, "plain loop (for)", bar)
    candidate, batchkit_times = _run(store, batch_size, parallel, "batchkit targets", bar)
    same = _same_results(reference, candidate)

    rows = [("step", "target", "for (s)", "target (s)", "images/s", "speed-up")]
    for name, target in STEPS:
        t_for, t_par = loop_times[name], batchkit_times[name]
        rows.append(
            (
                name,
                target,
                f"{t_for:.3f}",
                f"{t_par:.3f}",
                f"{n_images / t_par:,.0f}",
                f"{t_for / t_par:.2f}x",
            )
        )
    total_for, total_par = sum(loop_times.values()), sum(batchkit_times.values())
    rows.append(
        (
            "all",
            "",
            f"{total_for:.3f}",
            f"{total_par:.3f}",
            f"{n_images / total_par:,.0f}",
            f"{total_for / total_par:.2f}x",
        )
    )
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    sys.stderr.flush()
    print(file=out)
    for k, row in enumerate(rows):
        print(
            "  ".join(
                cell.rjust(w) if k and j >= 2 else cell.ljust(w)
                for j, (cell, w) in enumerate(zip(row, widths, strict=True))
            ),
            file=out,
        )
        if k == 0 or k == len(rows) - 2:
            print("  ".join("-" * w for w in widths), file=out)
    print(file=out)
    if not same:
        print("FAILED: the parallel targets gave different results from the plain loop", file=out)
        return 1
    print(
        f"OK: every target matched the plain loop; all steps together ran "
        f"{total_for / total_par:.2f}x faster than the plain loop on {available_cpus()} CPUs.",
        file=out,
    )
    return 0
