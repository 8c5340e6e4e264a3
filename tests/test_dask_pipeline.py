"""Pipelines on a dask cluster: the same outputs, variables, policies and report as a local run.

Every test of this module shares one two-worker LocalCluster on loopback.
"""

from __future__ import annotations

import io
import os

import dask_pipeline_helpers as ph
import numpy as np
import pytest
from dask_cluster import local_cluster

from batchkit import ParallelError, PipelineError, RemoteTraceback, read_output

pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module", autouse=True)
def client():
    with local_cluster() as client:
        yield client


def collected(pipeline, batch_size=4, **options):
    """Each batch's ``x`` as a list, in the order ``on_batch`` got them."""
    seen = []
    pipeline.run(batch_size, bar=False, on_batch=lambda batch: seen.append(batch.x.tolist()), **options)
    return seen


def test_outputs_match_a_local_run(client):
    """A pipeline with mpc and threads actions gives the same batches on the cluster as locally."""
    pipeline = ph.dataset().p.double().triple_items().check_items()
    assert collected(pipeline, client=client) == collected(pipeline)


def test_batches_are_made_on_the_workers(client):
    """Each batch is made and processed in a worker process, not in the caller."""
    workers = set(client.run(os.getpid).values())
    seen = []
    ph.dataset().p.mark_process().run(4, bar=False, client=client, on_batch=lambda b: seen.extend(b.where))
    assert set(seen) <= workers and os.getpid() not in seen


def test_client_true_uses_the_client_in_force():
    """client=True runs on the client set by batchkit.config."""
    pipeline = ph.dataset().p.double()
    assert collected(pipeline, client=True) == collected(pipeline)


def test_results_come_in_order_when_later_batches_finish_first(client):
    """Batches come out in run order even when the later ones finish first."""
    pipeline = ph.dataset(12).p.slower_first(3)
    assert collected(pipeline, client=client) == [list(range(i, i + 4)) for i in (0, 4, 8)]


def _plain(value):
    """A variable's value as plain lists, to compare: arrays listed, a set sorted."""
    if isinstance(value, set):
        return sorted(int(x) for x in value)
    if isinstance(value, list):
        return [np.asarray(x).tolist() for x in value]
    return np.asarray(value).tolist()


@pytest.mark.parametrize("mode", ["w", "a", "e", "u"])
def test_variables_match_a_local_run(client, mode):
    """Variables assigned on the workers in each mode end as a local run leaves them."""
    local, remote = ph.variables_pipeline(mode), ph.variables_pipeline(mode)
    local.run(4, bar=False)
    remote.run(4, bar=False, client=client)
    assert _plain(remote.v("v")) == _plain(local.v("v"))


def test_in_flight_batches_stay_within_prefetch(client, monkeypatch):
    """With prefetch=2, at most two batches are submitted and not yet taken at any time."""
    import batchkit._run_distributed as rd

    state = {"out": 0, "most": 0}
    submit, finish = type(client).submit, rd._finish

    def counted_submit(self, *args, **kwargs):
        state["out"] += 1
        state["most"] = max(state["most"], state["out"])
        return submit(self, *args, **kwargs)

    def counted_finish(*args):
        state["out"] -= 1
        return finish(*args)

    monkeypatch.setattr(type(client), "submit", counted_submit)
    monkeypatch.setattr(rd, "_finish", counted_finish)
    assert (len(collected(ph.dataset(40).p.double(), client=client, prefetch=2)), state["most"]) == (10, 2)


def test_failed_batch_raises_with_the_remote_traceback(client):
    """Under on_error='raise' a batch's error reaches the caller with the worker's traceback."""
    with pytest.raises(ValueError, match="batch holding 5 fails") as info:
        ph.dataset().p.fail_on(5).run(4, bar=False, client=client)
    assert isinstance(info.value.__cause__, RemoteTraceback) and "fail_on" in info.value.__cause__.text


def test_skip_leaves_out_the_failed_batch(client):
    """Under on_error='skip' the failed batch is left out and counted; the others come."""
    with pytest.warns(RuntimeWarning):
        seen = collected(ph.dataset().p.fail_on(5), client=client, on_error="skip")
    assert seen == [[0, 1, 2, 3], *[list(range(i, i + 4)) for i in (8, 12, 16)]]


def test_skip_items_drops_the_failed_items(client):
    """Under on_error='skip_items' the item that failed in an action is dropped; the report names it."""
    pipeline = ph.dataset(12).p.check_items()
    with pytest.warns(RuntimeWarning):
        seen = collected(pipeline, client=client, on_error="skip_items")
    report = pipeline.last_run
    assert (seen[1], [item.index for item in report.items_dropped]) == ([4, 5, 6], [7])


def test_every_batch_failing_raises_pipeline_error(client):
    """As locally, a skipping run in which every batch failed raises PipelineError."""
    with pytest.raises(PipelineError):
        ph.dataset(8).p.fail_on(0).fail_on(4).run(4, bar=False, client=client, on_error="skip")


def test_stop_pipeline_ends_the_run_after_the_batches_before(client):
    """StopPipeline raised on a worker ends the run; the batches before it are kept."""
    assert collected(ph.dataset().p.stop_on(9), client=client) == [[0, 1, 2, 3], [4, 5, 6, 7]]


def test_report_counts_the_workers_action_times(client):
    """The run report counts each action once per batch, as measured on the workers."""
    pipeline = ph.dataset().p.double()
    pipeline.run(4, bar=False, client=client)
    totals = pipeline.last_run.actions["double"]
    assert (pipeline.last_run.batches_done, totals.calls, totals.items) == (5, 5, 20)


def test_write_to_output_matches_a_local_run(client, tmp_path):
    """write_to runs in the caller: the output file holds what a local run writes, in order."""
    ph.dataset().p.double().write_to(tmp_path / "local").run(4, bar=False)
    ph.dataset().p.double().write_to(tmp_path / "remote").run(4, bar=False, client=client)
    local, remote = read_output(tmp_path / "local"), read_output(tmp_path / "remote")
    assert remote["x"].tolist() == local["x"].tolist()


def test_journaled_run_is_resumed_without_running_again(client, tmp_path):
    """A journaled run on the cluster records every batch: running it again resumes them all."""
    journal = tmp_path / "run.journal"
    ph.dataset().p.double().write_to(tmp_path / "out").run(4, bar=False, client=client, journal=journal)
    again = ph.dataset().p.double().write_to(tmp_path / "out")
    again.run(4, bar=False, client=client, journal=journal)
    assert (again.last_run.batches_resumed, read_output(tmp_path / "out")["x"].tolist()) == (
        5,
        [2 * i for i in range(20)],
    )


def test_progress_bar_counts_every_batch(client):
    """The progress bar moves once per batch, as locally."""
    stream = io.StringIO()
    ph.dataset().p.double().run(4, bar={"file": stream, "mininterval": 0}, client=client)
    assert "5/5" in stream.getvalue()


def test_worker_killed_mid_run_loses_and_doubles_no_batch(client, tmp_path):
    """A worker killed during a batch: dask runs it again; every batch comes out exactly once."""
    marker = str(tmp_path / "killed")
    seen = collected(ph.dataset().p.die_once(marker).double(), client=client)
    expected = [[2 * i for i in range(j, j + 4)] for j in range(0, 20, 4)]
    assert (seen, os.path.exists(marker)) == (expected, True)


def test_join_is_refused_on_a_cluster(client):
    """join pulls batches from another pipeline in the caller: refused with client=, before any work."""
    with pytest.raises(TypeError, match="join cannot run on a cluster"):
        ph.dataset().p.join(ph.dataset().p).run(4, bar=False, client=client)


def test_client_must_be_a_client():
    """client= refuses a value that is neither a client, True nor None, naming it."""
    with pytest.raises(TypeError, match=r"'client' must be a dask.distributed Client, True"):
        ph.dataset().p.double().run(4, bar=False, client="tcp://127.0.0.1:1")


def test_parallel_error_of_a_batch_keeps_its_members(client):
    """A ParallelError raised on a worker reaches the caller with its failed items as members."""
    with pytest.raises(ParallelError) as info:
        ph.dataset().p.check_items().run(4, bar=False, client=client)
    assert [str(error) for error in info.value.exceptions] == ["item 7 is bad"]


def test_gen_batch_on_the_cluster_yields_the_local_batches(client):
    """gen_batch(client=...) yields the same processed batches, in order, as locally."""
    pipeline = ph.dataset().p.double()
    remote = [batch.x.tolist() for batch in pipeline.gen_batch(4, client=client)]
    assert remote == [batch.x.tolist() for batch in pipeline.gen_batch(4)]


def test_closing_gen_batch_early_drops_the_batches_in_flight(client):
    """Leaving a gen_batch loop early drops the batches still on the cluster: none is left held."""
    batches = ph.dataset(40).p.slower_first(10).gen_batch(4, client=client, prefetch=4)
    next(batches)
    batches.close()
    assert [key for key in client.futures if str(key).startswith("batchkit-")] == []


def test_pipeline_that_cannot_pickle_is_refused_with_the_reason(client):
    """A pipeline holding something that cannot be pickled is refused before any batch runs."""
    import threading

    with pytest.raises(TypeError, match="the pipeline cannot be sent to the cluster"):
        ph.dataset().p.fail_on(threading.Lock()).run(4, bar=False, client=client)


def test_batch_random_draws_match_a_local_run(client):
    """Each batch's own generator gives on the cluster the draws it gives locally (same seed)."""
    pipeline = ph.dataset().p.noise()
    assert collected(pipeline, client=client, seed=7) == collected(pipeline, seed=7)


def test_a_counter_read_and_written_by_each_batch_is_refused_not_left_different(client):
    """update(V("n"), V("n") + 1) counts every batch locally; on workers it cannot: a clear error."""
    from batchkit import V

    local = ph.dataset(20).p.init_variable("n", 0).update(V("n"), V("n") + 1)
    local.run(4, bar=False)
    assert local.v("n") == 5
    remote = ph.dataset(20).p.init_variable("n", 0).update(V("n"), V("n") + 1)
    with pytest.raises(PipelineError, match="read and then written by the same batch"):
        remote.run(4, bar=False, client=client)


def test_a_notifier_shows_variables_merged_from_the_workers_as_locally(client):
    """Monitored variables are read in the caller after each batch's merge: the local values."""
    from batchkit import B, Notifier, V

    def watched_run(**options):
        watch = Notifier(False, monitors="sums")
        pipeline = ph.dataset(20).p.init_variable("sums", []).update(V("sums", mode="a"), B().x.sum())
        pipeline.run(4, notifier=watch, **options)
        return watch.data["sums"]

    assert watched_run(client=client) == watched_run() and len(watched_run()) == 5
