"""``apply_parallel``: per-item functions over components, as a Batch method and as a decorator."""

import threading

import numpy as np
import pytest
from pipeline_helpers import (
    Numbers,
    Pairs,
    collect_post,
    double,
    double_or_keep,
    draw,
    draw_scaled,
    fail_on_three,
    meet_and_double,
    pair_sum,
    pairs_batch,
    ragged,
    scale_shift,
    strict_one_arg,
    sum_and_diff,
)

from batchkit import Batch, Dataset, ParallelError, TargetError, apply_parallel

WORKER_SETTINGS = [("for", None), ("threads", 1), ("threads", 2), ("threads", 6), ("mpc", 2)]


def pairs_dataset(n=8):
    return Dataset(n, Pairs, preloaded={"a": np.arange(n), "b": np.arange(n) * 100})


# -- src and dst -------------------------------------------------------------------------------


def test_str_src_without_dst_writes_in_place():
    """A str src with no dst stores the results back into src."""
    batch = pairs_batch(4).apply_parallel(double, src="a")
    assert batch.a.tolist() == [0, 2, 4, 6]


def test_str_src_with_new_dst_adds_component():
    """A dst that is not a component yet is added; src is unchanged."""
    batch = pairs_batch(4).apply_parallel(double, src="a", dst="doubled")
    assert "doubled" in batch.components
    assert batch.doubled.tolist() == [0, 2, 4, 6]
    assert batch.a.tolist() == [0, 1, 2, 3]


def test_apply_parallel_returns_the_batch():
    """``apply_parallel`` returns the batch it was called on."""
    batch = pairs_batch(4)
    assert batch.apply_parallel(double, src="a") is batch


def test_list_src_is_pairwise_with_list_dst():
    """A list src with a list dst maps src[i] to dst[i]."""
    batch = pairs_batch(3).apply_parallel(double, src=["a", "b"], dst=["c", "d"])
    assert batch.c.tolist() == [0, 2, 4]
    assert batch.d.tolist() == [0, 200, 400]


def test_list_src_without_dst_writes_each_in_place():
    """A list src with no dst writes each component in place."""
    batch = pairs_batch(3).apply_parallel(double, src=["a", "b"])
    assert (batch.a.tolist(), batch.b.tolist()) == ([0, 2, 4], [0, 200, 400])


def test_list_src_with_dst_of_other_length_raises():
    """A list dst whose length differs from src's raises ValueError."""
    with pytest.raises(ValueError):
        pairs_batch(3).apply_parallel(double, src=["a", "b"], dst=["c"])


def test_tuple_src_gives_func_a_tuple_per_item():
    """A tuple src gives func one tuple per item, of the components' elements."""
    batch = pairs_batch(3).apply_parallel(pair_sum, src=("a", "b"), dst="s")
    assert batch.s.tolist() == [0, 101, 202]


def test_tuple_dst_takes_tuple_results_apart():
    """A tuple dst stores each element of func's tuple result in its own component."""
    batch = pairs_batch(3).apply_parallel(sum_and_diff, src=("a", "b"), dst=("s", "d"))
    assert batch.s.tolist() == [0, 101, 202]
    assert batch.d.tolist() == [0, -99, -198]


def test_tuple_src_without_dst_writes_back_into_src():
    """A tuple src with no dst stores the tuple results back into the src components."""
    batch = pairs_batch(3).apply_parallel(sum_and_diff, src=("a", "b"))
    assert (batch.a.tolist(), batch.b.tolist()) == ([0, 101, 202], [0, -99, -198])


def test_results_of_different_shapes_become_object_array():
    """Results of different lengths are stored as a 1-D object array."""
    batch = pairs_batch(3).apply_parallel(ragged, src="a", dst="r")
    assert batch.r.dtype == object
    assert [len(r) for r in batch.r] == [0, 1, 2]


def test_array_results_of_one_shape_are_stacked():
    """Array results of one shape are stacked into one array."""
    batch = pairs_batch(3).apply_parallel(lambda x: np.full(2, x), src="a", dst="r")
    assert batch.r.shape == (3, 2)


def test_missing_src_raises_type_error():
    """Without src (nor init) apply_parallel raises TypeError."""
    with pytest.raises(TypeError):
        pairs_batch(3).apply_parallel(double)


def test_unknown_target_raises():
    """An unknown target raises TargetError."""
    with pytest.raises(TargetError):
        pairs_batch(3).apply_parallel(double, src="a", target="nogil")


# -- arguments ---------------------------------------------------------------------------------


def test_positional_args_go_to_func():
    """Positional arguments after func are passed to func, after the item."""
    batch = pairs_batch(3).apply_parallel(scale_shift, 3, src="a", dst="z")
    assert batch.z.tolist() == [0, 3, 6]


def test_positional_args_go_to_func_with_list_src():
    """Positional arguments reach func for every pair of a list src."""
    batch = pairs_batch(3).apply_parallel(scale_shift, 2, src=["a", "b"], dst=["c", "d"])
    assert (batch.c.tolist(), batch.d.tolist()) == ([0, 2, 4], [0, 200, 400])


def test_keyword_args_go_to_func():
    """Keyword arguments other than the control ones are passed to func."""
    batch = pairs_batch(3).apply_parallel(scale_shift, src="a", dst="z", factor=3, shift=1)
    assert batch.z.tolist() == [1, 4, 7]


def test_func_does_not_receive_src_or_dst():
    """func gets neither ``src=`` nor ``dst=`` (a one-argument func works)."""
    batch = pairs_batch(3).apply_parallel(strict_one_arg, src="a", dst="z")
    assert batch.z.tolist() == [1, 2, 3]


def test_func_does_not_receive_target_or_n_workers():
    """func gets neither ``target=`` nor ``n_workers=``."""
    batch = pairs_batch(3).apply_parallel(strict_one_arg, src="a", target="threads", n_workers=2)
    assert batch.a.tolist() == [1, 2, 3]


@pytest.mark.timeout(30)
def test_default_target_is_threads_for_direct_calls():
    """A direct call runs items concurrently by default (threads), not one after another."""
    barrier = threading.Barrier(2)
    batch = pairs_batch(2).apply_parallel(meet_and_double, src="a", barrier=barrier)
    assert batch.a.tolist() == [0, 2]


@pytest.mark.timeout(60)
def test_every_target_gives_the_same_result_as_for(target):
    """Every target stores the same results as 'for'."""
    expected = pairs_batch(6).apply_parallel(pair_sum, src=("a", "b"), dst="s", target="for").s
    got = pairs_batch(6).apply_parallel(pair_sum, src=("a", "b"), dst="s", target=target).s
    assert got.tolist() == expected.tolist()


@pytest.mark.timeout(60)
def test_every_target_passes_keyword_args(target):
    """Every target passes func's keyword arguments."""
    batch = pairs_batch(4).apply_parallel(scale_shift, src="a", dst="z", target=target, factor=2, shift=1)
    assert batch.z.tolist() == [1, 3, 5, 7]


# -- requires_rng ------------------------------------------------------------------------------


def _draws(function, target, n_workers, seed=11, **kwargs):
    batch = pairs_batch(8)
    batch.apply_parallel(
        function, src="a", dst="r", requires_rng=True, seed=seed, target=target, n_workers=n_workers, **kwargs
    )
    return batch.r.tolist()


def test_requires_rng_gives_each_item_a_generator():
    """With requires_rng=True, func(item, rng) gets a generator per item; draws differ between items."""
    draws = _draws(draw, "for", None)
    assert len(set(draws)) == 8


@pytest.mark.timeout(60)
def test_requires_rng_draws_independent_of_target_and_workers():
    """Per-item draws are the same on for, threads with 1, 2 or 6 workers, and mpc."""
    results = [_draws(draw, target, n) for target, n in WORKER_SETTINGS]
    assert all(r == results[0] for r in results)


@pytest.mark.timeout(60)
def test_requires_rng_with_kwargs_independent_of_target_and_workers():
    """With another keyword argument, draws are the same on every target and number of workers."""
    results = [_draws(draw_scaled, target, n, scale=2.0) for target, n in WORKER_SETTINGS]
    assert all(r == results[0] for r in results)
    assert len(set(results[0])) == 8


def test_requires_rng_reproducible_for_a_seed():
    """The same seed gives the same per-item draws."""
    assert _draws(draw_scaled, "threads", None, seed=3, scale=1.0) == _draws(
        draw_scaled, "threads", None, seed=3, scale=1.0
    )


def test_requires_rng_differs_between_seeds():
    """Different seeds give different per-item draws."""
    assert _draws(draw_scaled, "for", None, seed=1, scale=1.0) != _draws(
        draw_scaled, "for", None, seed=2, scale=1.0
    )


@pytest.mark.timeout(30)
def test_requires_rng_in_pipeline_follows_run_seed_not_prefetch():
    """In a pipeline, per-item draws follow the run's seed, the same with and without prefetch."""
    p = pairs_dataset(8).p.apply_parallel(draw_scaled, src="a", dst="r", requires_rng=True, scale=1.0)

    def run(seed, prefetch):
        return [b.r.tolist() for b in p.gen_batch(4, seed=seed, prefetch=prefetch)]

    assert run(5, 0) == run(5, 2)
    assert run(5, 0) != run(6, 0)


def test_decorated_method_with_requires_rng():
    """A method decorated with ``@apply_parallel(requires_rng=True)`` gets an rng per item."""
    first = pairs_batch(6).noise(seed=4).r.tolist()
    assert first == pairs_batch(6).noise(seed=4).r.tolist()
    assert len(set(first)) == 6


# -- p= probability mask -----------------------------------------------------------------------


def test_p_zero_applies_to_no_item():
    """``p=0`` leaves every item as it is."""
    batch = pairs_batch(10).apply_parallel(double, src="a", p=0)
    assert batch.a.tolist() == list(range(10))


def test_p_one_applies_to_every_item():
    """``p=1`` applies func to every item."""
    batch = pairs_batch(10).apply_parallel(double, src="a", p=1)
    assert batch.a.tolist() == [2 * i for i in range(10)]


def test_p_half_applies_to_some_items():
    """``p=0.5`` applies func to some items and leaves the others as they are."""
    a = pairs_batch(40).apply_parallel(double, src="a", p=0.5).a
    changed = a != np.arange(40)
    assert changed[1:].any() and not changed[1:].all()


def test_p_half_with_kwargs_applies_to_some_items():
    """``p=0.5`` with a keyword argument for func applies it to some items only."""
    a = pairs_batch(40).apply_parallel(double_or_keep, src="a", p=0.5, factor=2).a
    changed = a != np.arange(40)
    assert changed[1:].any() and not changed[1:].all()


def test_p_mask_in_pipeline_is_reproducible_with_seed():
    """In a pipeline, the items that ``p=`` picks are the same for the same seed."""
    p = pairs_dataset(20).p.apply_parallel(double_or_keep, src="a", p=0.5, factor=2)

    def run():
        return [b.a.tolist() for b in p.gen_batch(10, seed=8)]

    assert run() == run()


# -- decorator ---------------------------------------------------------------------------------


def test_bare_decorator_takes_src_per_call():
    """``@apply_parallel`` (bare) applies the method to the src given per call."""
    assert pairs_batch(3).bump(src="a").a.tolist() == [1, 2, 3]


def test_decorator_defaults_are_used():
    """``@apply_parallel(src=..., dst=...)`` uses its defaults."""
    assert pairs_batch(3).combine().s.tolist() == [0, 110, 220]


def test_decorator_defaults_overridden_per_call():
    """A call's src/dst override the decorator's."""
    batch = pairs_batch(3).combine(dst="q")
    assert batch.q.tolist() == [0, 110, 220]
    assert "s" not in batch.components


def test_decorated_method_positional_args_go_to_method():
    """Positional arguments of a decorated method call go to the method, after the item."""
    assert pairs_batch(3).bump(5, src="b", dst="c").c.tolist() == [5, 105, 205]


def test_decorated_method_positional_args_with_list_src():
    """A decorated method's positional arguments reach every pair of a list src."""
    batch = pairs_batch(3).bump(5, src=["a", "b"])
    assert (batch.a.tolist(), batch.b.tolist()) == ([5, 6, 7], [5, 105, 205])


def test_decorator_takes_keyword_arguments_only():
    """``@apply_parallel("x")`` raises TypeError."""
    with pytest.raises(TypeError):
        apply_parallel("images")


def test_decorated_method_is_a_pipeline_action():
    """A decorated method runs as a pipeline action with its defaults and keyword arguments."""
    ds = Dataset(4, Numbers, preloaded={"x": np.arange(4)})
    assert ds.p.plus(amount=3).next_batch(4).y.tolist() == [3, 4, 5, 6]


def test_decorated_method_overrides_in_pipeline():
    """In a pipeline, a decorated method accepts src/dst/target overrides."""
    batch = pairs_dataset(4).p.bump(src="a", dst="c", target="for").next_batch(4)
    assert batch.c.tolist() == [1, 2, 3, 4]


def test_batch_apply_parallel_is_a_pipeline_action():
    """``apply_parallel`` itself is a pipeline action."""
    batch = pairs_dataset(4).p.apply_parallel(double, src="a", dst="d").next_batch(4)
    assert batch.d.tolist() == [0, 2, 4, 6]


def test_decorated_method_on_subclass_without_components_declared_works():
    """A decorated method works on a batch made from a dict of components."""

    class Free(Batch):
        @apply_parallel(src="v")
        def inc(self, value):
            return value + 1

    assert Free.from_data(data={"v": np.arange(3)}).inc().v.tolist() == [1, 2, 3]


# -- failures and post -------------------------------------------------------------------------


def test_failure_raises_parallel_error():
    """A failing item raises ParallelError."""
    with pytest.raises(ParallelError):
        pairs_batch(6).apply_parallel(fail_on_three, src="a")


def test_parallel_error_names_the_item():
    """The failed item's exception carries a note naming the item and the function."""
    with pytest.raises(ParallelError) as info:
        pairs_batch(6).apply_parallel(fail_on_three, src="a")
    (error,) = info.value.exceptions
    assert isinstance(error, ValueError)
    assert any("item 3" in note and "fail_on_three" in note for note in error.__notes__)


def test_parallel_error_keeps_other_results():
    """ParallelError keeps every result, the failed slot holding the exception."""
    with pytest.raises(ParallelError) as info:
        pairs_batch(6).apply_parallel(fail_on_three, src="a", target="for")
    assert info.value.failed_positions == [3]
    assert [r for i, r in enumerate(info.value.results) if i != 3] == [0, 1, 2, 4, 5]


def test_failure_leaves_dst_unwritten():
    """When an item fails, nothing is stored in dst."""
    batch = pairs_batch(6)
    with pytest.raises(ParallelError):
        batch.apply_parallel(fail_on_three, src="a", dst="out")
    assert "out" not in batch.components


def test_custom_post_gets_results_src_and_dst():
    """A custom post gets the results list in order, and src and dst."""
    result = pairs_batch(4).apply_parallel(double, src="a", dst="z", post=collect_post)
    assert result == {"results": [0, 2, 4, 6], "src": "a", "dst": "z"}


def test_custom_post_gets_failures_as_results():
    """A custom post receives a failed item's exception in its slot instead of a raise."""
    result = pairs_batch(6).apply_parallel(fail_on_three, src="a", post=collect_post)
    assert isinstance(result["results"][3], ValueError)


def test_post_by_method_name():
    """A str post names a batch method."""
    batch = pairs_batch(3)
    batch.keep = lambda results, *a, **k: ("kept", list(results))
    assert batch.apply_parallel(double, src="a", post="keep") == ("kept", [0, 2, 4])


def _shift(item, amount):
    return item + amount


def test_a_list_src_shares_one_per_item_draw_across_its_components():
    """P(R(...)) with src=["a", "b"]: an image and its mask get the same random value per item."""
    from batchkit import P, R

    class Pairs(Batch):
        components = ("a", "b")

    batch = Pairs.from_data(data={"a": np.zeros(6), "b": np.zeros(6)}, random=np.random.default_rng(3))
    batch.apply_parallel(_shift, P(R("integers", 0, 10**9)), src=["a", "b"], target="for")
    assert np.array_equal(batch.a, batch.b) and len(set(batch.a.tolist())) > 1
