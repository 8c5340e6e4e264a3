"""``target="dask"``: the conformance suites against ``for``, and what is the dask target's own.

The crossed suites are `test_conformance` and `test_conformance_hypothesis`, collected here
again with ``target`` fixed to "dask"; every test of this module shares one two-worker
LocalCluster on loopback.
"""

from __future__ import annotations

import inspect
import os
import sys
import threading

import helpers
import numpy as np
import pytest
import test_conformance
import test_conformance_hypothesis
from dask_cluster import local_cluster

import batchkit
from batchkit import (
    ItemCancelled,
    ItemTimeout,
    ParallelError,
    RemoteTraceback,
    TargetError,
    WorkerDied,
    parallel,
)
from batchkit.errors import WorkerError
from batchkit.executors import distributed as dask_executor

pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(60)


def _crossed(fn) -> bool:
    """Whether a suite's test runs on the ``target`` fixture (not on targets it picks itself)."""
    if not callable(fn) or "target" not in inspect.signature(fn).parameters:
        return False
    marks = getattr(fn, "pytestmark", [])
    return not any(mark.name == "parametrize" and "target" in mark.args[0] for mark in marks)


# the crossed suites, collected in this module too, where ``target`` is "dask"
for _suite in (test_conformance, test_conformance_hypothesis):
    for _name, _test in vars(_suite).items():
        if _name.startswith("test_") and _crossed(_test):
            globals()[_name] = _test


@pytest.fixture(scope="module", autouse=True)
def dask_client():
    with local_cluster() as client:
        yield client


@pytest.fixture
def target():
    return "dask"


def run(fn, entries, *args, post=None, **kwargs):
    return parallel(init=lambda *a, **k: entries, post=post, target="dask")(fn)(*args, **kwargs)


def test_items_run_in_the_cluster_workers(dask_client):
    """Items run in the cluster's worker processes, not in the caller."""
    workers = set(dask_client.run(os.getpid).values())
    pids = run(helpers.slow_pid_of, list(range(40)))
    assert set(pids) <= workers and os.getpid() not in pids


def test_failed_item_carries_its_remote_traceback():
    """A failed item's exception has the worker's traceback as its __cause__."""
    with pytest.raises(ParallelError) as info:
        run(helpers.fail_on_odd, [0, 1, 2])
    (error,) = info.value.exceptions
    assert isinstance(error.__cause__, RemoteTraceback) and "fail_on_odd" in error.__cause__.text


def test_timeout_fails_the_slow_item_alone():
    """An item past the timeout fails with ItemTimeout; the other items keep their results."""
    entries = [[0, 0.0], [1, 3.0], [2, 0.0]]
    results = run(helpers.sleepy_identity, entries, post=lambda results: results, timeout=0.3)
    assert [type(r) if isinstance(r, Exception) else r for r in results] == [0, ItemTimeout, 2]


def test_fail_fast_starts_no_chunk_after_the_failure():
    """With fail_fast and one task at a time, the items after a failed one are never started."""
    with pytest.raises(ParallelError) as info:
        run(helpers.always_fail, list(range(20)), fail_fast=True, n_workers=1)
    error = info.value
    assert (error.failed_positions, error.cancelled_positions) == ([0], list(range(1, 20)))


def test_cancelled_slots_hold_item_cancelled():
    """The slots fail_fast never started hold ItemCancelled."""
    with pytest.raises(ParallelError) as info:
        run(helpers.always_fail, list(range(6)), fail_fast=True, n_workers=1)
    assert all(isinstance(value, ItemCancelled) for value in info.value.results[1:])


def test_n_workers_caps_tasks_in_flight(monkeypatch):
    """n_workers=1 keeps at most one task of the call in flight at a time."""
    in_flight, most, lock = [0], [0], threading.Lock()
    submit, store = dask_executor._Call.submit, dask_executor._Call._store

    def counted_submit(self, *args):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
        return submit(self, *args)

    def counted_store(self, *args):
        with lock:
            in_flight[0] -= 1
        return store(self, *args)

    monkeypatch.setattr(dask_executor._Call, "submit", counted_submit)
    monkeypatch.setattr(dask_executor._Call, "_store", counted_store)
    monkeypatch.setattr(dask_executor, "MIN_CHUNK_SECONDS", 1e-9)  # many chunks, so the cap matters
    results = run(helpers.square, list(range(30)), n_workers=1)
    assert (results, most[0]) == ([i * i for i in range(30)], 1)


def test_large_array_argument_is_scattered_once(dask_client, monkeypatch):
    """An action argument of a few MiB is scattered once per call, whatever the number of tasks."""
    scattered = []
    original = type(dask_client).scatter

    def spy(self, data, *args, **kwargs):
        scattered.append(len(data))
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(type(dask_client), "scatter", spy)
    monkeypatch.setattr(dask_executor, "MIN_CHUNK_SECONDS", 1e-9)  # several tasks, whatever was learnt
    big = np.ones(1 << 19)  # 4 MiB
    results = run(helpers.add, list(range(12)), big, n_workers=2)
    assert (scattered, [float(r.sum()) for r in results]) == ([1], [(1 + i) * big.size for i in range(12)])


def test_entry_that_cannot_pickle_fails_its_item_only():
    """An entry that cannot be pickled fails its own item with WorkerError; the others run."""
    results = run(helpers.identity, [1, threading.Lock(), 3], post=lambda results: results)
    assert [type(r) if isinstance(r, Exception) else r for r in results] == [1, WorkerError, 3]


def test_mpc_action_inside_a_dask_item_runs_in_that_worker():
    """An mpc action called from a dask item runs its items inline in that worker process."""
    pids = run(helpers.nested_mpc_pids, [3, 3])
    assert all(len(set(inner)) == 1 and inner[0] == outer for outer, inner in pids)


def test_dask_action_inside_a_dask_item_runs_in_that_worker():
    """A dask action called from a dask item runs its items inline there, not as new tasks."""
    pids = run(helpers.nested_dask_pids, [3, 3])
    assert all(set(inner) == {outer} for outer, inner in pids)


def test_item_progress_bar_counts_every_item():
    """An item_progress bar over an action on dask counts every item, chunk by chunk."""
    import io

    from batchkit import item_progress

    stream = io.StringIO()
    with item_progress(file=stream, mininterval=0):
        run(helpers.square, list(range(6)))
    assert "6/6" in stream.getvalue()


def test_without_dask_the_target_says_how_to_install(monkeypatch):
    """Without dask.distributed, target='dask' fails with the pip command to install it."""
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(TargetError, match=r"pip install 'batchkit-parallel\[dask\]'"):
        run(helpers.square, [1])


def test_config_context_restores_the_previous_client(dask_client):
    """Leaving a config block puts back the client that was in force before it."""
    from batchkit._config import configured_client

    with batchkit.config(client=None):
        inner = configured_client()
    assert (inner, configured_client()) == (None, dask_client)


def test_config_refuses_what_is_not_a_client():
    """config(client=...) refuses a value that is not a dask client, naming it."""
    with pytest.raises(TypeError, match=r"'client' must be a dask.distributed Client or None \(got 'tcp"):
        batchkit.config(client="tcp://127.0.0.1:8786")


def test_worker_killed_mid_call_loses_no_item(tmp_path):
    """A worker process that dies during a call has its task run again elsewhere: every result comes."""
    marker = str(tmp_path / "killed")
    results = run(helpers.exit_once, list(range(8)), marker, n_workers=2)
    assert (results, os.path.exists(marker)) == (list(range(8)), True)


def test_task_that_kills_every_worker_fails_its_items_with_worker_died():
    """A task that kills each worker it runs on fails its items with WorkerDied once dask gives up."""
    with pytest.raises(ParallelError) as info:
        run(helpers.exit_always, [1], n_workers=1)
    assert [type(error) for error in info.value.exceptions] == [WorkerDied]


def test_dask_default_client_is_used_when_none_is_configured(dask_client):
    """With no client set in batchkit.config, dask's default client (the application's) is used."""
    from distributed import Client

    from batchkit.executors._dask_client import resolve_client

    with Client(dask_client.scheduler.address) as default, batchkit.config(client=None):
        assert resolve_client() is default


def test_item_raising_a_base_exception_fails_alone():
    """An item raising a BaseException (not an Exception) fails with WorkerError; the rest run."""
    results = run(helpers.halt_on_two, [0, 1, 2, 3], post=lambda results: results)
    assert [type(r) if isinstance(r, BaseException) else r for r in results] == [0, 1, WorkerError, 3]


def test_result_that_cannot_pickle_fails_its_item_only():
    """An item whose result cannot be pickled back fails alone with WorkerError."""
    results = run(helpers.return_lock_on_one, [0, 1, 2], post=lambda results: results)
    assert [type(r) if isinstance(r, Exception) else r for r in results] == [0, WorkerError, 20]


def test_exception_that_cannot_unpickle_comes_back_as_worker_error():
    """An item's exception that would not unpickle comes back as a WorkerError naming it."""
    results = run(helpers.raise_unpicklable_on_one, [0, 1], post=lambda results: results)
    assert isinstance(results[1], WorkerError) and "NeedsTwoArgs" in str(results[1])


def test_per_item_action_arguments_reach_their_items():
    """Per-item values of an action argument (P/PP) replace it item by item on the workers."""
    from batchkit._calls import SINGLE, Calls
    from batchkit.executors import RunOptions, get_executor

    calls = Calls([1, 2, 3], SINGLE, args=(0,), per_item={0: [10, 20, 30]})
    outcomes = get_executor("dask").run(helpers.add, calls, RunOptions())
    assert outcomes.values == [11, 22, 33]


def test_unpicklable_worker_function_is_refused_with_a_hint():
    """A worker function that cannot be pickled is refused before any task, saying what to return."""
    lock = threading.Lock()
    with pytest.raises(TypeError, match="target='dask' needs a worker function that can be pickled"):
        run(lambda x: (lock, x)[1], [1])


def blas_threads(_):
    from threadpoolctl import threadpool_info

    return sorted({info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"})


def test_dask_workers_keep_one_blas_thread_unless_inner_threads_says_otherwise():
    """dask's nanny starts workers with OMP_NUM_THREADS=1 and the like; inner_threads= sets the cap."""
    assert run(blas_threads, [0, 1]) == [[1], [1]]
    capped = parallel(init=lambda: [0, 1], target="dask", inner_threads=2)(blas_threads)()
    assert capped == [[2], [2]]
