"""The demo behind ``python -m batchkit demo``.

A synthetic image dataset (blobs on a noisy background) is written to ``.npy`` files on the
fly, and a pipeline runs over the file dataset, batch by batch, with three actions:

1. ``load``: read each image file after a simulated storage latency (``async``: the waits
   overlap);
2. ``denoise``: a 5x5 weighted blur and a tone curve per image, a numba ``@mjit`` kernel that
   releases the GIL (``threads``: the kernels run on every core);
3. ``encode``: run-length encode each thresholded image and find its blobs (a breadth-first
   search), pure Python, GIL-bound work (``mpc``: worker processes);

then ``write_to`` streams every finished batch to disk, so memory stays flat. The pipeline runs
twice, once on those targets and once with ``target="for"`` (the plain loop) everywhere, chosen
through the pipeline's config; the demo reads both outputs back and checks that they are equal.

4. ``blocks``: the denoised images, stacked into a 3-D volume in a ``.npy`` file, are smoothed
   across images too (a 3x3x3 mean) by block processing: blocks of slices with an overlap of
   one, read from the file and written into another by ``threads``, and checked against the
   plain loop.

Last, it prints the time of each step on each target.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
import tempfile
import time
from collections import deque

import numpy as np

from ._action import action
from ._cpus import available_cpus
from ._parallel import inbatch_parallel
from .batch import Batch
from .dataset import Dataset
from .index import FilesIndex
from .jit import mjit
from .named import C
from .pipeline import Pipeline
from .store import read_output

__all__ = ["ImageBatch", "describe", "find_blobs", "make_image_files", "rle_encode", "run_demo"]

STEPS = (("load", "async"), ("denoise", "threads"), ("encode", "mpc"))
#: the steps of the closing table: the pipeline's, then block processing over the volume
TABLE_STEPS = (*STEPS, ("blocks", "threads"))


def make_image_files(folder: str, n_images: int, size: int = 128, seed: int = 0) -> list[str]:
    """Write ``n_images`` synthetic float32 images as ``.npy`` files into ``folder``."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    paths = []
    for k in range(n_images):
        image = rng.normal(0.1, 0.05, size=(size, size)).astype(np.float32)
        for _ in range(rng.integers(3, 8)):
            cy, cx = rng.uniform(0, size, 2)
            radius = rng.uniform(size / 32, size / 8)
            image += rng.uniform(0.4, 1.0) * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * radius**2))
        path = os.path.join(folder, f"image_{k:05d}.npy")
        np.save(path, image)
        paths.append(path)
    return paths


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


def find_blobs(image: np.ndarray, threshold: float) -> list[tuple[int, float, float]]:
    """The 4-connected regions of ``image > threshold``: (area, centre row, centre column) each.

    A breadth-first search in pure Python, pixel by pixel: GIL-bound work of a few milliseconds.
    """
    mask = (image > threshold).tolist()
    height, width = len(mask), len(mask[0])
    seen = [[False] * width for _ in range(height)]
    blobs = []
    for row in range(height):
        for column in range(width):
            if not mask[row][column] or seen[row][column]:
                continue
            seen[row][column] = True
            queue, area, sum_row, sum_column = deque([(row, column)]), 0, 0, 0
            while queue:
                y, x = queue.popleft()
                area, sum_row, sum_column = area + 1, sum_row + y, sum_column + x
                for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                    if 0 <= ny < height and 0 <= nx < width and mask[ny][nx] and not seen[ny][nx]:
                        seen[ny][nx] = True
                        queue.append((ny, nx))
            blobs.append((area, sum_row / area, sum_column / area))
    return blobs


def describe(image: np.ndarray, threshold: float) -> tuple[list[int], list[tuple[int, float, float]]]:
    """The run-length encoding and the blobs of one thresholded image (runs in worker processes)."""
    return rle_encode(image, threshold), find_blobs(image, threshold)


def timed(step: str):
    """Add the action's wall time to the pipeline variable ``seconds`` (a list of (step, s))."""

    def decorate(method):
        @functools.wraps(method)
        def timed_method(self, *args, **kwargs):
            start = time.perf_counter()
            result = method(self, *args, **kwargs)
            if self.pipeline is not None:
                self.pipeline.set_variable("seconds", (step, time.perf_counter() - start), mode="a")
            return result

        return timed_method

    return decorate


class ImageBatch(Batch):
    """A batch of images: the raw ones, the denoised ones and their run-length encodings."""

    components = ("images", "smooth", "encoded")

    @action
    @timed("load")
    @inbatch_parallel(init="indices", post="_put_images", target="async")
    async def load(self, key, latency=0.005):
        await asyncio.sleep(latency)  # the round trip to a storage service
        return np.load(self.index.get_fullpath(key))

    def _put_images(self, images, *args, **kwargs):
        self._raise_failures(images)
        self.images = np.stack(images)
        return self

    @action
    @timed("denoise")
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
    @timed("encode")
    @inbatch_parallel(init="smooth", post="_put_encoded", target="mpc")
    def encode(self, threshold):
        # target="mpc": called once here; the returned function runs in the worker processes
        return describe

    def _put_encoded(self, encoded, *args, **kwargs):
        self._raise_failures(encoded)
        self.encoded = encoded
        return self

    def _raise_failures(self, results):
        errors = self.get_errors(results)
        if errors:
            raise errors[0]


def build_pipeline(dataset, latency: float, output: str) -> Pipeline:
    """The demo's pipeline; each step's target comes from the config (``C("load")``, ...)."""
    return (
        dataset.pipeline()
        .init_variable("seconds", [])
        .load(latency=latency, target=C("load"))
        .denoise(0.8, target=C("denoise"))
        .encode(0.5, target=C("encode"))
        .write_to(output, components=("smooth", "encoded"), mode="overwrite")
    )


def _run_once(pipeline, targets: dict, batch_size: int, bar, client=None) -> dict:
    """Run the pipeline on ``targets`` (on a dask cluster with a ``client``); return each step's seconds."""
    configured = pipeline << targets
    configured.run(batch_size, bar=bar, client=client)
    seconds = dict.fromkeys(targets, 0.0)
    for step, took in configured.v("seconds"):
        seconds[step] += took
    return seconds


def smooth_volume(block: np.ndarray) -> np.ndarray:
    """The mean of each voxel's 3x3x3 neighbourhood; voxels on the block's faces are kept.

    With an overlap of one, the faces of a block that are not the volume's own are outside its
    valid region, so the blockwise result equals the whole-volume one exactly.

    Examples
    --------
    >>> volume = np.arange(27.0).reshape(3, 3, 3)
    >>> float(smooth_volume(volume)[1, 1, 1]), float(smooth_volume(volume)[0, 0, 0])
    (13.0, 0.0)
    """
    out = block.copy()
    if min(block.shape) < 3:
        return out
    inner = np.zeros_like(block[1:-1, 1:-1, 1:-1])
    z, y, x = block.shape
    for dz in range(3):
        for dy in range(3):
            for dx in range(3):
                inner += block[dz : z - 2 + dz, dy : y - 2 + dy, dx : x - 2 + dx]
    out[1:-1, 1:-1, 1:-1] = inner / 27
    return out


def _blocks_step(folder: str, smooth: np.ndarray) -> tuple[float, float, bool]:
    """Stack ``smooth`` into a volume file; smooth it blockwise with ``for``, then ``threads``.

    Returns the seconds of each and whether their sinks are equal.
    """
    from .blocks import process_blocks

    source = os.path.join(folder, "volume.npy")
    volume = np.lib.format.open_memmap(source, mode="w+", dtype=np.float32, shape=smooth.shape)
    volume[...] = smooth
    volume.flush()
    del volume
    seconds, sinks = {}, {}
    for target in ("for", "threads"):
        sinks[target] = os.path.join(folder, f"volume-{target}.npy")
        start = time.perf_counter()
        process_blocks(smooth_volume, source, sinks[target], overlap=1, size_max=16, target=target)
        seconds[target] = time.perf_counter() - start
    same = np.array_equal(np.load(sinks["for"]), np.load(sinks["threads"]))
    return seconds["for"], seconds["threads"], same


def _same_outputs(reference: str, candidate: str) -> bool:
    a, b = read_output(reference), read_output(candidate)
    return (
        np.array_equal(a["indices"], b["indices"])
        and np.array_equal(a["smooth"], b["smooth"])
        and all(list(x) == list(y) for x, y in zip(a["encoded"], b["encoded"], strict=True))
    )


def _table(loop_times: dict, target_times: dict, n_images: int) -> list[str]:
    rows = [("step", "target", "for (s)", "target (s)", "images/s", "speed-up")]
    for name, target in TABLE_STEPS:
        t_for, t_par = loop_times[name], target_times[name]
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
    total_for, total_par = sum(loop_times.values()), sum(target_times.values())
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
    lines = []
    for k, row in enumerate(rows):
        cells = (
            cell.rjust(w) if k and j >= 2 else cell.ljust(w)
            for j, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        lines.append("  ".join(cells))
        if k in (0, len(rows) - 2):
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _dask_step(dataset, latency: float, folder: str, batch_size: int, bar, reference: str, out) -> bool:
    """Run the pipeline on a dask cluster; print its times; return whether its output equals ``reference``.

    The cluster is the client in force, or a LocalCluster on 127.0.0.1 that batchkit starts
    (one worker process per core). Each batch's actions run in one worker; there the ``mpc``
    step runs in the worker itself, which is already one of a process per core.
    """
    from .executors._dask_client import resolve_client, total_threads

    start = time.perf_counter()
    client = resolve_client(True)
    started = time.perf_counter() - start
    output = os.path.join(folder, "out-dask")
    start = time.perf_counter()
    seconds = _run_once(
        build_pipeline(dataset, latency, output),
        dict(STEPS),
        batch_size,
        bar and {"desc": "dask cluster", "unit": "batch"},
        client=client,
    )
    wall = time.perf_counter() - start
    same = _same_outputs(reference, output)
    steps = ", ".join(f"{step} {took:.3f} s" for step, took in seconds.items())
    print(
        f"dask: the pipeline on {total_threads(client)} worker threads ran in {wall:.2f} s "
        f"(cluster ready in {started:.2f} s; summed over the workers, each compiling the numba "
        f"kernel once: {steps}); "
        f"output {'equal to' if same else 'DIFFERENT from'} the plain loop's",
        file=out,
    )
    return same


def run_demo(n_images=384, batch_size=64, size=128, latency=0.005, bar=True, out=None, dask=False) -> int:
    """Run the demo, print a table of times and speed-ups, and return 0 when all went well.

    With ``dask``, the pipeline also runs on a dask cluster (the client in force, else a local
    cluster that batchkit starts), and its output must equal the plain loop's too.
    """
    out = out or sys.stdout
    # bars only where someone watches: piped to a file, they would be lines joined by "\r"
    bar = bar and (sys.stderr.isatty() or "ipykernel" in sys.modules)
    cpus = available_cpus()
    with tempfile.TemporaryDirectory(prefix="batchkit-demo-") as folder:
        os.makedirs(os.path.join(folder, "images"))
        start = time.perf_counter()
        make_image_files(os.path.join(folder, "images"), n_images, size)
        dataset = Dataset(
            FilesIndex(path=os.path.join(folder, "images", "*.npy"), no_ext=True, sort=True),
            batch_class=ImageBatch,
        )
        print(
            f"batchkit demo: {n_images} synthetic {size}x{size} images written to .npy files "
            f"({time.perf_counter() - start:.2f} s); batches of {batch_size}; {cpus} CPUs",
            file=out,
        )

        start = time.perf_counter()
        parallel_targets = dict(STEPS)
        warm = build_pipeline(dataset, latency, os.path.join(folder, "warm-up")) << parallel_targets
        warm.run(batch_size, n_iters=1, bar=False)  # compiles the kernel, starts the worker processes
        print(f"warm-up (numba compile, worker start): {time.perf_counter() - start:.2f} s", file=out)
        out.flush()  # the progress bars go to stderr: keep the two streams in order

        loop_output, target_output = os.path.join(folder, "out-for"), os.path.join(folder, "out-targets")
        plain = _run_once(
            build_pipeline(dataset, latency, loop_output),
            dict.fromkeys(parallel_targets, "for"),
            batch_size,
            bar and {"desc": "plain loop (for)", "unit": "batch"},
        )
        fast = _run_once(
            build_pipeline(dataset, latency, target_output),
            parallel_targets,
            batch_size,
            bar and {"desc": "batchkit targets", "unit": "batch"},
        )
        same = _same_outputs(loop_output, target_output)
        plain["blocks"], fast["blocks"], same_blocks = _blocks_step(
            folder, read_output(target_output)["smooth"]
        )
        same = same and same_blocks
        if dask:
            sys.stderr.flush()
            out.flush()
            same = _dask_step(dataset, latency, folder, batch_size, bar, loop_output, out) and same

    sys.stderr.flush()
    print(file=out)
    for line in _table(plain, fast, n_images):
        print(line, file=out)
    print(file=out)
    if not same:
        print("FAILED: the parallel targets gave different results from the plain loop", file=out)
        return 1
    total = sum(plain.values()) / sum(fast.values())
    print(
        f"OK: every target matched the plain loop (outputs read back from disk); all steps together ran "
        f"{total:.2f}x faster than the plain loop on {cpus} CPUs.",
        file=out,
    )
    return 0
