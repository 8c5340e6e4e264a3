"""One conformance suite: every fan-out behaviour, run on every target, with ``for`` as the reference.

Most tests wrap one module-level function of :mod:`helpers` with ``parallel(...)`` so that the very
same function runs on every target (under mpc a plain function is itself the worker). The
method-form tests use :class:`helpers.Values`, whose ``*_via_worker`` actions return the worker function.
"""

import threading

import helpers
import numpy as np
import pytest

from batchkit import ParallelError, any_action_failed, get_executor, inbatch_parallel, parallel, target_names
from batchkit.executors import runs_worker_function


def run(fn, target, entries, *args, post=None, **kwargs):
    """Fan ``fn`` out over ``entries`` (the list init returns) on ``target``."""
    action = parallel(init=lambda *a, **k: entries, post=post, target=target)(fn)
    return action(*args, **kwargs)


# -- order and entry shapes ------------------------------------------------------------------


def test_results_follow_init_order(target):
    """Results come back in init order even when later items finish first."""
    entries = [[i, 0.002 * (8 - i)] for i in range(8)]
    assert run(helpers.sleepy_identity, target, entries) == list(range(8))


@pytest.mark.parametrize("target", ["async", "for"])
def test_coroutine_results_follow_init_order(target):
    """Coroutine results come back in init order even when later coroutines finish first."""
    entries = [[i, 0.002 * (8 - i)] for i in range(8)]
    assert run(helpers.async_sleepy_identity, target, entries) == list(range(8))


def test_matches_for_reference(target):
    """A mixed list of entries gives exactly the same results as the ``for`` reference."""
    entries = [1, [2, 3], (4, 5, 6), {"a": 7}, ([8], {"b": 9}), ((10,), {"c": 11}), "xy", None]
    assert run(helpers.echo, target, entries, 0, z=1) == run(helpers.echo, "for", entries, 0, z=1)


def test_list_entry_gives_positional_args(target):
    """A list entry is unpacked into positional arguments."""
    assert run(helpers.echo, target, [[1, 2, 3]]) == [((1, 2, 3), {})]


def test_tuple_entry_gives_positional_args(target):
    """A tuple entry (other than a (sequence, dict) pair) is unpacked into positional arguments."""
    assert run(helpers.echo, target, [(1, 2, 3), (4, 5)]) == [((1, 2, 3), {}), ((4, 5), {})]


def test_dict_entry_gives_keyword_args(target):
    """A dict entry gives keyword arguments."""
    assert run(helpers.echo, target, [{"a": 1, "b": 2}]) == [((), {"a": 1, "b": 2})]


def test_list_dict_pair_gives_both(target):
    """A 2-tuple (list, dict) gives positional and keyword arguments."""
    assert run(helpers.echo, target, [([1, 2], {"c": 3})]) == [((1, 2), {"c": 3})]


def test_tuple_dict_pair_gives_both(target):
    """A 2-tuple (tuple, dict) gives positional and keyword arguments."""
    assert run(helpers.echo, target, [((1, 2), {"c": 3})]) == [((1, 2), {"c": 3})]


def test_scalar_entry_is_one_arg(target):
    """A scalar entry is the call's one positional argument."""
    assert run(helpers.echo, target, [5, 6.5, None]) == [((5,), {}), ((6.5,), {}), ((None,), {})]


def test_ndarray_entry_is_one_arg(target):
    """An ndarray entry is passed whole as one argument, not unpacked."""
    entries = [np.array([1, 2, 3]), np.array([4, 5, 6])]
    assert run(helpers.describe, target, entries) == [
        (1, [("ndarray", [1, 2, 3])], {}),
        (1, [("ndarray", [4, 5, 6])], {}),
    ]


def test_2d_ndarray_from_init_gives_one_row_per_call(target):
    """An init that returns a 2-D array makes one call per row, the row being its one argument."""
    entries = np.arange(6).reshape(3, 2)
    assert run(helpers.describe, target, entries) == [
        (1, [("ndarray", [0, 1])], {}),
        (1, [("ndarray", [2, 3])], {}),
        (1, [("ndarray", [4, 5])], {}),
    ]


def test_str_entry_is_one_arg(target):
    """A str entry is one argument, not unpacked into characters."""
    assert run(helpers.echo, target, ["abc", "d"]) == [(("abc",), {}), (("d",), {})]


def test_iterable_init_is_used_as_entries(target):
    """An init that is an iterable (not a callable) is used as the entries directly."""
    assert parallel(init=[[1, 2], [3, 4]], target=target)(helpers.add)() == [3, 7]


def test_generator_from_init_gives_same_calls_as_list(target):
    """An init that returns a generator makes the same calls as one that returns a list."""
    action = parallel(init=lambda: ([i, 10] for i in range(4)), target=target)(helpers.add)
    assert action() == [10, 11, 12, 13]


def test_lambda_runs_on_every_target(target):
    """A lambda works as the per-item function on every target (mpc pickles it by value)."""
    assert run(lambda x: x + 1, target, [1, 2, 3]) == [2, 3, 4]


def test_closure_runs_on_every_target(target):
    """A closure works as the per-item function on every target, with the value it closes over."""
    offset = 100

    def shifted(x):
        return x + offset

    assert run(shifted, target, [1, 2, 3]) == [101, 102, 103]


# -- the action's own arguments --------------------------------------------------------------


def test_action_args_follow_entry_args(target):
    """The action's positional arguments are appended after the entry's."""
    result = run(helpers.echo, target, [[1, 2], 3, {"k": 4}], 8, 9)
    assert result == [((1, 2, 8, 9), {}), ((3, 8, 9), {}), ((8, 9), {"k": 4})]


def test_action_kwargs_merge_over_entry_kwargs(target):
    """The action's keyword arguments are merged over the entry's, the action's winning."""
    result = run(helpers.echo, target, [{"a": 1, "b": 2}, ([0], {"b": 5})], b=3, c=4)
    assert result == [((), {"a": 1, "b": 3, "c": 4}), ((0,), {"b": 3, "c": 4})]


def test_init_entries_are_not_mutated(target):
    """Merging the action's keyword arguments leaves the dicts that init returned untouched."""
    entries = [{"a": 1, "b": 2}, ([0], {"b": 5})]
    run(helpers.echo, target, entries, b=3, c=4)
    assert entries == [{"a": 1, "b": 2}, ([0], {"b": 5})]


def test_init_gets_action_args_and_extras(target):
    """init is called with the action's positional and keyword arguments plus the decorator's extras."""
    seen = []

    def init(*args, **kwargs):
        seen.append((args, kwargs))
        return [1]

    parallel(init=init, target=target, flag=True)(helpers.echo)(3, key="v")
    assert seen == [((3,), {"key": "v", "flag": True})]


def test_method_does_not_get_extras(target):
    """The decorator's extras reach init and post but never the per-item function."""
    action = parallel(init=lambda *a, **k: [[1]], post=lambda r, *a, **k: r, target=target, flag=True)
    assert action(helpers.echo)() == [((1,), {})]


def test_post_gets_results_and_init_arguments(target):
    """post is called as post(results, *args, **kwargs) with what init got, extras included."""
    seen = []

    def post(results, *args, **kwargs):
        seen.append((results, args, kwargs))
        return "done"

    action = parallel(init=lambda *a, **k: [[1], [2]], post=post, target=target, flag=True)(helpers.echo)
    action(10, key="v")
    assert seen == [([((1, 10), {"key": "v"}), ((2, 10), {"key": "v"})], (10,), {"key": "v", "flag": True})]


def test_action_returns_what_post_returns(target):
    """The action's return value is post's return value."""
    marker = object()
    assert run(helpers.square, target, [1, 2], post=lambda results: marker) is marker


# -- failures --------------------------------------------------------------------------------


def test_failed_slots_hold_exceptions(target):
    """With post, a failed item's slot holds its exception and the others hold their results."""
    results = run(helpers.fail_on_odd, target, [0, 1, 2, 3], post=lambda results: results)
    assert [type(r).__name__ if isinstance(r, Exception) else r for r in results] == [
        0,
        "ValueError",
        20,
        "ValueError",
    ]


def test_any_action_failed_sees_failed_slots(target):
    """any_action_failed is true for the results list post gets when an item failed."""
    assert run(helpers.fail_on_odd, target, [0, 1], post=any_action_failed) is True


def test_any_action_failed_false_when_all_succeed(target):
    """any_action_failed is false for the results list post gets when every item succeeded."""
    assert run(helpers.fail_on_odd, target, [0, 2], post=any_action_failed) is False


def test_plain_function_without_post_returns_results(target):
    """Without post a parallel() function returns its results list when every item succeeded."""
    assert run(helpers.square, target, [1, 2, 3]) == [1, 4, 9]


def test_without_post_failure_raises_parallel_error(target):
    """Without post a failed item makes the action raise ParallelError."""
    with pytest.raises(ParallelError):
        run(helpers.fail_on_odd, target, [0, 1, 2])


def test_failure_prints_nothing(target, capfd):
    """A failed item is reported through the results, never printed or logged to the console."""
    run(helpers.fail_on_odd, target, [0, 1, 2], post=lambda results: results)
    assert capfd.readouterr() == ("", "")


# -- sizes -----------------------------------------------------------------------------------


def test_empty_init_makes_no_calls(target):
    """An empty init makes no call at all: post gets an empty results list."""
    assert run(helpers.always_fail, target, [], post=lambda results: results) == []


def test_empty_init_without_post_returns_empty_list(target):
    """An empty init without post returns an empty results list (nothing failed)."""
    assert run(helpers.always_fail, target, []) == []


def test_one_item(target):
    """A single entry gives a single result."""
    assert run(helpers.square, target, [7]) == [49]


def test_ten_thousand_items_in_order(target):
    """10,000 entries give 10,000 correct results in init order."""
    assert run(helpers.square, target, list(range(10_000))) == [i * i for i in range(10_000)]


def test_concurrent_calls_from_several_threads_keep_their_results(target):
    """Calls of one action made at the same time from several threads each get their own results."""
    action = parallel(init=lambda base: list(range(50)), target=target)(helpers.add)
    results = {}

    def call(base):
        results[base] = action(base * 1000)

    threads = [threading.Thread(target=call, args=(base,)) for base in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == {base: [base * 1000 + i for i in range(50)] for base in range(4)}


# -- per-call target and n_workers -----------------------------------------------------------


def test_per_call_target_overrides_decorator(target, monkeypatch):
    """target= given to the call runs the action on that target instead of the decorator's."""
    executor = get_executor(target)
    used = []
    original = executor.run

    def spy(fn, calls, options):
        used.append(executor.name)
        return original(fn, calls, options)

    monkeypatch.setattr(executor, "run", spy)
    action = parallel(init=lambda: [1, 2], target="for" if target != "for" else "threads")(helpers.square)
    assert (action(target=target), used) == ([1, 4], [target])


def test_per_call_n_workers_reaches_executor(target, monkeypatch):
    """n_workers= given to the call is handed to the executor."""
    executor = get_executor(target)
    asked = []
    original = executor.run

    def spy(fn, calls, options):
        asked.append(options.n_workers)
        return original(fn, calls, options)

    monkeypatch.setattr(executor, "run", spy)
    parallel(init=lambda: [1, 2], target=target)(helpers.square)(n_workers=2)
    assert asked == [2]


def test_reserved_keywords_reach_neither_init_post_nor_function(target):
    """target= and n_workers= are consumed by the call: init, post and the function never see them."""
    seen = []

    def init(*args, **kwargs):
        seen.append(("init", args, kwargs))
        return [[1]]

    def post(results, *args, **kwargs):
        seen.append(("post", args, kwargs))
        return results

    other = "for" if target != "for" else "threads"
    results = parallel(init=init, post=post, target=other)(helpers.echo)(target=target, n_workers=2)
    assert (results, seen) == ([((1,), {})], [("init", (), {}), ("post", (), {})])


# -- standard inits and method form ----------------------------------------------------------
#
# ``form="item"``: the method handles one item (declared for "for"; under mpc the bound method
# travels to the workers). ``form="worker"``: the method is declared for mpc, is called once and
# returns the per-item function, whatever target the call picks.

form = pytest.mark.parametrize("form", helpers.FORMS)


@form
def test_method_results_follow_init_order(target, form):
    """A batch method fanned out by a named init gives its results in init order."""
    batch = helpers.make_values(6)
    results = helpers.action_of(batch, "affine", form)(2.0, target=target, shift=1)
    assert results == [1.5 * i * 2.0 + i + 1 for i in range(6)]


@form
def test_indices_init_passes_each_index_value(target, form):
    """init='indices' calls the method once per index value, in order."""
    batch = helpers.make_values(4, index=np.array([10, 20, 30, 40]))
    assert helpers.action_of(batch, "double_index", form)(target=target) == [20, 40, 60, 80]


@form
def test_items_init_passes_each_item(target, form):
    """init='items' calls the method once per item, which exposes that item's components."""
    batch = helpers.make_values(4)
    assert helpers.action_of(batch, "label", form)(target=target) == [1000, 1010, 1020, 1030]


@form
def test_run_once_calls_once_with_action_args(target, form):
    """init='run_once' calls the method exactly once, with the action's arguments only."""
    batch = helpers.make_values(4)
    assert helpers.action_of(batch, "once", form)(1, 2, k=3, target=target) == [((1, 2), {"k": 3})]


@form
def test_component_init_passes_each_element_whole(target, form):
    """A component name as init passes each element as ONE argument, even lists, tuples and pairs."""
    elements = [[1, 2], (3, 4), ([5], {"k": 6}), {"a": 7}, 8]
    batch = helpers.Values.from_data(data={"values": elements})
    results = helpers.action_of(batch, "element", form)(target=target)
    assert results == [(1, [(type(e).__name__, e)], {}) for e in elements]


@form
def test_component_init_elements_followed_by_action_args(target, form):
    """With a component init, the action's arguments follow the one element argument."""
    batch = helpers.Values.from_data(data={"values": [[1, 2], (3, 4)]})
    results = helpers.action_of(batch, "element", form)(9, k=0, target=target)
    assert results == [
        (2, [("list", [1, 2]), ("int", 9)], {"k": 0}),
        (2, [("tuple", (3, 4)), ("int", 9)], {"k": 0}),
    ]


@form
def test_method_without_post_returns_self(target, form):
    """A method action without post returns the batch itself when every item succeeded."""
    batch = helpers.make_values(4, index=np.array([0, 2, 4, 6]))
    assert helpers.action_of(batch, "check_even", form)(target=target) is batch


@form
def test_method_without_post_raises_on_failure(target, form):
    """A method action without post raises ParallelError when an item failed."""
    batch = helpers.make_values(4)
    with pytest.raises(ParallelError):
        helpers.action_of(batch, "check_even", form)(target=target)


def test_mpc_method_runs_once_in_caller(target):
    """A method declared for mpc runs once, in the caller, with the action's arguments, on any target."""
    calls = []

    class Counted(helpers.Values):
        @inbatch_parallel(init="_init_pairs", post="_post_results", target="mpc")
        def affine(self, factor, shift=0):
            calls.append((factor, shift))
            return helpers.affine_fn

    batch = Counted.from_data(data={"values": np.arange(5.0), "labels": np.arange(5)})
    results = batch.affine(3.0, shift=2, target=target)
    assert (calls, results) == ([(3.0, 2)], [i * 3.0 + i + 2 for i in range(5)])


def test_mpc_method_gets_only_the_action_arguments(target):
    """A method declared for mpc gets the action's arguments only: no extras, target or n_workers."""
    calls = []

    class Recorded(helpers.Values):
        @inbatch_parallel(init="indices", post="_post_results", target="mpc", flag=True)
        def act(self, *args, **kwargs):
            calls.append((args, kwargs))
            return helpers.echo

    Recorded(np.arange(2)).act(7, key="v", target=target, n_workers=2)
    assert calls == [((7,), {"key": "v"})]


# the workers of mpc and dask get copies of the elements: their writes cannot reach the batch
@pytest.mark.parametrize("target", [name for name in target_names() if not runs_worker_function(name)])
def test_item_method_writes_into_batch(target):
    """A per-item method that writes into the elements it received changes the batch."""

    class Doubling(helpers.Values):
        @inbatch_parallel(init="values", target="for")
        def double(self, row):
            row[:] = row * 2

    batch = Doubling.from_data(data={"values": np.arange(6.0).reshape(3, 2), "labels": np.arange(3)})
    batch.double(target=target)
    assert batch.values.tolist() == [[0.0, 2.0], [4.0, 6.0], [8.0, 10.0]]
