"""``on_error="skip_items"``: failed items leave their batch, the rest go on; counts, logs, warning."""

import logging
import subprocess
import sys
import warnings

import numpy as np
import pytest
from pipeline_helpers import marked_dataset

from batchkit import B, PipelineError

pytestmark = pytest.mark.timeout(60)


def run_collecting(pipeline, batch_size=4, **options):
    """Run with skip_items; return ``(batches seen by on_batch, warnings given)``."""
    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipeline.run(
            batch_size,
            bar=False,
            on_error="skip_items",
            on_batch=lambda b: seen.append(
                {"indices": b.indices.tolist(), "x": b.x.tolist(), "names": list(b.names)}
            ),
            **options,
        )
    return seen, [w for w in caught if issubclass(w.category, RuntimeWarning)]


def test_failed_items_are_dropped_on_every_target(target):
    """On every target, the items that failed leave their batch; the later actions see the rest."""
    seen, _ = run_collecting(marked_dataset(10).p.check(target=target).add_one())
    assert [b["indices"] for b in seen] == [[0, 1, 2], [4, 5, 6], [8, 9]]
    assert [b["x"] for b in seen] == [[1, 11, 21], [41, 51, 61], [81, 91]]  # add_one ran after


def test_index_and_every_component_are_cropped_together():
    """The index, an array component and a list component lose the same items."""
    seen, _ = run_collecting(marked_dataset(10).p.check(marked=(1, 2, 9)))
    assert seen[0] == {"indices": [0, 3], "x": [0, 30], "names": ["n0", "n3"]}
    assert seen[2] == {"indices": [8], "x": [80], "names": ["n8"]}


def test_a_cropped_batch_finds_items_by_value():
    """After cropping, ``batch[value]`` and ``get_pos`` use the new positions."""
    found = []
    with pytest.warns(RuntimeWarning, match="skip_items"):
        marked_dataset(4).p.check(marked=(0,)).run(
            4, bar=False, on_error="skip_items", on_batch=lambda b: found.append((b.get_pos(2), b[3].names))
        )
    assert found[0] == (1, "n3")


def test_a_batch_whose_items_all_fail_is_skipped():
    """A batch whose every item failed is skipped, and counted so; its items are reported too."""
    seen, caught = run_collecting(marked_dataset(8).p.check(marked=(4, 5, 6, 7)))
    assert [b["indices"] for b in seen] == [[0, 1, 2, 3]]
    assert len(caught) == 1
    assert "1 batch(es) skipped and 4 item(s) dropped" in str(caught[0].message)


def test_every_batch_failing_raises():
    """As with "skip", a run where every batch failed raises PipelineError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(PipelineError, match="every batch failed"):
            marked_dataset(4).p.check(marked=(0, 1, 2, 3)).run(2, bar=False, on_error="skip_items")


def test_an_error_that_is_no_parallel_error_skips_the_batch():
    """An error that names no items skips the whole batch, as "skip" does."""
    seen, caught = run_collecting(marked_dataset(12).p.check(marked=(1,)).fail_if([5]))
    assert [b["indices"] for b in seen] == [[0, 2, 3], [8, 9, 10, 11]]
    assert "1 batch(es) skipped and 1 item(s) dropped" in str(caught[0].message)


def test_a_parallel_error_raised_from_is_found():
    """A ParallelError that another error was raised from still says which items to drop."""
    seen, _ = run_collecting(marked_dataset(8).p.check_wrapped(marked=(2,)))
    assert [b["indices"] for b in seen] == [[0, 1, 3], [4, 5, 6, 7]]


def test_calls_that_are_not_one_per_item_skip_the_batch(caplog):
    """When the action's calls are not the batch's items, positions mean nothing: the batch is skipped."""
    caplog.set_level(logging.ERROR, logger="batchkit")
    seen, _ = run_collecting(marked_dataset(8).p.check_pairs(marked=(2,)))
    assert [b["indices"] for b in seen] == [[4, 5, 6, 7]]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "made 2 calls for the batch's 4 items" in "".join(record.exc_info[1].__notes__)


def test_apply_parallel_stores_the_results_of_the_items_kept(target):
    """An apply_parallel step stores the kept items' results in dst, on every target."""
    results = []
    with pytest.warns(RuntimeWarning, match="skip_items"):
        marked_dataset(8).p.tenth(bad=30, target=target).run(
            4,
            bar=False,
            on_error="skip_items",
            on_batch=lambda b: results.append((b.indices.tolist(), b.y.tolist())),
        )
    assert results == [([0, 1, 2], [0.0, 1.0, 2.0]), ([4, 5, 6, 7], [4.0, 5.0, 6.0, 7.0])]


def test_apply_parallel_with_a_tuple_dst_stores_each_part():
    """A tuple dst gets each kept item's tuple result taken apart."""
    results = []
    with pytest.warns(RuntimeWarning, match="skip_items"):
        marked_dataset(4).p.bounds(bad=10).run(
            4,
            bar=False,
            on_error="skip_items",
            on_batch=lambda b: results.append((b.low.tolist(), b.high.tolist())),
        )
    assert results == [([-1, 19, 29], [1, 21, 31])]


def test_batch_apply_parallel_step_drops_items(target):
    """``Batch.apply_parallel`` as a pipeline step drops its failed items too."""
    from pipeline_helpers import fail_on_three

    seen = []
    with pytest.warns(RuntimeWarning, match="skip_items"):
        marked_dataset(8).p.apply_parallel(fail_on_three, src="indices", dst="y", target=target).run(
            4,
            bar=False,
            on_error="skip_items",
            on_batch=lambda b: seen.append((b.indices.tolist(), b.y.tolist())),
        )
    assert seen == [([0, 1, 2], [0, 1, 2]), ([4, 5, 6, 7], [4, 5, 6, 7])]


def test_fail_fast_drops_the_items_never_started():
    """With fail_fast, the items the call never started are dropped as well as the failed one."""
    dataset = marked_dataset(6)
    seen, _ = run_collecting(dataset.p.check_slowly(marked=(0,), target="for", fail_fast=True), batch_size=3)
    # batch [0, 1, 2]: item 0 failed, 1 and 2 never started; batch [3, 4, 5] is whole
    assert [b["indices"] for b in seen] == [[3, 4, 5]]


@pytest.mark.timeout(30)
def test_skip_items_under_prefetch_keeps_order():
    """Under prefetch, batches still come in order with their failed items dropped."""
    seen, _ = run_collecting(marked_dataset(20).p.check(marked=(3, 7, 11)), batch_size=2, prefetch=3)
    assert [b["indices"] for b in seen] == [
        [0, 1],
        [2],
        [4, 5],
        [6],
        [8, 9],
        [10],
        [12, 13],
        [14, 15],
        [16, 17],
        [18, 19],
    ]


def test_gen_batch_and_next_batch_drop_items():
    """gen_batch and next_batch take on_error="skip_items" too."""
    pipeline = marked_dataset(8).p.check(marked=(1,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert [b.indices.tolist() for b in pipeline.gen_batch(4, on_error="skip_items")] == [
            [0, 2, 3],
            [4, 5, 6, 7],
        ]
    assert pipeline.next_batch(4, on_error="skip_items").indices.tolist() == [0, 2, 3]
    assert pipeline.next_batch(4, on_error="skip_items").indices.tolist() == [4, 5, 6, 7]


def test_raise_and_skip_policies_are_unchanged():
    """ "raise" raises the ParallelError; "skip" leaves the whole batch out."""
    from batchkit import ParallelError

    with pytest.raises(ParallelError):
        marked_dataset(8).p.check(marked=(1,)).run(4, bar=False)
    seen = []
    with pytest.warns(RuntimeWarning, match=r"1 batch\(es\) failed"):
        marked_dataset(8).p.check(marked=(1,)).run(
            4, bar=False, on_error="skip", on_batch=lambda b: seen.append(b.indices.tolist())
        )
    assert seen == [[4, 5, 6, 7]]


# -- what is said about it -----------------------------------------------------------------------


def test_one_warning_at_the_end_points_at_the_callers_line():
    """One RuntimeWarning counts skipped batches and dropped items; its location is this file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        marked_dataset(12).p.check(marked=(1, 2)).fail_if([9]).run(4, bar=False, on_error="skip_items")
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    assert str(runtime[0].message).startswith(
        "on_error='skip_items': 1 batch(es) skipped and 2 item(s) dropped"
    )
    assert runtime[0].filename == __file__


def test_the_warning_of_gen_batch_points_at_the_loop():
    """Under gen_batch the warning points at the caller's loop, in this file."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in marked_dataset(8).p.check(marked=(1,)).gen_batch(4, on_error="skip_items"):
            pass
    (warning,) = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert warning.filename == __file__


def test_no_warning_when_nothing_failed():
    """A skip_items run where nothing failed gives no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        marked_dataset(8).p.check(marked=()).run(4, bar=False, on_error="skip_items")


def test_each_dropped_item_is_logged_once_with_value_action_and_error(caplog):
    """One WARNING record per dropped item: batch, index value, action and error, on one line."""
    caplog.set_level(logging.WARNING, logger="batchkit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        marked_dataset(8).p.check(marked=(3, 6)).run(4, bar=False, on_error="skip_items")
    lines = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "dropped," in r.getMessage()
    ]
    assert lines == [
        "batch 1: item 3 dropped, it failed in check: ValueError: item 3 is marked",
        "batch 2: item 6 dropped, it failed in check: ValueError: item 6 is marked",
    ]


def test_tracebacks_go_to_the_log_file_and_stderr_gets_one_line_per_item(tmp_path):
    """With no logging configured, stderr gets one line per dropped item, no traceback; log_file has it."""
    log = tmp_path / "run.log"
    script = f"""
import sys, warnings
sys.path.insert(0, {str(__import__("pathlib").Path(__file__).parent)!r})
from pipeline_helpers import marked_dataset
warnings.simplefilter("ignore")
pipeline = marked_dataset(8).p.check(marked=(3, 6), target="for")
pipeline.run(4, bar=False, on_error="skip_items", log_file={str(log)!r})
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    errors = result.stderr.splitlines()
    assert [line for line in errors if "dropped, it failed" in line] == [
        "batch 1: item 3 dropped, it failed in check: ValueError: item 3 is marked",
        "batch 2: item 6 dropped, it failed in check: ValueError: item 6 is marked",
    ]
    assert "Traceback" not in result.stderr
    text = log.read_text()
    assert text.count("Traceback (most recent call last)") == 2
    assert "ValueError: item 3 is marked" in text


def test_the_report_lists_dropped_items_and_skipped_batches():
    """``last_run`` holds each dropped item's (value, action, error) and each skipped batch."""
    pipeline = marked_dataset(12).p.check(marked=(2,)).fail_if([9])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipeline.run(4, bar=False, on_error="skip_items")
    report = pipeline.last_run
    assert report.items_dropped == (  # tuples compare equal to the DroppedItem records
        (2, "check", "ValueError: item 2 is marked"),
    )
    assert (report.batches_done, report.batches_skipped, report.items_done) == (2, 1, 7)
    (skipped,) = report.skipped
    assert (skipped.iteration, skipped.indices, skipped.error) == (
        3,
        [8, 9, 10, 11],
        "ValueError: bad values [9]",
    )
    assert report.actions["check"].calls == 3 and report.actions["check"].items == 12
    assert report.actions["fail_if"].items == 11  # it saw batch 0 without its dropped item


def test_a_component_that_is_not_per_item_skips_the_batch(caplog):
    """A component that does not hold one element per item cannot be cropped: the batch is skipped."""
    caplog.set_level(logging.ERROR, logger="batchkit")
    seen = []

    def spoil(batch):
        if batch.indices[0] == 0:
            batch.names = ["only one"]
        seen.append(batch)

    pipeline = marked_dataset(8).p.call(spoil, B()).check(marked=(1,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        kept = [b.indices.tolist() for b in pipeline.gen_batch(4, on_error="skip_items")]
    assert kept == [[4, 5, 6, 7]]
    assert pipeline.last_run.batches_skipped == 1
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "component 'names' has 1 elements for the batch's 4 items" in "".join(record.exc_info[1].__notes__)
    assert seen[0].indices.tolist() == [0, 1, 2, 3]  # the batch was left as it was


def test_apply_parallel_with_a_list_src_skips_the_batch(caplog):
    """A list src cannot tell which pass failed: the batch is skipped, with a note saying why."""
    caplog.set_level(logging.ERROR, logger="batchkit")
    with pytest.warns(RuntimeWarning, match="1 batch"):
        kept = [
            b.indices.tolist()
            for b in marked_dataset(8)
            .p.tenth(src=["x", "x"], dst=["y", "z"], bad=30)
            .gen_batch(4, on_error="skip_items")
        ]
    assert kept == [[4, 5, 6, 7]]
    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    notes = "".join(record.exc_info[1].__notes__)
    assert "could not drop items: this apply_parallel step has a list src ['x', 'x']" in notes


def test_a_files_index_keeps_the_paths_of_the_items_kept(tmp_path):
    """A batch of a FilesIndex, cropped, is still a FilesIndex with the paths of its items."""
    from pipeline_helpers import Marked

    from batchkit import Dataset, FilesIndex

    for name in ("a", "b", "c", "d"):
        (tmp_path / f"{name}.txt").write_text(name)
    files = FilesIndex(path=str(tmp_path / "*.txt"), no_ext=True, sort=True)
    dataset = Dataset(files, Marked, preloaded={"x": np.arange(4), "names": list("abcd")})
    seen = []
    with pytest.warns(RuntimeWarning, match="1 item"):
        dataset.p.check(marked=("b",), target="for").run(
            4, bar=False, on_error="skip_items", on_batch=lambda b: seen.append(b.index)
        )
    (index,) = seen
    assert isinstance(index, FilesIndex) and index.indices.tolist() == ["a", "c", "d"]
    assert index.get_fullpath("c") == str(tmp_path / "c.txt")
