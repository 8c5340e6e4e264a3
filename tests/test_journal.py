"""``run(..., journal=path)``: a rerun skips the finished batches; another run's journal is refused.

Crashes are simulated here in-process (an exception where a kill would land); the real
``kill -9`` runs are in ``tests/faults/test_journal_kill.py``.
"""

import json
import threading
import warnings

import numpy as np
import pytest
from pipeline_helpers import journaled_dataset

from batchkit import JournalMismatch, read_output
from batchkit._journal import Journal
from batchkit.store import BatchWriter, output_info

pytestmark = pytest.mark.timeout(60)


class Crash(BaseException):
    """Stands in for a kill: not an Exception, so no failure policy catches it."""


def records(journal):
    return [json.loads(line) for line in journal.read_text().splitlines()]


def batch_records(journal):
    return [r for r in records(journal) if "batch" in r]


def output_indices(out):
    return read_output(out)["indices"].tolist()


def interrupted_then_resumed(tmp_path, *, crash_at=3, **options):
    """Run a journaled pipeline that stops with a Crash at batch ``crash_at``, then run it again."""
    out, journal, flag = tmp_path / "out", tmp_path / "run.journal", tmp_path / "flag"
    flag.touch()
    pipeline = journaled_dataset(24).p.double().fail_while(str(flag), [crash_at * 4]).write_to(out)
    with pytest.raises(ValueError, match="flag"):
        pipeline.run(4, bar=False, journal=journal, **options)
    flag.unlink()
    pipeline.run(4, bar=False, journal=journal, **options)
    return pipeline, out, journal


# -- resuming ----------------------------------------------------------------------------------


def test_a_rerun_finishes_the_batches_left_and_skips_the_rest(tmp_path):
    """A run stopped at batch 3, run again: batches 0-2 are skipped, 3-5 run; the output is whole."""
    pipeline, out, journal = interrupted_then_resumed(tmp_path)
    assert output_indices(out) == list(range(24))
    assert read_output(out)["x"].tolist() == [2 * i for i in range(24)]
    report = pipeline.last_run
    assert (report.batches_resumed, report.batches_done) == (3, 3)
    assert [r["batch"] for r in batch_records(journal)] == [1, 2, 3, 4, 5, 6]
    assert records(journal)[-1] == {"end": True, "batches": 6}


def test_a_finished_run_run_again_does_nothing(tmp_path):
    """Rerunning a finished journaled run runs no batch and leaves the output as it was."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.double().write_to(out)
    pipeline.run(4, bar=False, journal=journal)
    before = output_info(out)
    pipeline.run(4, bar=False, journal=journal)
    assert pipeline.last_run.batches_resumed == 3 and pipeline.last_run.batches_done == 0
    after = output_info(out)
    assert (after["n_parts"], after["n_items"], after["run_id"]) == (before["n_parts"], 12, before["run_id"])
    assert output_indices(out) == list(range(12))
    assert sum(1 for r in records(journal) if r.get("end")) == 1


@pytest.mark.timeout(30)
def test_resuming_under_prefetch_is_exactly_once_in_order(tmp_path):
    """With prefetch, the interrupted run and the resumed one together write each batch once, in order."""
    _, out, _ = interrupted_then_resumed(tmp_path, crash_at=4, prefetch=3)
    assert output_indices(out) == list(range(24))


def test_a_shuffled_run_with_a_seed_resumes_in_the_same_order(tmp_path):
    """shuffle=True with seed=: the resumed run goes on with the same order of items."""
    _, out, _ = interrupted_then_resumed(tmp_path, shuffle=True, seed=5, n_epochs=2)
    expected = [
        b.indices.tolist() for b in journaled_dataset(24).p.gen_batch(4, shuffle=True, seed=5, n_epochs=2)
    ]
    assert output_indices(out) == [value for batch in expected for value in batch]


def test_an_unseeded_run_resumes_with_the_same_random_numbers(tmp_path):
    """The journal keeps the seed's entropy: the resumed part draws what the whole run would have."""
    out, journal, flag = tmp_path / "out", tmp_path / "run.journal", tmp_path / "flag"
    flag.touch()
    pipeline = journaled_dataset(16).p.fail_while(str(flag), [8]).draw().write_to(out)
    with pytest.raises(ValueError):
        pipeline.run(4, bar=False, journal=journal)
    flag.unlink()
    pipeline.run(4, bar=False, journal=journal)
    entropy = int(records(journal)[0]["entropy"][0])
    whole = [b.noise.tolist() for b in journaled_dataset(16).p.draw().gen_batch(4, seed=entropy)]
    assert read_output(out)["noise"].tolist() == [value for batch in whole for value in batch]


def test_a_crash_after_the_write_and_before_the_record_writes_no_batch_twice(tmp_path, monkeypatch):
    """A part on disk that the journal does not know is dropped on resume, then written again once."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    pipeline = journaled_dataset(24).p.double().write_to(out)
    calls = {"n": 0}
    original = Journal.record_batch

    def crash_on_the_fourth(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise Crash  # part 3 is in the output, its record is not in the journal
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Journal, "record_batch", crash_on_the_fourth)
    with pytest.raises(Crash):
        pipeline.run(4, bar=False, journal=journal)
    assert output_info(out)["n_parts"] == 4 and len(batch_records(journal)) == 3
    monkeypatch.setattr(Journal, "record_batch", original)
    pipeline.run(4, bar=False, journal=journal)
    assert output_indices(out) == list(range(24))


def test_a_crash_between_the_part_and_the_manifest_writes_no_batch_twice(tmp_path, monkeypatch):
    """A part file written but not yet in the manifest is replaced on resume."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    pipeline = journaled_dataset(24).p.write_to(out)
    original = BatchWriter._write_manifest
    calls = {"n": 0}

    def crash_before_the_third_part_counts(self, manifest):
        calls["n"] += 1
        if manifest["n_parts"] == 3 and calls["n"] > 2:
            raise Crash
        return original(self, manifest)

    monkeypatch.setattr(BatchWriter, "_write_manifest", crash_before_the_third_part_counts)
    with pytest.raises(Crash):
        pipeline.run(4, bar=False, journal=journal)
    assert (out / "part-000002.npz").exists() and output_info(out)["n_parts"] == 2
    monkeypatch.setattr(BatchWriter, "_write_manifest", original)
    pipeline.run(4, bar=False, journal=journal)
    assert output_indices(out) == list(range(24))


def test_a_torn_last_line_is_no_record(tmp_path):
    """Half a record at the end of the journal (a crash while appending) is cut off on resume."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.write_to(out)
    pipeline.run(4, bar=False, journal=journal)
    lines = journal.read_text().splitlines(keepends=True)
    kept = [line for line in lines if '"end"' not in line and '"batch":3' not in line]
    journal.write_text("".join(kept) + '{"batch":3,"status":"do')  # batch 3's record, torn
    pipeline.run(4, bar=False, journal=journal)
    assert pipeline.last_run.batches_resumed == 2 and pipeline.last_run.batches_done == 1
    assert output_indices(out) == list(range(12))
    assert all(line.endswith("}") for line in journal.read_text().splitlines())


def test_a_version_1_journal_counting_batches_from_0_still_resumes(tmp_path):
    """Journals of format 1 numbered batches from 0: a rerun reads them and finishes the run."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.write_to(out)
    pipeline.run(4, bar=False, journal=journal)
    entries = [json.loads(line) for line in journal.read_text().splitlines()]
    old = []
    for entry in entries:
        if "version" in entry:
            entry["version"] = 1
        if "batch" in entry:
            entry["batch"] -= 1
        if entry.get("batch") != 2 and not entry.get("end"):  # the last batch is left to do
            old.append(json.dumps(entry))
    journal.write_text("\n".join(old) + "\n")
    pipeline.run(4, bar=False, journal=journal)
    assert pipeline.last_run.batches_resumed == 2 and pipeline.last_run.batches_done == 1
    assert output_indices(out) == list(range(12))
    pipeline.run(4, bar=False, journal=journal)  # the records it added keep the journal's numbering
    assert pipeline.last_run.batches_resumed == 3 and output_indices(out) == list(range(12))


def test_a_skipped_batch_is_not_retried(tmp_path):
    """A batch skipped by on_error='skip' is journaled as skipped: no rerun puts it after the others."""
    out, journal, flag = tmp_path / "out", tmp_path / "run.journal", tmp_path / "flag"
    flag.touch()
    pipeline = journaled_dataset(12).p.fail_while(str(flag), [4]).write_to(out)
    with pytest.warns(RuntimeWarning):
        pipeline.run(4, bar=False, journal=journal, on_error="skip")
    flag.unlink()
    pipeline.run(4, bar=False, journal=journal, on_error="skip")
    assert output_indices(out) == [0, 1, 2, 3, 8, 9, 10, 11]
    assert [r["status"] for r in batch_records(journal)] == ["done", "skipped", "done"]


def test_items_dropped_are_journaled(tmp_path):
    """Under skip_items the journal lists each batch's dropped items."""
    from pipeline_helpers import marked_dataset

    out, journal = tmp_path / "out", tmp_path / "run.journal"
    with pytest.warns(RuntimeWarning):
        marked_dataset(8).p.check(marked=(5,)).write_to(out, components="x").run(
            4, bar=False, journal=journal, on_error="skip_items"
        )
    assert batch_records(journal)[1]["dropped"] == [[5, "check", "ValueError: item 5 is marked"]]
    assert output_indices(out) == [0, 1, 2, 3, 4, 6, 7]


def test_a_run_without_output_is_journaled_too(tmp_path):
    """A journal needs no write_to: the finished batches are skipped on resume all the same."""
    journal, flag = tmp_path / "run.journal", tmp_path / "flag"
    seen = []
    flag.touch()
    pipeline = journaled_dataset(12).p.fail_while(str(flag), [8])
    with pytest.raises(ValueError):
        pipeline.run(4, bar=False, journal=journal, on_batch=lambda b: seen.append(b.indices[0]))
    flag.unlink()
    pipeline.run(4, bar=False, journal=journal, on_batch=lambda b: seen.append(b.indices[0]))
    assert seen == [0, 4, 8]


def test_gen_batch_keeps_a_journal(tmp_path):
    """gen_batch records each batch before yielding it; breaking out and resuming goes on from there."""
    journal = tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.double()
    first = pipeline.gen_batch(4, journal=journal)
    next(first)
    first.close()
    assert [b.indices[0] for b in pipeline.gen_batch(4, journal=journal)] == [4, 8]


# -- refusals ----------------------------------------------------------------------------------


def test_another_run_s_journal_is_refused_naming_what_differs(tmp_path):
    """Another batch size and other action arguments: refused, saying what differs and what to do."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    journaled_dataset(12).p.pause(0.0).write_to(out).run(4, bar=False, journal=journal)
    with pytest.raises(JournalMismatch) as info:
        journaled_dataset(12).p.pause(0.5).write_to(out).run(6, bar=False, journal=journal)
    message = str(info.value)
    assert "belongs to another run" in message
    assert "batch_size: 4 in the journal, 6 now" in message
    assert "actions: step 0 is pause(0.0) in the journal, pause(0.5) now" in message
    assert "Delete the journal and the output it wrote" in message and str(out) in message
    assert "or run it as it was" in message


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"n_epochs": 2}, "n_epochs"),
        ({"drop_last": True}, "drop_last"),
        ({"seed": 3}, "seed"),
        ({"shuffle": 2}, "shuffle"),
        ({"n_iters": 2}, "n_iters"),
        ({"flavour": "other"}, "batch_kwargs"),
    ],
    ids=["n_epochs", "drop_last", "seed", "shuffle", "n_iters", "batch_kwargs"],
)
def test_other_run_arguments_are_refused(tmp_path, options, named):
    """Each recorded run argument is compared, and the message names the one that differs."""
    journal = tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.double()
    pipeline.run(4, bar=False, journal=journal)
    with pytest.raises(JournalMismatch, match=f"{named}: "):
        pipeline.run(4, bar=False, journal=journal, **options)


def test_other_data_is_refused(tmp_path):
    """Another dataset (other index values) is refused."""
    journal = tmp_path / "run.journal"
    journaled_dataset(12).p.double().run(4, bar=False, journal=journal)
    with pytest.raises(JournalMismatch, match="dataset index: "):
        journaled_dataset(16).p.double().run(4, bar=False, journal=journal)


def test_a_shuffled_run_without_a_seed_is_refused_before_any_work(tmp_path):
    """shuffle=True with no seed cannot be resumed: a clear error, no batch made, no journal written."""
    journal = tmp_path / "run.journal"
    started = []
    pipeline = journaled_dataset(12).p.before.call(started.append, "start").double()
    with pytest.raises(ValueError, match="a shuffled run with a journal needs a fixed seed"):
        pipeline.run(4, bar=False, shuffle=True, journal=journal)
    with pytest.raises(ValueError, match="needs a fixed seed"):
        pipeline.gen_batch(4, shuffle=True, journal=journal)  # at the call, not at the first batch
    assert started == [] and not journal.exists()


def test_a_run_shuffled_by_a_generator_is_refused(tmp_path):
    """A Generator's state is not recorded: refused even with a seed."""
    with pytest.raises(ValueError, match="shuffled by a Generator"):
        journaled_dataset(12).p.run(
            4, bar=False, shuffle=np.random.default_rng(1), seed=1, journal=tmp_path / "j"
        )


def test_rebatch_join_and_merge_are_refused(tmp_path):
    """Batches that depend on earlier ones cannot be journaled."""
    dataset = journaled_dataset(12)
    for pipeline in (dataset.p.rebatch(3), dataset.p.merge(dataset.p), dataset.p.join(dataset.p).double()):
        with pytest.raises(ValueError, match="a journal cannot resume a pipeline with"):
            pipeline.run(4, bar=False, journal=tmp_path / "j")


def test_write_to_inside_a_repeated_part_is_refused(tmp_path):
    """A nested write_to writes neither in order nor once per batch: refused."""
    from batchkit import Pipeline

    pipeline = journaled_dataset(12).p + Pipeline().write_to(tmp_path / "out") * 2
    with pytest.raises(ValueError, match="write_to at the top of the pipeline"):
        pipeline.run(4, bar=False, journal=tmp_path / "j")


def test_next_batch_keeps_no_journal(tmp_path):
    """Stored run arguments with a journal cannot drive next_batch."""
    pipeline = journaled_dataset(12).p.run_later(4, journal=tmp_path / "j")
    with pytest.raises(TypeError, match="next_batch keeps no journal"):
        pipeline.next_batch()


def test_an_output_that_lost_parts_is_refused(tmp_path):
    """If the output no longer holds what the journal recorded, the rerun is refused."""
    import shutil

    out, journal, flag = tmp_path / "out", tmp_path / "run.journal", tmp_path / "flag"
    flag.touch()
    pipeline = journaled_dataset(12).p.fail_while(str(flag), [8]).write_to(out)
    with pytest.raises(ValueError):
        pipeline.run(4, bar=False, journal=journal)
    shutil.rmtree(out)
    flag.unlink()
    with pytest.raises(JournalMismatch, match="recorded 2 parts written to"):
        pipeline.run(4, bar=False, journal=journal)


def test_a_damaged_journal_is_refused(tmp_path):
    """A complete line that is not JSON is damage: refused, with what to do."""
    journal = tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.double()
    pipeline.run(4, bar=False, journal=journal)
    lines = journal.read_text().splitlines()
    lines[2] = "not json"
    journal.write_text("\n".join(lines) + "\n")
    with pytest.raises(JournalMismatch, match="damaged at line 3"):
        pipeline.run(4, bar=False, journal=journal)


def test_a_file_that_is_not_a_journal_is_refused(tmp_path):
    """Some other file at the journal's path is not overwritten."""
    journal = tmp_path / "notes.txt"
    journal.write_text('{"hello": 1}\n')
    with pytest.raises(JournalMismatch, match="is not a batchkit journal"):
        journaled_dataset(12).p.run(4, bar=False, journal=journal)
    assert journal.read_text() == '{"hello": 1}\n'


def test_a_journal_in_use_is_refused(tmp_path):
    """Two runs on one journal at the same time: the second is refused."""
    journal = tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.double()
    running = pipeline.gen_batch(4, journal=journal)
    next(running)
    try:
        with pytest.raises(JournalMismatch, match="in use by another run"):
            next(iter(journaled_dataset(12).p.double().gen_batch(4, journal=journal)))
    finally:
        running.close()


def test_a_changed_order_of_batches_is_refused(tmp_path, monkeypatch):
    """If the same arguments cut other batches (another numpy, say), the fingerprints catch it."""
    journal = tmp_path / "run.journal"
    journaled_dataset(12).p.double().run(4, bar=False, journal=journal)
    text = journal.read_text().replace(batch_records(journal)[0]["fingerprint"], "0" * 24)
    journal.write_text(text)
    with pytest.raises(JournalMismatch, match="batch 1 of this run holds other items"):
        journaled_dataset(12).p.double().run(4, bar=False, journal=journal)


def test_the_header_describes_the_run(tmp_path):
    """The header records the dataset, batch size, order, epochs, drop_last, steps and outputs."""
    journal = tmp_path / "run.journal"
    journaled_dataset(12).p.double().pause(0.0).write_to(tmp_path / "out").run(
        4, bar=False, journal=journal, shuffle=3, n_epochs=2, drop_last=True
    )
    header = records(journal)[0]
    assert header["format"] == "batchkit.journal" and header["version"] == 2
    run = header["run"]
    assert run["dataset"]["n_items"] == 12 and len(run["dataset"]["index"]) == 24
    assert (run["batch_size"], run["shuffle"], run["n_epochs"], run["drop_last"]) == (4, "3", "2", True)
    assert run["actions"][:2] == ["double()", "pause(0.0)"]
    assert run["outputs"] == [str(tmp_path / "out")]


def test_journaled_writers_fsync(tmp_path, monkeypatch):
    """Under a journal, each part is flushed to the disk before its record (fsync=True writers)."""
    seen = []
    original = BatchWriter.__init__

    def recording(self, *args, **kwargs):
        seen.append(kwargs.get("fsync"))
        original(self, *args, **kwargs)

    monkeypatch.setattr(BatchWriter, "__init__", recording)
    journaled_dataset(8).p.write_to(tmp_path / "out").run(4, bar=False, journal=tmp_path / "j")
    assert seen == [True]


def test_the_journal_is_released_after_the_run(tmp_path):
    """After a run (finished, failed or abandoned) the journal can be used again at once."""
    journal = tmp_path / "run.journal"
    pipeline = journaled_dataset(12).p.double()
    generator = pipeline.gen_batch(4, journal=journal)
    next(generator)
    generator.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pipeline.run(4, bar=False, journal=journal)
    assert pipeline.last_run.batches_resumed == 1
    assert not [t for t in threading.enumerate() if t.name.startswith("batchkit-prefetch")]
