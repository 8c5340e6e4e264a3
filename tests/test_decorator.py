"""Decoration-time checks, per-call overrides, concurrency caps, pool reuse, nesting and the registry."""

import asyncio
import os
import threading
import uuid

import helpers
import numpy as np
import pytest

import batchkit.executors as registry
from batchkit import (
    Batch,
    Executor,
    TargetError,
    get_executor,
    inbatch_parallel,
    parallel,
    register_target,
    target_names,
)
from batchkit._cpus import available_cpus, default_thread_workers


def spy_on(monkeypatch, target):
    """Record every run of ``target``'s executor as (executor name, n_workers)."""
    executor = get_executor(target)
    runs = []
    original = executor.run

    def run(fn, calls, options):
        runs.append((executor.name, options.n_workers))
        return original(fn, calls, options)

    monkeypatch.setattr(executor, "run", run)
    return runs


@pytest.fixture
def isolated_registry(monkeypatch):
    """Targets registered during the test vanish after it (batchkit has no unregister_target)."""
    monkeypatch.setattr(registry, "_FACTORIES", dict(registry._FACTORIES))
    monkeypatch.setattr(registry, "_INSTANCES", dict(registry._INSTANCES))


class Recording(Executor):
    """A custom executor: counts its runs and runs the calls in a plain loop."""

    name = "recording"

    def __init__(self):
        self.runs = 0

    def run(self, fn, calls, options):
        self.runs += 1
        return get_executor("for").run(fn, calls, options)


# -- keyword-only decorator, targets ---------------------------------------------------------


def test_positional_args_to_inbatch_parallel_raise_type_error():
    """inbatch_parallel refuses positional arguments at decoration with TypeError."""
    with pytest.raises(TypeError):
        inbatch_parallel("indices", None, "threads")


def test_positional_args_to_parallel_raise_type_error():
    """parallel refuses positional arguments at decoration with TypeError."""
    with pytest.raises(TypeError):
        parallel(lambda: [1])


def test_unknown_target_at_decoration_raises_target_error():
    """An unknown target fails at decoration with TargetError."""
    with pytest.raises(TargetError):
        inbatch_parallel(init="indices", target="gpu-farm")


def test_target_error_is_a_value_error():
    """TargetError is a ValueError, so existing ``except ValueError`` code catches it."""
    with pytest.raises(ValueError):
        inbatch_parallel(init="indices", target="gpu-farm")


def test_unknown_target_message_lists_valid_names():
    """The unknown-target message lists every registered target name."""
    with pytest.raises(TargetError) as info:
        parallel(init=lambda: [1], target="gpu-farm")
    assert all(repr(name) in str(info.value) for name in target_names())


def test_unknown_target_message_suggests_close_name():
    """A near miss such as 'thread' gets a suggestion of 'threads'."""
    with pytest.raises(TargetError, match="Did you mean 'threads'"):
        inbatch_parallel(init="indices", target="thread")


def test_unknown_per_call_target_raises_target_error():
    """An unknown target given to one call fails with TargetError."""
    action = parallel(init=lambda: [1], target="for")(helpers.square)
    with pytest.raises(TargetError):
        action(target="gpu-farm")


@pytest.mark.parametrize("name", ["target", "n_workers"])
def test_method_declaring_reserved_parameter_is_refused(name):
    """A method whose signature declares a reserved name (target, n_workers) is refused at decoration."""
    namespace = {}
    exec(f"def method(self, item, {name}=None):\n    return item", namespace)
    with pytest.raises(TypeError, match=name):
        inbatch_parallel(init="indices")(namespace["method"])


def test_missing_init_is_refused():
    """Decorating without init (init=None) is refused with TypeError."""
    with pytest.raises(TypeError, match="init"):
        inbatch_parallel(post="_post")(lambda self, item: item)


def test_string_init_on_plain_function_is_refused():
    """parallel() refuses a string init: a plain function has no batch to look the name up on."""
    with pytest.raises(TypeError, match="init"):
        parallel(init="indices")(helpers.square)


def test_string_post_on_plain_function_is_refused():
    """parallel() refuses a string post: a plain function has no batch to look the name up on."""
    with pytest.raises(TypeError, match="post"):
        parallel(init=lambda: [1], post="_post")(helpers.square)


def test_n_workers_given_to_decorator_reaches_neither_init_nor_post():
    """n_workers is reserved: given to the decorator it reaches neither init nor post."""
    seen = []

    def init(*args, **kwargs):
        seen.append(kwargs)
        return [1, 2]

    def post(results, *args, **kwargs):
        seen.append(kwargs)
        return results

    parallel(init=init, post=post, target="threads", n_workers=2)(helpers.square)()
    assert seen == [{}, {}]


# -- async -----------------------------------------------------------------------------------


class Pages(Batch):
    """A batch whose action is a coroutine method."""

    @inbatch_parallel(init="indices", post="_collect")
    async def fetch(self, ix):
        await asyncio.sleep(0.001)
        return ix * 3

    def _collect(self, results, *args, **kwargs):
        return results


def test_coroutine_method_runs_on_async(monkeypatch):
    """An ``async def`` method decorated without a target runs on the async target."""
    runs = spy_on(monkeypatch, "async")
    results = Pages(np.arange(4)).fetch()
    assert (results, [name for name, _ in runs]) == ([0, 3, 6, 9], ["async"])


@pytest.mark.parametrize("target", ["threads", "mpc"])
def test_coroutine_method_with_sync_target_is_refused(target):
    """An ``async def`` method declared with target='threads' (or 'mpc') is refused at decoration."""

    async def fetch(self, ix):
        return ix

    with pytest.raises(TypeError, match="coroutine"):
        inbatch_parallel(init="indices", target=target)(fetch)


def test_coroutine_method_with_per_call_threads_target_is_refused():
    """Calling an ``async def`` action with target='threads' raises TypeError."""
    with pytest.raises(TypeError, match="coroutine"):
        Pages(np.arange(2)).fetch(target="threads")


def test_async_action_works_inside_running_event_loop():
    """An async action called from code already running an event loop (an async def caller) works."""
    action = parallel(init=lambda: [[i, 0.001] for i in range(5)])(helpers.async_sleepy_identity)

    async def caller():
        return action()

    assert asyncio.run(caller()) == [0, 1, 2, 3, 4]


def _returns_awaitable(x):
    return helpers.async_sleepy_identity(x * 2, 0.001)


def test_awaitable_returned_by_plain_function_is_awaited_on_async():
    """On target='async' a plain function's returned awaitable is awaited and its value is the result."""
    assert parallel(init=lambda: [1, 2, 3], target="async")(_returns_awaitable)() == [2, 4, 6]


# -- n_workers -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [0, -1000, True, 1.5])
def test_invalid_n_workers_raises_value_error(target, bad):
    """n_workers must be a nonzero int that leaves a worker: 0, -1000, True and 1.5 raise ValueError."""
    action = parallel(init=lambda: [1, 2], target=target)(helpers.square)
    with pytest.raises(ValueError, match="n_workers"):
        action(n_workers=bad)


def test_negative_n_workers_count_back_from_the_cpus():
    """As in joblib: -1 is every CPU, -2 all but one (never fewer than one worker)."""
    from batchkit._cpus import available_cpus
    from batchkit.executors import RunOptions

    cpus = available_cpus()
    assert RunOptions(n_workers=-1).n_workers == cpus
    if cpus > 1:
        assert RunOptions(n_workers=-2).n_workers == cpus - 1
    with pytest.raises(ValueError, match="leaves no worker"):
        RunOptions(n_workers=-(cpus + 1))
    assert parallel(init=lambda: [1, 2], target="threads", n_workers=-1)(helpers.square)() == [1, 4]


@pytest.mark.parametrize(
    ("target", "worker"), [("threads", helpers.count_overlap), ("async", helpers.async_count_overlap)]
)
@pytest.mark.parametrize("n_workers", [1, 2, 3])
def test_n_workers_caps_concurrent_items(target, worker, n_workers):
    """No more than n_workers items of one call run at the same time."""
    overlap = helpers.Overlap()
    action = parallel(init=lambda overlap: list(range(12)), target=target)(worker)
    assert action(overlap, n_workers=n_workers) == list(range(12))
    assert overlap.peak <= n_workers


# -- pools -----------------------------------------------------------------------------------


def test_get_executor_returns_the_same_instance(target):
    """get_executor gives the same executor instance each time for a target."""
    assert get_executor(target) is get_executor(target)


def test_thread_count_does_not_grow_with_calls():
    """50 threads calls reuse the pool: the thread count grows by at most the pool's size."""
    action = parallel(init=lambda: [[i, 0.001] for i in range(8)], target="threads")(helpers.sleepy_identity)
    before = threading.active_count()
    for _ in range(50):
        action()
    assert threading.active_count() <= before + default_thread_workers()


def test_mpc_calls_share_one_process_pool():
    """Two consecutive mpc calls run on the one pool the executor keeps."""
    executor = get_executor("mpc")
    action = parallel(init=lambda: list(range(8)), target="mpc")(helpers.slow_pid_of)
    action()  # the pool exists from here on
    pool = executor._workers
    action()
    action()
    assert pool is not None and executor._workers is pool


def test_mpc_worker_processes_do_not_grow_with_calls():
    """Two consecutive mpc calls run on the same worker processes, no more than there are CPUs."""
    action = parallel(init=lambda: list(range(16)), target="mpc")(helpers.slow_pid_of)
    pids = set(action()) | set(action())
    assert os.getpid() not in pids
    assert len(pids) <= available_cpus()


# -- nested calls ----------------------------------------------------------------------------


class Nested(Batch):
    """A threads action whose items call another threads action on the same batch."""

    @inbatch_parallel(init="indices", post="_collect", target="threads")
    def outer(self, ix):
        return sum(self.inner(ix))

    @inbatch_parallel(init="indices", post="_collect", target="threads")
    def inner(self, ix, offset):
        return ix + offset

    def _collect(self, results, *args, **kwargs):
        return results


@pytest.mark.timeout(30)
def test_nested_threads_call_does_not_deadlock():
    """A threads action called from the items of a threads action completes with correct results."""
    batch = Nested(np.arange(8))
    assert batch.outer(n_workers=2) == [sum(range(8)) + 8 * i for i in range(8)]


@pytest.mark.timeout(30)
def test_nested_mpc_call_runs_inline_in_worker():
    """An mpc action called inside an mpc worker runs inline there: every inner item has that pid."""
    outer = parallel(init=lambda: [3, 3, 3, 3], target="mpc")(helpers.outer_worker)
    results = outer()
    assert all(inner == [pid] * 3 for pid, inner in results)


async def _outer_coroutine(n):
    inner = parallel(init=lambda: [[i, 0.001] for i in range(n)])(helpers.async_sleepy_identity)
    return inner()


@pytest.mark.timeout(30)
def test_nested_async_call_does_not_deadlock():
    """An async action called from a coroutine of an async action completes with correct results."""
    outer = parallel(init=lambda: [2, 3])(_outer_coroutine)
    assert outer() == [[0, 1], [0, 1, 2]]


# -- the registry ----------------------------------------------------------------------------


def test_registered_target_runs_decorated_method(isolated_registry):
    """A target added with register_target runs the methods decorated with its name."""
    name = f"recording-{uuid.uuid4().hex[:8]}"
    register_target(name, Recording)

    class Squares(Batch):
        @inbatch_parallel(init="indices", post="_collect", target=name)
        def square(self, ix):
            return ix * ix

        def _collect(self, results, *args, **kwargs):
            return results

    results = Squares(np.arange(4)).square()
    assert (results, get_executor(name).runs) == ([0, 1, 4, 9], 1)


def test_registering_a_taken_name_raises_target_error(isolated_registry):
    """Registering a name twice without replace=True raises TargetError."""
    name = f"recording-{uuid.uuid4().hex[:8]}"
    register_target(name, Recording)
    with pytest.raises(TargetError):
        register_target(name, Recording)


def test_registering_a_builtin_name_raises_target_error(isolated_registry):
    """A built-in target name cannot be registered again without replace=True."""
    with pytest.raises(TargetError):
        register_target("threads", Recording)
