"""Block processing over random shapes, axes and limits: the valid regions tile the source,
every block keeps the limits, and a filter blockwise equals the filter over the whole array."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from test_blocks import assert_tiles, box_mean

from batchkit.blocks import process_blocks, split_into_blocks


@st.composite
def splits(draw):
    """A shape of 1 to 3 axes, split axes, and size_max, size_min, overlap, n_workers to match."""
    shape = tuple(draw(st.lists(st.integers(1, 14), min_size=1, max_size=3)))
    axes = draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=len(shape), unique=True))
    overlap = draw(st.integers(0, 3))
    size_max = draw(st.none() | st.integers(2 * overlap + 1, 16))
    size_min = draw(st.none() | st.integers(1, size_max or 16))
    n_workers = draw(st.none() | st.integers(1, 5))
    return shape, {"axes": axes, "size_max": size_max, "size_min": size_min, "overlap": overlap,
                   "n_workers": n_workers}  # fmt: skip


def _split(shape, options):
    try:
        return split_into_blocks(shape, **options)
    except ValueError as why:
        if "cannot be split" in str(why):  # no block count fits size_min..size_max: a valid refusal
            reject()
        raise


@pytest.mark.timeout(60)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(splits())
def test_valid_regions_tile_the_source_within_the_limits(case):
    """No gap, no double cover; overlap exact on inner sides; sizes within the limits; balance."""
    shape, options = case
    blocks = _split(shape, options)
    assert_tiles(blocks, shape, overlap=options["overlap"])
    for block in blocks:
        for axis in options["axes"]:
            size, length = block.shape[axis], shape[axis]
            if options["size_max"] is not None:
                assert size <= options["size_max"]
            if options["size_min"] is not None and length >= options["size_min"]:
                assert size >= options["size_min"]
            assert block.valid_shape[axis] >= 1
    n_workers = options["n_workers"]
    if n_workers and len(blocks) % n_workers:  # a multiple was out of the limits' reach
        finer = dict(options, n_workers=None)
        assert len(blocks) == len(_split(shape, finer))


@pytest.mark.timeout(60)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(splits(), st.integers(0, 3), st.randoms(use_true_random=False))
def test_blockwise_filter_equals_the_whole_array_filter(case, radius, random):
    """With overlap >= radius, the box filter blockwise is exactly the whole-array filter."""
    shape, options = case
    radius = min(radius, options["overlap"])
    _split(shape, options)
    data = np.random.default_rng(random.randint(0, 2**32)).random(shape)
    result = process_blocks(box_mean, data, target="for", radius=radius, **options)
    assert np.array_equal(result, box_mean(data, radius))
