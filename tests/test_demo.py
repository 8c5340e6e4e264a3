"""The demo behind ``python -m batchkit demo``, run small."""

import io
import subprocess
import sys

import numpy as np
import pytest

from batchkit.demo import find_blobs, make_image_files, rle_encode, run_demo


def test_demo_reports_every_target_and_succeeds():
    """A small demo run returns 0 and prints a row per step, the total and the closing verdict."""
    out = io.StringIO()
    assert run_demo(n_images=24, batch_size=8, size=32, latency=0.001, bar=False, out=out) == 0
    text = out.getvalue()
    for step, target in (("load", "async"), ("denoise", "threads"), ("encode", "mpc"), ("blocks", "threads")):
        assert any(line.split()[:2] == [step, target] for line in text.splitlines())
    assert text.strip().splitlines()[-1].startswith("OK: every target matched the plain loop")


@pytest.mark.timeout(300)
def test_demo_command_line_runs():
    """``python -m batchkit demo`` with small sizes exits 0 and ends with the verdict line."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "batchkit",
            "demo",
            "--images",
            "16",
            "--batch-size",
            "8",
            "--size",
            "32",
        ],
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("OK:")
    # piped, as to a file: no bars joined by carriage returns, no escape codes, no warnings
    for stream in (result.stdout, result.stderr):
        assert "\r" not in stream and "\x1b" not in stream
    assert "Warning" not in result.stderr


def test_rle_encode_round_trips_a_mask():
    """The run-length encoding, decoded, gives back the thresholded image."""
    image = np.random.default_rng(0).random((9, 7))
    runs = rle_encode(image, 0.5)
    decoded = np.zeros(image.size, dtype=bool)
    for start, length in zip(runs[::2], runs[1::2], strict=True):
        decoded[start : start + length] = True
    assert np.array_equal(decoded.reshape(image.shape), image > 0.5)


def test_image_files_are_written(tmp_path):
    """make_image_files writes one float32 .npy image per file, of the size asked for."""
    paths = make_image_files(str(tmp_path), 3, size=16)
    images = [np.load(path) for path in paths]
    assert len(paths) == 3 and all(image.shape == (16, 16) and image.dtype == np.float32 for image in images)


def test_find_blobs_finds_separate_regions():
    """find_blobs reports each 4-connected region with its area and centre."""
    image = np.zeros((8, 8))
    image[1:3, 1:3] = 1.0  # a 2x2 square centred at (1.5, 1.5)
    image[5, 4:7] = 1.0  # a 1x3 bar centred at (5, 5)
    image[4, 7] = 1.0  # touches the bar only diagonally: a region of its own
    assert sorted(find_blobs(image, 0.5)) == [(1, 4.0, 7.0), (3, 5.0, 5.0), (4, 1.5, 1.5)]
