"""The examples of the batchflow "within batch parallelism" page, adapted to run, as tests.

Each test follows one example of the page (the section it comes from is named in its comment)
and asserts the effect the page describes. Placeholders of the page (``some_value``,
``another_arg``, ``new_value``) are replaced by concrete values.
"""

import asyncio
import threading
import time
from functools import partial

import numba
import numpy as np
import pytest

from batchkit import Batch, any_action_failed, inbatch_parallel, mjit

# -- module-level helpers used by the examples ----------------------------------------------


def mpc_fn(data, index, arg):
    """The page's ``mpc_fn``: runs in a worker process, once per item."""
    return float(data.sum()) * arg + index


def mpc_fn_defaults(item, arg1, arg2, arg3=10):
    """The page's ``mpc_fn(item, arg1, arg2, arg3=10)`` with a default argument."""
    return (item, arg1, arg2, arg3)


@numba.njit(nogil=True)
def change_data(data, index):
    """The page's ``change_data``: writes the new value of one item into a numpy array."""
    data[index] = data[index] * 2.0 + 1.0


async def other_async_function(some_arg):
    """The page's ``other_async_function``: something to await."""
    await asyncio.sleep(0)
    return some_arg * 2


def recorded(batch, key, value):
    """Store ``value`` under ``key`` in the batch's ``seen`` dict (what init and post received)."""
    batch.__dict__.setdefault("seen", {})[key] = value


# -- basic usage -----------------------------------------------------------------------------


class BasicBatch(Batch):
    @inbatch_parallel(init="_init_fn", post="_post_fn", target="threads")
    def some_action(self, item, arg1, arg2):
        # process just one item
        return (item, arg1, arg2)

    def _init_fn(self, *args, **kwargs):
        return [[ix] for ix in self.indices]

    def _post_fn(self, list_of_res, *args, **kwargs):
        recorded(self, "results", list_of_res)
        return self


def test_basic_usage_runs_the_action_per_item_and_post_once():
    """Basic usage: the action runs once per init entry with the call's arguments; post gets the results."""
    batch = BasicBatch(np.arange(10, 14))
    assert batch.some_action("a", "b") is batch
    assert batch.seen["results"] == [(10, "a", "b"), (11, "a", "b"), (12, "a", "b"), (13, "a", "b")]


# -- additional decorator arguments ----------------------------------------------------------


class ExtrasBatch(Batch):
    @inbatch_parallel(init="_init_default", post="_post_default", target="threads", clear_data=False)
    def some_method(self, item):
        # process just one item (the method does not get clear_data)
        return item * 2

    def _init_default(self, clear_data):
        recorded(self, "init", clear_data)
        return [[ix] for ix in self.indices]

    def _post_default(self, list_of_res, clear_data):
        recorded(self, "post", clear_data)
        return list_of_res


def test_decorator_extras_reach_init_and_post_only():
    """Additional decorator arguments (``clear_data=False``) reach init and post, not the method."""
    batch = ExtrasBatch(np.arange(3))
    assert batch.some_method() == [0, 2, 4]
    assert batch.seen == {"init": False, "post": False}


class MethodNameBatch(Batch):
    @inbatch_parallel(init="_init_default", post="_post_default", target="threads", method="one_method")
    def one_method(self, item):
        return ("one", item)

    @inbatch_parallel(
        init="_init_default", post="_post_default", target="threads", method="some_other_method"
    )
    def some_other_method(self, item):
        return ("other", item)

    def _init_default(self, method):
        recorded(self, "init", method)
        return [[ix] for ix in self.indices]

    def _post_default(self, list_of_res, method):
        return method, list_of_res


def test_method_name_extra_tells_shared_init_and_post_which_action_runs():
    """Passing ``method='one_method'`` to the decorator tells a shared init and post which action runs."""
    batch = MethodNameBatch(np.arange(2))
    assert batch.one_method() == ("one_method", [("one", 0), ("one", 1)])
    assert batch.seen["init"] == "one_method"
    assert batch.some_other_method() == ("some_other_method", [("other", 0), ("other", 1)])
    assert batch.seen["init"] == "some_other_method"


# -- init function ---------------------------------------------------------------------------

ANOTHER_ARG, ONE_MORE_ARG = "another", "one more"


class InitShapesBatch(Batch):
    def _init_lists(self, *args, **kwargs):
        return [[self.data, item, ANOTHER_ARG, ONE_MORE_ARG] for item in self.indices]

    def _init_tuples(self, *args, **kwargs):
        return [(self.data, item, ANOTHER_ARG) for item in self.indices]

    def _init_dicts(self, *args, **kwargs):
        return [dict(data=self.data, item=item, arg1=ANOTHER_ARG, arg2=ONE_MORE_ARG) for item in self.indices]

    def _init_both(self, *args, **kwargs):
        return [([self.data, item], dict(arg1=ANOTHER_ARG, arg2=ONE_MORE_ARG)) for item in self.indices]

    def _post(self, list_of_res, *args, **kwargs):
        return list_of_res

    @inbatch_parallel(init="_init_lists", post="_post", target="threads")
    def from_lists(self, data, item, arg1, arg2):
        return (data is self.data, item, arg1, arg2)

    @inbatch_parallel(init="_init_tuples", post="_post", target="threads")
    def from_tuples(self, data, item, arg1):
        return (data is self.data, item, arg1)

    @inbatch_parallel(init="_init_dicts", post="_post", target="threads")
    def from_dicts(self, item=None, data=None, arg1=None, arg2=None):
        return (data is self.data, item, arg1, arg2)

    @inbatch_parallel(init="_init_both", post="_post", target="threads")
    def from_both(self, data, item, arg1=None, arg2=None):
        return (data is self.data, item, arg1, arg2)


def make_init_shapes():
    return InitShapesBatch.from_data(index=np.array([5, 6]), data=np.zeros(2))


def test_init_lists_give_positional_arguments():
    """An init entry that is a list is unpacked into the method's positional arguments."""
    got = make_init_shapes().from_lists()
    assert got == [(True, 5, ANOTHER_ARG, ONE_MORE_ARG), (True, 6, ANOTHER_ARG, ONE_MORE_ARG)]


def test_init_tuples_of_three_give_positional_arguments():
    """An init entry that is a tuple (not a 2-tuple of list and dict) gives positional arguments too."""
    assert make_init_shapes().from_tuples() == [(True, 5, ANOTHER_ARG), (True, 6, ANOTHER_ARG)]


def test_init_dicts_give_named_arguments():
    """An init entry that is a dict gives the method's named arguments."""
    got = make_init_shapes().from_dicts()
    assert got == [(True, 5, ANOTHER_ARG, ONE_MORE_ARG), (True, 6, ANOTHER_ARG, ONE_MORE_ARG)]


def test_init_list_and_dict_pair_gives_both():
    """An init entry ``(list, dict)`` gives positional arguments from the list, named ones from the dict."""
    got = make_init_shapes().from_both()
    assert got == [(True, 5, ANOTHER_ARG, ONE_MORE_ARG), (True, 6, ANOTHER_ARG, ONE_MORE_ARG)]


class InitArgumentsBatch(Batch):
    @inbatch_parallel(init="init_function", post="_post", target="threads", arg_from_parallel_decorator=True)
    def some_parallel_action(self, item, a, b, my_arg):
        return (item, a, b, my_arg)

    def init_function(self, *args, **kwargs):
        recorded(self, "init", (args, kwargs))
        return [[ix] for ix in self.indices]

    def _post(self, list_of_res, *args, **kwargs):
        return list_of_res


def test_init_gets_the_action_arguments_and_decorator_extras():
    """``action(10, 12, my_arg=12)`` calls init as ``init(10, 12, my_arg=12, <decorator extras>)``."""
    batch = InitArgumentsBatch(np.arange(2))
    batch.some_parallel_action(10, 12, my_arg=12)
    assert batch.seen["init"] == ((10, 12), {"my_arg": 12, "arg_from_parallel_decorator": True})


def test_method_gets_entry_then_action_arguments():
    """The method gets the entry's arguments followed by the action's own (without the decorator extras)."""
    batch = InitArgumentsBatch(np.arange(2))
    assert batch.some_parallel_action(10, 12, my_arg=12) == [(0, 10, 12, 12), (1, 10, 12, 12)]


# -- standard init functions -----------------------------------------------------------------


class StandardBatch(Batch):
    components = ("images", "labels")

    def _post(self, list_of_res, *args, **kwargs):
        return list_of_res

    @inbatch_parallel(init="indices", post="_post", target="threads")
    def by_index(self, ix, arg1, arg2):
        return (ix, arg1, arg2)

    @inbatch_parallel(init="items", post="_post", target="threads")
    def by_item(self, item, arg1, arg2):
        return (int(item.labels), float(item.images.sum()), arg1, arg2)

    @inbatch_parallel(init="images", post="_post", target="threads")
    def by_image(self, image, arg1, arg2):
        return (image.shape, float(image.sum()), arg1, arg2)

    @inbatch_parallel(init="run_once")
    async def read_some_data(self, src, fmt="raw"):
        await asyncio.sleep(0)
        self.__dict__.setdefault("reads", []).append((src, fmt))


def make_standard():
    images = np.arange(3 * 2 * 2, dtype=np.float64).reshape(3, 2, 2)
    return StandardBatch.from_data(index=np.array([7, 8, 9]), data=(images, np.array([70, 80, 90])))


def test_standard_init_indices_passes_index_values():
    """``init='indices'``: the first argument after self is each item's index value."""
    assert make_standard().by_index(1, 2) == [(7, 1, 2), (8, 1, 2), (9, 1, 2)]


def test_standard_init_items_passes_items():
    """``init='items'``: the first argument after self is each item, with its component values."""
    batch = make_standard()
    got = batch.by_item("x", "y")
    assert got == [(70, 6.0, "x", "y"), (80, 22.0, "x", "y"), (90, 38.0, "x", "y")]


def test_component_init_passes_each_element():
    """``init='images'`` (a component): the first argument after self is each item's image."""
    got = make_standard().by_image(1, 2)
    assert got == [((2, 2), 6.0, 1, 2), ((2, 2), 22.0, 1, 2), ((2, 2), 38.0, 1, 2)]


def test_run_once_runs_an_async_method_once():
    """``init='run_once'`` runs an async method exactly once, with the call's arguments, and returns self."""
    batch = make_standard()
    assert batch.read_some_data("file.npz") is batch
    assert batch.reads == [("file.npz", "raw")]


# -- post function ---------------------------------------------------------------------------


class PostBatch(Batch):
    def _post_default(self, list_of_res, *args, **kwargs):
        recorded(self, "results", list_of_res)
        return self

    @inbatch_parallel(init="indices", post="_post_default")
    def some_action(self, item_id):
        return item_id * 10


def test_post_gets_the_list_of_results_in_order():
    """The post function gets the list of every task's result, in init order."""
    batch = PostBatch(np.arange(5))
    assert batch.some_action() is batch
    assert batch.seen["results"] == [0, 10, 20, 30, 40]


class FailingPostBatch(Batch):
    def _post_fn(self, list_of_res, *args, **kwargs):
        recorded(self, "failed", any_action_failed(list_of_res))
        recorded(self, "results", list_of_res)
        return self

    @inbatch_parallel(init="indices", post="_post_fn")
    def some_action(self, item_id):
        if item_id % 2:
            raise ValueError(f"odd item {item_id}")
        return item_id


def test_post_sees_failures_with_any_action_failed():
    """A failed task leaves its exception in the results; post detects it with ``any_action_failed``."""
    batch = FailingPostBatch(np.arange(4))
    assert batch.some_action() is batch
    assert batch.seen["failed"] is True
    results = batch.seen["results"]
    assert [results[0], results[2]] == [0, 2]
    assert isinstance(results[1], ValueError)
    assert isinstance(results[3], ValueError)


class NewBatchPost(Batch):
    def _post(self, list_of_res, *args, **kwargs):
        return Batch.from_data(index=self.indices, data=np.array(list_of_res))

    @inbatch_parallel(init="indices", post="_post")
    def some_action(self, item_id):
        return item_id + 100


def test_action_returns_what_post_returns():
    """The action returns what post returns, e.g. a new batch instance."""
    batch = NewBatchPost(np.arange(3))
    new = batch.some_action()
    assert new is not batch
    assert new.data.tolist() == [100, 101, 102]


class DirectWriteBatch(Batch):
    @inbatch_parallel(init="indices", target="threads")
    def some_action(self, item_id):
        self.data[item_id] = item_id * 3


def test_action_writing_data_directly_needs_no_post():
    """An action that writes into the batch's data needs no post: the batch changes and is returned."""
    batch = DirectWriteBatch.from_data(data=np.zeros(6, dtype=np.int64))
    assert batch.some_action() is batch
    assert batch.data.tolist() == [0, 3, 6, 9, 12, 15]


class NumbaBatch(Batch):
    def _init_numba(self, *args, **kwargs):
        return [[self.data, i] for i in self.indices]

    @inbatch_parallel(init="_init_numba", target="threads")
    def some_action(self, data, item_id):
        return change_data(data, item_id)


def test_numba_change_data_updates_every_item_on_threads():
    """The page's numba example: ``change_data(data, item_id)`` on threads updates every item of the data."""
    data = np.arange(16, dtype=np.float64)
    batch = NumbaBatch.from_data(data=data)
    assert batch.some_action() is batch
    assert batch.data is data
    assert np.array_equal(data, np.arange(16) * 2.0 + 1.0)


# -- targets ---------------------------------------------------------------------------------


class AsyncBatch(Batch):
    def _init_default(self, *args, **kwargs):
        return [[ix] for ix in self.indices]

    def _post_default(self, list_of_res, *args, **kwargs):
        return list_of_res

    @inbatch_parallel(init="_init_default", post="_post_default", target="async")
    async def some_action(self, item, some_arg):
        proc_value = await other_async_function(some_arg)
        return (item, proc_value)

    @inbatch_parallel(init="_init_default", post="_post_default")
    async def implicit_async(self, item, some_arg):
        return (item, await other_async_function(some_arg))

    @inbatch_parallel(init="_init_default", post="_post_default", target="async")
    def returns_awaitable(self, item, some_arg):
        return other_async_function(some_arg + item)


def test_async_target_awaits_each_item():
    """``target='async'``: each item's coroutine is awaited and its value reaches post."""
    assert AsyncBatch(np.arange(3)).some_action(5) == [(0, 10), (1, 10), (2, 10)]


def test_async_method_needs_no_explicit_target():
    """An ``async def`` method runs on the async target without ``target='async'``."""
    assert AsyncBatch(np.arange(2)).implicit_async(1) == [(0, 2), (1, 2)]


def test_plain_method_returning_awaitable_runs_on_async_target():
    """A plain method returning an awaitable, with ``target='async'``, gives the awaited values."""
    assert AsyncBatch(np.arange(3)).returns_awaitable(1) == [2, 4, 6]


class MpcBatch(Batch):
    def _init_default(self, *args, **kwargs):
        return [[self.data[i], ix] for i, ix in enumerate(self.indices)]

    def _post_default(self, list_of_res, *args, **kwargs):
        return list_of_res

    @inbatch_parallel(init="_init_default", post="_post_default", target="mpc")
    def some_action(self, arg):
        # do not process anything, just return a function which will be run as a separate process
        return mpc_fn

    @inbatch_parallel(init="_init_item", post="_post_default", target="mpc")
    def with_defaults(self, arg1, arg2, arg3=10):
        return partial(mpc_fn_defaults, arg3=arg3)

    def _init_item(self, *args, **kwargs):
        return [[ix] for ix in self.indices]


def test_mpc_method_returns_the_worker_function():
    """``target='mpc'``: the method returns ``mpc_fn``, run per item with the entry's and the call's args."""
    batch = MpcBatch.from_data(index=np.array([10, 20]), data=np.arange(8.0).reshape(2, 4))
    assert batch.some_action(2) == [6.0 * 2 + 10, 22.0 * 2 + 20]


def test_mpc_partial_carries_default_arguments():
    """``target='mpc'``: returning ``partial(mpc_fn, arg3=arg3)`` passes the default arg3 to the workers."""
    batch = MpcBatch(np.array([1, 2]))
    assert batch.with_defaults("a", "b") == [(1, "a", "b", 10), (2, "a", "b", 10)]


class WorkersBatch(Batch):
    def _post(self, list_of_res, *args, **kwargs):
        return list_of_res

    @inbatch_parallel(init="indices", post="_post", target="threads")
    def parallel_action(self, ix, some_arg):
        overlap = self.overlap
        with overlap["guard"]:
            overlap["inside"] += 1
            overlap["most"] = max(overlap["most"], overlap["inside"])
        time.sleep(0.002)
        with overlap["guard"]:
            overlap["inside"] -= 1
        return ix + some_arg


def test_n_workers_caps_parallel_tasks():
    """``action(some_arg, n_workers=3)`` runs at most 3 tasks at once and does not pass n_workers on."""
    batch = WorkersBatch(np.arange(24))
    batch.overlap = {"guard": threading.Lock(), "inside": 0, "most": 0}
    assert batch.parallel_action(100, n_workers=3) == list(range(100, 124))
    assert 1 <= batch.overlap["most"] <= 3


# -- numba methods ---------------------------------------------------------------------------


class JitBatch(Batch):
    components = ("images",)

    @mjit
    def fast_loop(self, data):
        for i in range(data.shape[0]):
            data[i] = -np.exp(-np.exp(data[i]))

    @mjit(parallel=True)
    def fast_parallel_loop(self, image):
        for i in numba.prange(image.shape[0]):
            for j in range(image.shape[1]):
                image[i, j] = -np.exp(-np.exp(image[i, j]))

    @inbatch_parallel(init="images", target="threads")
    @mjit
    def fast_parallel_action(self, image):
        image[:] = -np.exp(-np.exp(image))


def gumbel(x):
    return -np.exp(-np.exp(x))


def test_mjit_fast_loop():
    """``fast_loop``: the compiled loop writes ``-exp(-exp(x))`` into every element of the array."""
    data = np.linspace(-1.0, 1.0, 11)
    expected = gumbel(data)
    JitBatch(np.arange(1)).fast_loop(data)
    assert np.allclose(data, expected)


def test_mjit_fast_parallel_loop_with_prange():
    """``fast_parallel_loop``: the ``prange`` loop over rows writes ``-exp(-exp(x))`` into every pixel."""
    image = np.linspace(-1.0, 1.0, 30).reshape(5, 6)
    expected = gumbel(image)
    JitBatch(np.arange(1)).fast_parallel_loop(image)
    assert np.allclose(image, expected)


@pytest.mark.parametrize("target", ["threads", "for"])
def test_mjit_fast_parallel_action_updates_every_image(target):
    """``fast_parallel_action``: the @mjit action over ``init='images'`` updates every image of the batch."""
    images = np.linspace(-1.0, 1.0, 4 * 3 * 3).reshape(4, 3, 3)
    expected = gumbel(images)
    batch = JitBatch.from_data(data=images)
    assert batch.fast_parallel_action(target=target) is batch
    assert np.allclose(batch.images, expected)
