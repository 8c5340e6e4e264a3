"""The ``threads`` target's default thread count: one per core for busy items, more for waiting ones.

Runner counts are observed through the pool's ``submit`` (a call's runners are the calling thread
plus one submitted task each; under a timeout every runner is submitted). Nothing here asserts a
timing: the speed and memory of the rule are measured in ``benchmarks/bench_threads_default.py``.
"""

import hashlib
import time
import types

import pytest

import batchkit.executors.threads as threads_module
from batchkit._calls import SINGLE, Calls
from batchkit._cpus import BUSY_SHARE, available_cpus, default_thread_workers, thread_workers
from batchkit.executors._base import RunOptions
from batchkit.executors._timing import ItemTimes, cpu_share
from batchkit.executors.threads import ThreadExecutor

CPUS = available_cpus()
WIDE = min(32, CPUS + 4)
DATA = bytes(1 << 20)


def hash_a_lot(x):
    """Busy on a CPU without the GIL (hashlib lets it go for large buffers): about 10 ms."""
    for _ in range(4):
        hashlib.sha256(DATA).digest()
    return x


def doze(x):
    """Waits: an I/O-like item."""
    time.sleep(0.02)
    return x


@pytest.fixture
def executor(monkeypatch):
    """A fresh threads executor whose pool records how many runners each call submits."""
    executor = ThreadExecutor()
    submitted = []
    original = executor._pool.submit

    def submit(fn, *args):
        submitted.append(fn)
        return original(fn, *args)

    monkeypatch.setattr(executor._pool, "submit", submit)
    executor.submitted = submitted
    yield executor
    executor.close()


def submits_of(executor, fn, n_items, **options):
    """Run ``fn`` over ``n_items`` items; return how many pool tasks the call submitted."""
    before = len(executor.submitted)
    outcomes = executor.run(fn, Calls(list(range(n_items)), SINGLE), RunOptions(**options))
    assert outcomes.values == list(range(n_items))
    return len(executor.submitted) - before


# -- the decision, in isolation ----------------------------------------------------------------


@pytest.mark.timeout(10)
@pytest.mark.parametrize("share", [1.0, 0.9, BUSY_SHARE + 0.01])
def test_busy_items_get_one_thread_per_core(share):
    assert thread_workers(share) == CPUS


@pytest.mark.timeout(10)
@pytest.mark.parametrize("share", [0.0, 0.01, BUSY_SHARE])
def test_waiting_items_get_cpus_plus_four_capped_at_32(share):
    assert thread_workers(share) == WIDE == default_thread_workers()
    assert thread_workers(share) <= 32


@pytest.mark.timeout(10)
def test_a_function_not_yet_measured_starts_at_one_thread_per_core():
    assert thread_workers(None) == CPUS


@pytest.mark.timeout(10)
def test_cpu_share_is_measured_against_what_the_cores_allowed():
    assert cpu_share(0.5, 1.0, 1) == 0.5
    # twice as many runners as cores, all computing: each got half a core, the share is full
    runners = 2 * CPUS
    assert cpu_share(float(CPUS), float(runners), runners) == pytest.approx(1.0)
    assert cpu_share(0.0, 0.0, 3) is None


@pytest.mark.timeout(10)
def test_item_times_keep_a_moving_average_of_the_share_per_function():
    times = ItemTimes()
    assert times.lookup(doze) == (None, None)
    times.record(doze, 1.0, 10, 0.2)
    assert times.lookup(doze) == (0.1, 0.2)
    times.record(doze, 1.0, 10, 0.6)
    assert times.lookup(doze) == (0.1, pytest.approx(0.4))
    times.record(doze, 2.0, 10)  # a call without a share leaves the share alone
    assert times.lookup(doze) == (pytest.approx(0.15), pytest.approx(0.4))
    times.record_share(hash_a_lot, 0.9)
    assert times.lookup(hash_a_lot) == (None, 0.9)


# -- the rule at work ----------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_first_call_starts_at_most_one_runner_per_core(executor):
    assert submits_of(executor, doze, 2 * WIDE) + 1 <= CPUS


@pytest.mark.timeout(60)
def test_the_measured_share_tells_computing_from_waiting(executor):
    """Real clocks, loose bounds: a loaded machine lowers a computing thread's share, not to ~0."""
    submits_of(executor, hash_a_lot, 2 * CPUS)
    submits_of(executor, doze, 2 * CPUS)
    assert executor._times.lookup(hash_a_lot)[1] > 0.1 > executor._times.lookup(doze)[1]


@pytest.mark.timeout(60)
def test_after_a_busy_call_the_next_starts_at_most_one_runner_per_core(executor, monkeypatch):
    """The thread clock reads as the wall clock: every runner was busy all the time.

    Stubbed because on a machine loaded by other processes a computing thread waits for a core
    too, and its real share could fall below the threshold: the load must not decide the test.
    """
    clock = types.SimpleNamespace(perf_counter=time.perf_counter, thread_time=time.perf_counter)
    monkeypatch.setattr(threads_module, "time", clock)
    submits_of(executor, hash_a_lot, 4 * WIDE)
    assert executor._times.lookup(hash_a_lot)[1] > BUSY_SHARE
    assert submits_of(executor, hash_a_lot, 4 * WIDE) + 1 <= CPUS


@pytest.mark.timeout(60)
def test_a_sleeping_function_gets_more_runners_than_cores_on_its_second_call(executor):
    submits_of(executor, doze, 2 * WIDE)
    assert submits_of(executor, doze, 2 * WIDE) + 1 == WIDE > CPUS


@pytest.mark.timeout(60)
def test_a_sleeping_function_under_a_timeout_also_grows(executor):
    submits_of(executor, doze, 2 * WIDE, timeout=30)
    assert submits_of(executor, doze, 2 * WIDE, timeout=30) == WIDE > CPUS


@pytest.mark.timeout(60)
def test_an_explicit_n_workers_always_wins(executor):
    submits_of(executor, doze, 2 * WIDE)
    assert submits_of(executor, doze, 2 * WIDE, n_workers=1) == 0
    submits_of(executor, hash_a_lot, 4 * WIDE)
    assert submits_of(executor, hash_a_lot, 4 * WIDE, n_workers=CPUS + 3) + 1 == CPUS + 3


@pytest.mark.timeout(60)
def test_a_max_workers_given_to_the_executor_is_a_fixed_default():
    executor = ThreadExecutor(max_workers=3)
    try:
        calls = Calls(list(range(12)), SINGLE)
        executor.run(doze, calls, RunOptions())
        assert executor._pool.size == 2  # the calling thread is the third runner
    finally:
        executor.close()
