"""target="auto": the target follows from what the function is and what its first items cost."""

import asyncio
import logging
import time

import numpy as np
import pytest

import batchkit
from batchkit import Batch, ItemTimeout, _auto, explain, inbatch_parallel, mjit, parallel
from batchkit._auto import Choice, _measure
from batchkit._calls import SINGLE, Calls, Outcomes


def waits(x):
    time.sleep(0.003)
    return x


def tiny(x):
    return x + 1


def holds_the_gil(x):
    total = 0
    for i in range(100_000):  # pure Python: a few ms with the GIL held throughout
        total += i
    return total + x


async def coroutine(x):
    await asyncio.sleep(0)
    return -x


class Kernels(Batch):
    components = ("values",)

    @inbatch_parallel(init="values", post="_keep", target="auto")
    @mjit
    def compiled(self, value):
        return value * 2

    @inbatch_parallel(init="values", post="_keep", target="auto")
    def busy_method(self, value):
        return holds_the_gil(int(value))

    def _keep(self, results, *args, **kwargs):
        return results


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("fn", "target", "reason"),
    [
        (waits, "threads", "it mostly waits"),
        (tiny, "for", "too short for a pool"),
        (holds_the_gil, "mpc", "it holds the GIL"),
        (coroutine, "async", "coroutine function"),
    ],
)
def test_each_workload_goes_to_the_target_made_for_it(fn, target, reason):
    items = list(range(12))
    expected = [asyncio.run(fn(x)) if fn is coroutine else fn(x) for x in items]
    assert batchkit.map(fn, items, target="auto") == expected
    choice = explain(fn)
    assert choice.target == target and reason in choice.reason, str(choice)


@pytest.mark.timeout(60)
def test_a_compiled_nogil_kernel_goes_to_threads_without_measuring():
    batch = Kernels.from_data(data={"values": np.arange(4.0)})
    assert batch.compiled() == [0.0, 2.0, 4.0, 6.0]
    assert explain(Kernels.compiled) == Choice("threads", "it is a compiled kernel that releases the GIL")


@pytest.mark.timeout(60)
def test_a_gil_bound_method_stays_in_the_caller_never_in_processes():
    batch = Kernels.from_data(data={"values": np.arange(20.0)})
    assert batch.busy_method() == [holds_the_gil(i) for i in range(20)]
    choice = explain(batch.busy_method)
    assert choice.target == "for" and "cannot go to processes" in choice.reason


@pytest.mark.timeout(60)
def test_no_item_runs_twice_while_measuring():
    calls = []

    def counted(x):
        calls.append(x)
        time.sleep(0.002)
        return x

    assert batchkit.map(counted, range(20), target="auto") == list(range(20))
    assert sorted(calls) == list(range(20))


@pytest.mark.timeout(60)
def test_the_choice_is_remembered_and_a_given_target_wins():
    def once(x):
        time.sleep(0.002)
        return x

    batchkit.map(once, range(6), target="auto")
    first = explain(once)
    batchkit.map(once, range(6), target="auto")
    assert explain(once) is first  # not measured again
    run = parallel(init=lambda: range(4), target="auto")(once)
    assert run(target="for") == [0, 1, 2, 3]  # the call's own target, whatever auto chose


@pytest.mark.timeout(60)
def test_the_choice_is_logged_at_debug(caplog):
    def logged(x):
        return x

    with caplog.at_level(logging.DEBUG, logger="batchkit"):
        batchkit.map(logged, range(3), target="auto")
    assert any("target='auto' for" in r.getMessage() and "logged" in r.getMessage() for r in caplog.records)


def test_explain_is_none_before_the_first_call():
    def never(x):
        return x

    assert explain(never) is None


@pytest.mark.timeout(60)
def test_failures_while_measuring_stay_in_their_slots():
    def sometimes(x):
        if x in (0, 5):
            raise ValueError(x)
        return x

    results = batchkit.map(sometimes, range(8), target="auto", on_error="collect")
    assert results.failed_positions == [0, 5] and results[1] == 1


@pytest.mark.timeout(60)
def test_a_timeout_holds_while_measuring():
    def first_hangs(x):
        time.sleep(5.0 if x == 0 else 0.0)
        return x

    started = time.monotonic()
    results = batchkit.map(first_hangs, range(4), target="auto", timeout=0.3, on_error="collect")
    assert time.monotonic() - started < 3
    assert isinstance(results[0], ItemTimeout) and results[1:] == [1, 2, 3]


class _FakeProbe:
    """Measurements given by the test: (wall, cpu) per item, and for the pair."""

    def __init__(self, n, one, pair=(0.0, 0.0)):
        self.calls = Calls(list(range(n)), SINGLE)
        self.outcomes = Outcomes(n)
        self._one, self._pair = one, pair

    def one(self, position):
        return self._one

    def pair(self, first):
        return self._pair


@pytest.mark.parametrize(
    ("one", "pair", "processes", "target", "reason"),
    [
        ((1e-6, 1e-6), None, True, "for", "too short"),
        ((0.01, 0.001), None, True, "threads", "mostly waits"),
        ((0.01, 0.02), None, True, "for", "several CPUs busy by itself"),
        ((0.01, 0.01), (0.011, 0.021), True, "threads", "releases the GIL"),
        ((0.01, 0.01), (0.02, 0.011), True, "mpc", "holds the GIL"),
        ((0.01, 0.01), (0.02, 0.011), False, "for", "cannot go to processes"),
        ((0.0005, 0.0005), (0.001, 0.0005), True, "for", "too briefly per item"),
    ],
)
def test_the_decision_rules(monkeypatch, one, pair, processes, target, reason):
    monkeypatch.setattr(_auto, "available_cpus", lambda: 4)
    choice, done = _measure(_FakeProbe(40, one, pair or (0.0, 0.0)), processes)
    assert choice.target == target and reason in choice.reason
    assert done <= 40


def test_one_cpu_keeps_busy_work_in_the_caller(monkeypatch):
    monkeypatch.setattr(_auto, "available_cpus", lambda: 1)
    choice, _ = _measure(_FakeProbe(10, (0.01, 0.01)), True)
    assert choice.target == "for" and "one CPU" in choice.reason


def test_builtins_and_c_functions_are_chosen_for_and_remembered():
    assert batchkit.map(abs, [-1, -2], target="auto") == [1, 2]
    assert explain(abs).target == "for"
    matrices = [np.eye(2) * (i + 1) for i in range(4)]  # np.linalg.inv: not weak-referenceable
    assert float(batchkit.map(np.linalg.inv, matrices, target="auto")[1][0, 0]) == 0.5
    assert explain(np.linalg.inv) is not None
