"""Running pipelines: iteration, next_batch, variables, named expressions, built-ins, prefetch,
failure policy, callbacks, logs, progress and bounded memory."""

import gc
import logging
import re
import threading
import time
import tracemalloc
import warnings
import weakref

import numpy as np
import pytest
from pipeline_helpers import Overlap, numbers_dataset

from batchkit import PP, B, C, F, I, P, Pipeline, PipelineError, R, V, read_output


def indices_of(pipeline, *args, **kwargs):
    """The index values of every batch ``gen_batch(*args, **kwargs)`` yields."""
    return [b.indices.tolist() for b in pipeline.gen_batch(*args, **kwargs)]


def flat(lists):
    """One list of the items of ``lists``, in order."""
    return [item for part in lists for item in part]


def prefetch_threads():
    return [t for t in threading.enumerate() if t.name.startswith("batchkit-prefetch")]


# -- iteration ---------------------------------------------------------------------------------


def test_run_without_epochs_or_iters_runs_one_epoch():
    """``run`` with neither n_epochs nor n_iters runs exactly one epoch."""
    seen = []
    numbers_dataset(10).p.run(4, bar=False, on_batch=lambda b: seen.append(b.indices.tolist()))
    assert seen == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_run_without_epochs_or_iters_does_not_warn():
    """``run`` with neither n_epochs nor n_iters gives no warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numbers_dataset(10).p.add_one().run(4, bar=False)


def test_gen_batch_without_epochs_or_iters_gives_one_epoch():
    """``gen_batch`` with neither n_epochs nor n_iters yields one epoch."""
    assert indices_of(numbers_dataset(5).p, 2) == [[0, 1], [2, 3], [4]]


def test_n_epochs_tops_up_tail_from_next_epoch():
    """With drop_last=False an epoch's short tail is topped up from the next epoch."""
    assert indices_of(numbers_dataset(4).p, 3, n_epochs=2) == [[0, 1, 2], [3, 0, 1], [2, 3]]


def test_drop_last_drops_short_tails():
    """With drop_last=True each epoch's short tail is dropped."""
    assert indices_of(numbers_dataset(4).p, 3, n_epochs=2, drop_last=True) == [[0, 1, 2], [0, 1, 2]]


def test_n_iters_cycles_over_epochs():
    """``n_iters`` gives that many batches, cycling through the items."""
    assert indices_of(numbers_dataset(4).p, 3, n_iters=3) == [[0, 1, 2], [3, 0, 1], [2, 3, 0]]


def test_n_epochs_and_n_iters_together_raise():
    """Giving both n_epochs and n_iters raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.run(2, n_epochs=1, n_iters=2, bar=False)


def test_batch_size_larger_than_dataset_raises():
    """A batch size larger than the dataset raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset(4).p.run(5, bar=False)


def test_run_needs_a_batch_size():
    """``run()`` with no batch size and no stored arguments raises TypeError."""
    with pytest.raises(TypeError):
        numbers_dataset().p.run(bar=False)


def test_run_needs_a_dataset():
    """Running a pipeline without a dataset raises TypeError."""
    with pytest.raises(TypeError, match="no dataset"):
        Pipeline().add_one().run(2, bar=False)


def test_run_returns_the_pipeline():
    """``run`` returns the pipeline itself."""
    p = numbers_dataset().p
    assert p.run(5, bar=False) is p


def test_shuffle_with_seed_is_reproducible_across_runs():
    """The same int shuffle gives the same batches in two runs."""
    p = numbers_dataset(10).p
    assert indices_of(p, 3, n_epochs=3, shuffle=7) == indices_of(p, 3, n_epochs=3, shuffle=7)


def test_shuffle_true_with_seed_is_reproducible():
    """``shuffle=True`` with a seed gives the same batches in two runs."""
    p = numbers_dataset(10).p
    assert indices_of(p, 3, shuffle=True, seed=5) == indices_of(p, 3, shuffle=True, seed=5)


def test_shuffle_changes_order():
    """A shuffled epoch is a permutation of the items, not in index order."""
    order = flat(indices_of(numbers_dataset(20).p, 20, shuffle=3))
    assert sorted(order) == list(range(20))
    assert order != list(range(20))


def test_shuffle_reshuffles_each_epoch():
    """Each epoch of a shuffled run has its own order, each a permutation of the items."""
    epochs = indices_of(numbers_dataset(20).p, 20, n_epochs=2, shuffle=11)
    assert [sorted(e) for e in epochs] == [list(range(20))] * 2
    assert epochs[0] != epochs[1]


def test_different_shuffle_seeds_give_different_orders():
    """Two different shuffle seeds give different orders."""
    p = numbers_dataset(20).p
    assert indices_of(p, 20, shuffle=1) != indices_of(p, 20, shuffle=2)


# -- what each batch carries -------------------------------------------------------------------


def test_batch_has_the_pipeline():
    """Each batch's ``.pipeline`` is the pipeline that ran it."""
    p = numbers_dataset(6).p.add_one()
    assert all(b.pipeline is p for b in p.gen_batch(2))


def test_batch_iteration_counts_from_one_as_in_batchflow():
    """``.iteration`` is 1, 2, 3, ... in order (batchflow's numbering, the same as ``I("c")``)."""
    assert [b.iteration for b in numbers_dataset(10).p.gen_batch(3)] == [1, 2, 3, 4]


def test_batch_n_iterations_is_the_total():
    """``.n_iterations`` is the run's number of batches."""
    assert {b.n_iterations for b in numbers_dataset(10).p.gen_batch(3, n_epochs=2)} == {7}


def test_batch_random_is_a_generator():
    """``.random`` is a numpy Generator."""
    assert all(isinstance(b.random, np.random.Generator) for b in numbers_dataset(4).p.gen_batch(2))


def test_batch_random_is_reproducible_with_a_seed():
    """Batches' ``.random`` draw the same values in two runs with the same seed."""
    p = numbers_dataset(10).p
    first = [b.random.random() for b in p.gen_batch(2, seed=9)]
    assert first == [b.random.random() for b in p.gen_batch(2, seed=9)]


def test_batch_random_differs_between_batches():
    """Different batches of a run get different generators."""
    draws = [b.random.random() for b in numbers_dataset(10).p.gen_batch(2, seed=9)]
    assert len(set(draws)) == len(draws)


def test_batch_random_differs_between_seeds():
    """Another seed gives other draws."""
    p = numbers_dataset(10).p
    assert [b.random.random() for b in p.gen_batch(2, seed=1)] != [
        b.random.random() for b in p.gen_batch(2, seed=2)
    ]


# -- next_batch --------------------------------------------------------------------------------


def test_next_batch_continues_between_calls():
    """Successive ``next_batch`` calls with the same arguments give successive batches."""
    p = numbers_dataset(10).p
    assert [p.next_batch(3).indices.tolist() for _ in range(3)] == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]


def test_next_batch_with_other_batch_size_restarts():
    """A later call with another batch size starts a new iteration with that size."""
    p = numbers_dataset(10).p
    p.next_batch(3)
    p.next_batch(3)
    assert p.next_batch(2).indices.tolist() == [0, 1]
    assert p.next_batch(2).indices.tolist() == [2, 3]


def test_next_batch_without_limits_goes_past_an_epoch():
    """Without n_epochs and n_iters, ``next_batch`` keeps giving batches epoch after epoch."""
    p = numbers_dataset(4).p
    assert [p.next_batch(3).indices.tolist() for _ in range(3)] == [[0, 1, 2], [3, 0, 1], [2, 3, 0]]


def test_next_batch_stops_when_epochs_are_done():
    """With n_epochs=1, ``next_batch`` raises StopIteration after the epoch."""
    p = numbers_dataset(4).p
    p.next_batch(2, n_epochs=1)
    p.next_batch(2, n_epochs=1)
    with pytest.raises(StopIteration):
        p.next_batch(2, n_epochs=1)


def test_next_batch_runs_the_actions():
    """``next_batch`` returns a processed batch."""
    assert numbers_dataset(4).p.add_one().next_batch(2).x.tolist() == [1, 11]


def test_next_batch_after_failed_batch_keeps_giving_batches():
    """After a batch fails in ``next_batch``, a later call still gives a batch (no StopIteration)."""
    p = numbers_dataset(10).p.fail_if([2])
    p.next_batch(2)
    with pytest.raises(ValueError):
        p.next_batch(2)
    assert len(p.next_batch(2)) == 2


def test_reset_iter_restarts_next_batch():
    """``reset("iter")`` makes ``next_batch`` start over."""
    p = numbers_dataset(10).p
    p.next_batch(3)
    p.next_batch(3)
    p.reset("iter")
    assert p.next_batch(3).indices.tolist() == [0, 1, 2]


def test_reset_with_no_argument_resets_iteration():
    """``reset()`` resets the iteration."""
    p = numbers_dataset(10).p
    p.next_batch(3)
    p.reset()
    assert p.next_batch(3).indices.tolist() == [0, 1, 2]


def test_reset_unknown_raises():
    """``reset("bogus")`` raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.reset("bogus")


def test_run_lazy_runs_nothing():
    """``run(..., lazy=True)`` only stores the arguments and returns the pipeline."""
    log = []
    p = numbers_dataset(10).p.record(log)
    assert p.run(4, lazy=True) is p
    assert log == []


def test_run_after_lazy_uses_stored_arguments():
    """``run()`` after ``run(lazy=True)`` runs with the stored arguments."""
    log = []
    p = numbers_dataset(10).p.record(log)
    p.run(4, n_epochs=1, bar=False, lazy=True)
    p.run()
    assert log == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_run_later_then_next_batch_uses_stored_arguments():
    """``next_batch()`` after ``run_later(...)`` uses the stored batch size."""
    p = numbers_dataset(10).p.run_later(4, n_epochs=1)
    assert p.next_batch().indices.tolist() == [0, 1, 2, 3]
    assert p.next_batch().indices.tolist() == [4, 5, 6, 7]


def test_gen_batch_uses_stored_arguments():
    """``gen_batch()`` after ``run_later(...)`` uses the stored arguments."""
    p = numbers_dataset(10).p.run_later(5, n_epochs=1)
    assert indices_of(p) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


# -- variables ---------------------------------------------------------------------------------


def test_init_variable_sets_default():
    """``init_variable(name, default)`` declares the variable at its default."""
    p = numbers_dataset().p.init_variable("n", 5)
    assert p.get_variable("n") == 5
    assert p.has_variable("n")


def test_variable_in_action_argument():
    """``V(name)`` in an action argument is the variable's value."""
    p = numbers_dataset(4).p.init_variable("factor", 3).multiply(V("factor"))
    assert p.next_batch(4).x.tolist() == [0, 30, 60, 90]


def test_set_variable_write():
    """``set_variable(..., mode="w")`` replaces the value."""
    p = numbers_dataset().p.init_variable("v", 1)
    p.set_variable("v", 2)
    assert p.v("v") == 2


def test_set_variable_append():
    """``mode="a"`` appends to a list."""
    p = numbers_dataset().p.init_variable("v", [1])
    p.set_variable("v", 2, mode="a")
    assert p.v("v") == [1, 2]


def test_set_variable_extend():
    """``mode="e"`` extends a list."""
    p = numbers_dataset().p.init_variable("v", [1])
    p.set_variable("v", [2, 3], mode="extend")
    assert p.v("v") == [1, 2, 3]


def test_set_variable_update():
    """``mode="u"`` updates a dict."""
    p = numbers_dataset().p.init_variable("v", {"a": 1})
    p.set_variable("v", {"b": 2}, mode="u")
    assert p.v("v") == {"a": 1, "b": 2}


def test_set_variable_bad_mode_raises():
    """An unknown mode raises ValueError."""
    p = numbers_dataset().p.init_variable("v", [])
    with pytest.raises(ValueError):
        p.set_variable("v", 1, mode="x")


def test_setting_an_undeclared_variable_creates_it_with_a_warning_as_batchflow():
    """batchflow makes a variable on its first assignment (and warns): so does batchkit."""
    pipeline = numbers_dataset().p
    with pytest.warns(UserWarning, match="'made' was never declared"):
        pipeline.set_variable("made", 1)
    assert pipeline.v("made") == 1


@pytest.mark.parametrize(
    ("mode", "value", "expected"), [("a", 3, [3, 3]), ("e", [1], [1, 1]), ("u", {"k": 1}, {"k": 1})]
)
def test_an_undeclared_variable_assigned_in_a_mode_starts_empty(mode, value, expected):
    """Appending to a variable never declared starts a list (batchflow's run fails at the second)."""
    pipeline = numbers_dataset(4).p.update(V("made", mode=mode), value)
    with pytest.warns(UserWarning, match="never declared"):
        pipeline.run(2, bar=False)
    assert pipeline.v("made") == expected


def test_reading_an_undeclared_variable_raises_key_error_naming_it():
    """A misspelt variable fails loudly (batchflow logs a warning and gives None)."""
    with pytest.raises(KeyError, match="no pipeline variable 'nope'"):
        numbers_dataset().p.v("nope")


def test_update_with_expression_mode_appends():
    """``update(V("x", mode="a"), B("y"))`` appends each batch's value."""
    p = numbers_dataset(6).p.init_variable("seen", []).update(V("seen", mode="a"), B("x"))
    p.run(2, bar=False)
    assert [v.tolist() for v in p.v("seen")] == [[0, 10], [20, 30], [40, 50]]


def test_update_with_mode_argument_extends():
    """``update(V("x"), value, mode="e")`` extends with each batch's value."""
    p = numbers_dataset(6).p.init_variable("seen", []).update(V("seen"), B("indices"), mode="e")
    p.run(4, bar=False)
    assert [int(v) for v in p.v("seen")] == [0, 1, 2, 3, 4, 5]


def test_update_write_mode_keeps_last():
    """``update(V("x"), value)`` writes: the last batch's value remains."""
    p = numbers_dataset(6).p.init_variable("last").update(V("last"), I("current"))
    p.run(2, bar=False)
    assert p.v("last") == 3  # I("current") counts from 1


def test_update_dict_mode():
    """``update(V("d", mode="u"), {...})`` updates a dict per batch."""
    p = numbers_dataset(6).p.init_variable("d", {}).update(V("d", mode="u"), {I("current"): B("size")})
    p.run(4, bar=False)
    assert p.v("d") == {1: 4, 2: 2}


def test_save_to_is_update():
    """``save_to`` assigns like ``update``."""
    p = numbers_dataset(4).p.init_variable("total", 0).save_to(V("total"), V("total") + B("size"))
    p.run(2, bar=False)
    assert p.v("total") == 4


def test_update_batch_attribute():
    """``update(B("name"), value)`` sets a batch attribute."""
    p = numbers_dataset(4).p.update(B("tag"), C("tag")) << {"tag": "t"}
    assert p.next_batch(2).tag == "t"


def test_variables_kept_across_runs():
    """Variables keep their values from one run to the next."""
    p = numbers_dataset(4).p.init_variable("n", 0).update(V("n"), V("n") + 1)
    p.run(2, bar=False)
    p.run(2, bar=False)
    assert p.v("n") == 4


def test_reset_variables_restores_defaults():
    """``reset("variables")`` puts variables back to their defaults."""
    p = numbers_dataset(4).p.init_variable("seen", []).update(V("seen", mode="a"), 1)
    p.run(2, bar=False)
    p.reset("variables")
    assert p.v("seen") == []


def test_reset_iter_keeps_variables():
    """``reset("iter")`` leaves variables as they are."""
    p = numbers_dataset(4).p.init_variable("n", 0).update(V("n"), 7)
    p.run(2, bar=False)
    p.reset("iter")
    assert p.v("n") == 7


def test_before_hook_update_resets_variable_each_run():
    """``before.update(V(name), value)`` sets the variable at the start of every run."""
    p = numbers_dataset(4).p.init_variable("n", 5).update(V("n"), V("n") + 1)
    p.before.update(V("n"), 0)
    p.run(2, bar=False)
    p.run(2, bar=False)
    assert p.v("n") == 2


def test_list_default_not_shared_between_pipelines():
    """Two pipelines chained from one have their own copy of a list default."""
    base = numbers_dataset(4).p.init_variable("seen", [])
    left = base.update(V("seen", mode="a"), 1)
    left.run(2, bar=False)
    assert base.v("seen") == []
    assert left.v("seen") == [1, 1]


@pytest.mark.timeout(30)
def test_concurrent_appends_under_prefetch_lose_nothing():
    """200 batches appending to one variable under prefetch=4 leave 200 values."""
    p = numbers_dataset(20).p.init_variable("seen", []).update(V("seen", mode="a"), I("current"))
    p.run(1, n_epochs=10, prefetch=4, bar=False)
    assert sorted(p.v("seen")) == list(range(1, 201))


# -- named expressions -------------------------------------------------------------------------


def _stored(pipeline, name, **kwargs):
    """The value of attribute ``name`` on each batch the pipeline yields."""
    return [getattr(b, name) for b in pipeline.gen_batch(**kwargs)]


def test_b_reads_a_component():
    """``B("x")`` evaluates to the batch's component."""
    values = _stored(numbers_dataset(4).p.store("got", B("x") * 2 + 1), "got", batch_size=2)
    assert [v.tolist() for v in values] == [[1, 21], [41, 61]]


def test_b_without_name_is_the_batch():
    """``B()`` evaluates to the batch itself."""
    p = numbers_dataset(4).p.store("me", B())
    assert all(b.me is b for b in p.gen_batch(2))


def test_b_attribute_and_indexing():
    """Attribute access and indexing on ``B`` are evaluated per batch."""
    assert _stored(numbers_dataset(4).p.store("got", B("x").shape[0]), "got", batch_size=3) == [3, 1]


def test_c_reads_config():
    """``C(name)`` reads the pipeline config, ``C(name, default=...)`` a default."""
    p = numbers_dataset(4).pipeline({"a": {"b": 5}}).store("got", (C("a/b"), C("missing", default=0)))
    assert _stored(p, "got", batch_size=4) == [(5, 0)]


def test_f_calls_function_with_evaluated_args():
    """``F(fn)(args)`` calls fn with evaluated arguments per batch."""
    p = numbers_dataset(5).p.store("got", F(len)(B("indices")))
    assert _stored(p, "got", batch_size=2) == [2, 2, 1]


def test_r_draws_from_the_batch_random():
    """``R(...)`` draws from the batch's own seeded generator."""
    p = numbers_dataset(4).p.store("got", R("random"))
    for batch in p.gen_batch(2, seed=3):
        assert batch.got == np.random.default_rng(batch.random_seed).random()


def test_r_is_reproducible_with_a_seed():
    """``R(...)`` draws the same values in two runs with the same seed."""
    p = numbers_dataset(6).p.store("got", R("normal", size=2))
    first = [v.tolist() for v in _stored(p, "got", batch_size=2, seed=4)]
    assert first == [v.tolist() for v in _stored(p, "got", batch_size=2, seed=4)]


def test_i_current_and_max():
    """``I("current")`` counts batches from 1, as in batchflow; ``I("max")`` is the number of batches."""
    p = numbers_dataset(6).p.store("got", (I("current"), I("max")))
    assert _stored(p, "got", batch_size=2) == [(1, 3), (2, 3), (3, 3)]


def test_i_ratio():
    """``I("ratio")`` is current / max: the last batch's is 1."""
    p = numbers_dataset(4).p.store("got", I("ratio"))
    assert _stored(p, "got", batch_size=1) == [0.25, 0.5, 0.75, 1.0]


def test_i_max_is_none_and_ratio_an_error_when_the_total_is_unknown():
    """After a rebatch the number of batches is unknown: I("m") gives None, I("r") says why."""
    p = numbers_dataset(4).p.rebatch(2).store("got", I("m"))
    assert _stored(p, "got", batch_size=1) == [None, None]
    p = numbers_dataset(4).p.rebatch(2).store("got", I("r"))
    with pytest.raises(Exception, match="number of batches is unknown"):
        _stored(p, "got", batch_size=1)


def test_expressions_evaluated_inside_containers():
    """Expressions inside lists and dicts of arguments are evaluated."""
    p = numbers_dataset(4).p.store("got", {"n": B("size"), "l": [I("current"), C("k")]}) << {"k": "v"}
    assert _stored(p, "got", batch_size=4) == [{"n": 4, "l": [1, "v"]}]


def test_per_item_p_values_through_inbatch_parallel():
    """``P(B("x"))`` gives each call of an @inbatch_parallel action its own item's value."""
    batch = numbers_dataset(4).p.per_item(P(B("x"))).next_batch(4)
    assert [(int(ix), int(v)) for ix, v in batch.gathered] == [(0, 0), (1, 10), (2, 20), (3, 30)]


def test_per_item_pp_random_is_reproducible_with_a_seed():
    """``PP(R(...))`` per-item draws are the same in two runs with the same seed."""
    p = numbers_dataset(8).p.per_item(0, offset=PP(R("integers", 0, 1000)))

    def run():
        return [[int(v) for _, v in b.gathered] for b in p.gen_batch(4, seed=12)]

    assert run() == run()


def test_per_item_p_random_gives_one_draw_per_item():
    """``P(R(...))`` gives each item its own draw (not all the same)."""
    batch = numbers_dataset(8).p.per_item(0, offset=P(R("integers", 0, 10**9))).next_batch(8, seed=1)
    offsets = [int(v) for _, v in batch.gathered]
    assert len(set(offsets)) == 8


def test_per_item_values_of_wrong_length_fail():
    """``P([...])`` with a length other than the batch's fails that batch with ValueError."""
    p = numbers_dataset(4).p.per_item(P([1, 2, 3]))
    with pytest.raises(ValueError):
        p.run(4, bar=False)


# -- call --------------------------------------------------------------------------------------


def test_call_passes_batch_first():
    """``call(fn, *args)`` calls ``fn(batch, *args)``."""
    got = []
    numbers_dataset(4).p.call(lambda batch, k: got.append((len(batch), k)), B(), 7).run(2, bar=False)
    assert got == [(2, 7), (2, 7)]


def test_call_save_to_variable():
    """``call(fn, save_to=V(...))`` stores fn's result in the variable."""
    p = numbers_dataset(6).p.init_variable("sizes", []).call(len, B(), save_to=V("sizes", mode="a"))
    p.run(4, bar=False)
    assert p.v("sizes") == [4, 2]


def test_call_with_str_calls_batch_method():
    """``call("method", ...)`` calls that batch method with the evaluated arguments."""
    p = (
        numbers_dataset(6, start=100)
        .p.init_variable("pos", [])
        .call("get_pos", B("indices")[1], save_to=V("pos", mode="a"))
    )
    p.run(3, bar=False)
    assert p.v("pos") == [1, 1]


def test_call_evaluates_keyword_arguments():
    """Keyword arguments of ``call`` are evaluated per batch."""
    got = []
    numbers_dataset(4).p.call(lambda batch, n: got.append(n), B(), n=I("current")).run(2, bar=False)
    assert got == [1, 2]


def test_action_returning_new_batch_replaces_it():
    """An action that returns a new batch passes that batch to the next action."""
    batch = numbers_dataset(4).p.replace_with_new().add_one().next_batch(2)
    assert batch.x.tolist() == [1, 1001]


# -- rebatch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 7])
def test_rebatch_keeps_every_item_once_in_order(size):
    """``rebatch`` to a smaller or bigger size keeps every item once, in order, with its value."""
    p = numbers_dataset(10, start=100).p.add_one().rebatch(size)
    batches = list(p.gen_batch(4))
    assert [len(b) for b in batches[:-1]] == [size] * (len(batches) - 1)
    assert flat(b.indices.tolist() for b in batches) == list(range(100, 110))
    assert flat(b.x.tolist() for b in batches) == [x * 10 + 1 for x in range(10)]


def test_rebatch_runs_following_actions_on_new_batches():
    """Actions after ``rebatch`` run on the regrouped batches."""
    log = []
    numbers_dataset(10).p.rebatch(5).record(log).run(2, bar=False)
    assert log == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]]


def test_rebatch_keeps_shuffled_stream_order():
    """``rebatch`` keeps the order of a shuffled run."""
    p = numbers_dataset(12).p
    order = flat(indices_of(p, 3, shuffle=5))
    rebatched = flat(indices_of(p.rebatch(4), 3, shuffle=5))
    assert rebatched == order


# -- merge and join ----------------------------------------------------------------------------


def test_merge_combines_batches_of_two_pipelines():
    """``merge(other)`` makes one batch of this batch's items then the other's next batch's."""
    other = numbers_dataset(10, start=500).p.add_one()
    batches = list(numbers_dataset(10).p.merge(other).gen_batch(2))
    assert batches[0].indices.tolist() == [0, 1, 500, 501]
    assert batches[1].x.tolist() == [20, 30, 21, 31]


def test_merge_with_custom_function():
    """``merge(other, fn=...)`` uses fn on ``[batch, other_batch]``."""
    other = numbers_dataset(10, start=500).p
    p = numbers_dataset(10).p.merge(other, fn=lambda batches: batches[1])
    assert p.next_batch(2).indices.tolist() == [500, 501]


def test_join_passes_other_batch_to_next_action():
    """``join(other)`` passes the other pipeline's batch as the next action's first argument."""
    other = numbers_dataset(10, start=500).p.add_one()
    batch = numbers_dataset(10).p.join(other).joined().next_batch(3)
    assert batch.other_x.tolist() == [1, 11, 21]


def test_join_with_stored_run_arguments():
    """A joined pipeline with stored run arguments gives its batches in its own order."""
    other = numbers_dataset(10, start=500).p.add_one().run_later(3, n_epochs=1)
    got = [b.other_x.tolist() for b in numbers_dataset(10).p.join(other).joined().gen_batch(3)]
    assert got == [[1, 11, 21], [31, 41, 51], [61, 71, 81], [91]]


def test_join_pairs_short_last_batch_with_matching_items():
    """A short last batch is joined with the other pipeline's matching last items, not its first ones."""
    other = numbers_dataset(10, start=500).p.add_one()
    got = [b.other_x.tolist() for b in numbers_dataset(10).p.join(other).joined().gen_batch(3)]
    assert got == [[1, 11, 21], [31, 41, 51], [61, 71, 81], [91]]


# -- write_to / read_output --------------------------------------------------------------------


def test_write_to_then_read_output_gives_all_items_in_order(tmp_path):
    """``write_to(path)`` then ``read_output(path)`` gives every item, in the run's order."""
    p = numbers_dataset(10).p.add_one().write_to(tmp_path / "out")
    order = flat(indices_of(numbers_dataset(10).p, 3, shuffle=2))
    p.run(3, shuffle=2, bar=False)
    out = read_output(tmp_path / "out")
    assert out["indices"].tolist() == order
    assert out["x"].tolist() == [i * 10 + 1 for i in order]


def test_write_to_twice_with_mode_new_refuses(tmp_path):
    """A second run writing to the same path with mode='new' raises FileExistsError."""
    p = numbers_dataset(4).p.write_to(tmp_path / "out")
    p.run(2, bar=False)
    with pytest.raises(FileExistsError):
        p.run(2, bar=False)


def test_write_to_second_run_leaves_first_output(tmp_path):
    """The refused second run leaves the first run's output intact."""
    p = numbers_dataset(4).p.write_to(tmp_path / "out")
    p.run(2, bar=False)
    with pytest.raises(FileExistsError):
        p.run(2, bar=False)
    assert read_output(tmp_path / "out")["indices"].tolist() == [0, 1, 2, 3]


@pytest.mark.timeout(30)
def test_write_to_under_prefetch_writes_every_item(tmp_path, monkeypatch):
    """With prefetch, batches reaching write_to at once all get written, even on a slow file system."""
    import batchkit.store

    original_init = batchkit.store.BatchWriter.__init__

    def slow_init(self, *args, **kwargs):  # a slow file system: opening an output takes a while
        original_init(self, *args, **kwargs)
        time.sleep(0.05)

    monkeypatch.setattr(batchkit.store.BatchWriter, "__init__", slow_init)
    barrier = threading.Barrier(3)
    p = numbers_dataset(6).p.meet(barrier).write_to(tmp_path / "out")
    p.run(2, prefetch=3, bar=False)
    assert sorted(read_output(tmp_path / "out")["indices"].tolist()) == list(range(6))


@pytest.mark.timeout(30)
def test_write_to_under_prefetch_keeps_run_order(tmp_path):
    """With prefetch, the output holds the items in the run's order even when batch 0 is slowest."""
    p = numbers_dataset(12).p.sleep_if([0], 0.3).write_to(tmp_path / "out")
    p.run(3, prefetch=2, bar=False)  # batch 0 sleeps on one thread while the other writes batches 1, 2
    assert read_output(tmp_path / "out")["indices"].tolist() == list(range(12))


# -- prefetch ----------------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_prefetch_yields_batches_in_order():
    """With prefetch, batches come out in order even when an early one is slow."""
    p = numbers_dataset(12).p.sleep_if([0, 1], 0.1)
    assert indices_of(p, 2, prefetch=3) == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]


@pytest.mark.timeout(30)
def test_prefetch_gives_same_results_as_without():
    """A run with prefetch gives the same batches and random draws as one without."""
    p = numbers_dataset(12).p.store("draw", R("random")).add_one()

    def results(prefetch):
        return [(b.indices.tolist(), b.x.tolist(), b.draw) for b in p.gen_batch(2, seed=6, prefetch=prefetch)]

    assert results(3) == results(0)


@pytest.mark.timeout(30)
def test_prefetch_runs_batches_concurrently_up_to_prefetch():
    """With prefetch=3 more than one batch runs at a time, and never more than three."""
    overlap = Overlap()
    numbers_dataset(24).p.count_overlap(overlap, 0.02).run(2, prefetch=3, bar=False)
    assert 1 < overlap.peak <= 3


@pytest.mark.timeout(30)
def test_no_prefetch_runs_one_batch_at_a_time():
    """Without prefetch batches never overlap."""
    overlap = Overlap()
    numbers_dataset(8).p.count_overlap(overlap, 0.005).run(2, bar=False)
    assert overlap.peak == 1


@pytest.mark.timeout(30)
def test_prefetch_error_is_raised_and_later_batches_not_yielded():
    """An error in a batch under prefetch is raised to the caller; no later batch is yielded."""
    got = []
    with pytest.raises(ValueError, match=r"bad values \[6\]"):
        for batch in numbers_dataset(20).p.fail_if([6]).gen_batch(2, prefetch=3):
            got.append(batch.indices.tolist())
    assert got == [[0, 1], [2, 3], [4, 5]]


@pytest.mark.timeout(30)
def test_prefetch_slow_failing_batch_among_fast_ones_raises():
    """A failing batch slower than the others raises instead of hanging."""
    p = numbers_dataset(20).p.slow_fail_if([4], 0.3)
    with pytest.raises(ValueError, match="slow failure"):
        p.run(2, prefetch=3, bar=False)


@pytest.mark.timeout(30)
def test_prefetch_error_cancels_pending_batches():
    """After an error, batches not yet started are not started."""
    log = []
    p = numbers_dataset(40).p.fail_if([2]).record(log).sleep(0.01)
    with pytest.raises(ValueError):
        p.run(1, prefetch=2, bar=False)
    assert len(log) < 10


@pytest.mark.timeout(30)
@pytest.mark.parametrize("prefetch", [0, 3])
def test_skip_batch_drops_only_that_batch(prefetch):
    """``SkipBatch`` drops that batch only: no duplicate and nothing else lost."""
    got = indices_of(numbers_dataset(10).p.skip_if([0, 5]), 2, prefetch=prefetch)
    assert got == [[2, 3], [6, 7], [8, 9]]


@pytest.mark.parametrize("prefetch", [0, 3])
def test_skip_batch_is_not_a_failure(prefetch):
    """A skipped batch is neither counted as failed nor warned about."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numbers_dataset(10).p.skip_if([4]).run(2, prefetch=prefetch, on_error="skip", bar=False)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("prefetch", [0, 3])
def test_stop_pipeline_ends_run(prefetch):
    """``StopPipeline`` ends the run: the batches before it come out, none after."""
    got = indices_of(numbers_dataset(20).p.stop_if([10]), 2, prefetch=prefetch)
    assert got == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]


@pytest.mark.timeout(30)
def test_prefetch_never_yields_a_batch_twice():
    """Under prefetch with skips, every yielded batch is distinct and all kept ones come out."""
    got = indices_of(numbers_dataset(30).p.skip_if([0, 7, 14]).sleep_if([3, 20], 0.05), 1, prefetch=4)
    flat = [i for b in got for i in b]
    assert len(flat) == len(set(flat))
    assert flat == [i for i in range(30) if i not in (0, 7, 14)]


@pytest.mark.timeout(30)
def test_no_prefetch_thread_left_after_run():
    """No 'batchkit-prefetch' thread is alive after a run."""
    numbers_dataset(10).p.sleep(0.001).run(2, prefetch=3, bar=False)
    assert prefetch_threads() == []


@pytest.mark.timeout(30)
def test_no_prefetch_thread_left_after_error():
    """No 'batchkit-prefetch' thread is alive after a run that failed."""
    with pytest.raises(ValueError):
        numbers_dataset(20).p.slow_fail_if([6], 0.1).run(2, prefetch=3, bar=False)
    assert prefetch_threads() == []


@pytest.mark.timeout(30)
def test_no_prefetch_thread_left_after_closing_generator():
    """Closing a prefetching generator early leaves no 'batchkit-prefetch' thread."""
    gen = numbers_dataset(20).p.sleep(0.01).gen_batch(2, prefetch=3)
    next(gen)
    gen.close()
    assert prefetch_threads() == []


@pytest.mark.timeout(30)
def test_no_prefetch_thread_left_after_on_batch_error():
    """An error raised by ``on_batch`` under prefetch reaches the caller and leaves no prefetch thread."""

    def fail_on_third(batch):
        if batch.iteration == 2:
            raise KeyError("from on_batch")

    with pytest.raises(KeyError):
        numbers_dataset(20).p.sleep(0.005).run(2, prefetch=3, bar=False, on_batch=fail_on_third)
    assert prefetch_threads() == []


def test_negative_prefetch_raises():
    """``prefetch=-1`` raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.run(2, prefetch=-1, bar=False)


# -- failure policy ----------------------------------------------------------------------------


def test_on_error_raise_stops_at_first_failure():
    """``on_error="raise"`` raises the first failed batch's error and runs no later batch."""
    log = []
    with pytest.raises(ValueError):
        numbers_dataset(10).p.fail_if([4]).record(log).run(2, bar=False)
    assert log == [[0, 1], [2, 3]]


def test_raised_error_names_batch_index_values():
    """The raised error carries a note with the failed batch's index values."""
    with pytest.raises(ValueError) as info:
        numbers_dataset(10, start=100).p.fail_if([104]).run(2, bar=False)
    assert any("[104, 105]" in note for note in info.value.__notes__)


def test_on_error_unknown_raises():
    """An unknown ``on_error`` raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.run(2, on_error="ignore", bar=False)


def test_skip_carries_on_after_failures():
    """``on_error="skip"`` runs every other batch."""
    seen = []
    with pytest.warns(RuntimeWarning):
        numbers_dataset(10).p.fail_if([2, 7]).run(
            2, on_error="skip", bar=False, on_batch=lambda b: seen.append(b.indices.tolist())
        )
    assert seen == [[0, 1], [4, 5], [8, 9]]


def test_skip_warns_with_failure_count():
    """``on_error="skip"`` warns at the end with the number of failed batches."""
    with pytest.warns(RuntimeWarning, match=r"2 batch\(es\) failed"):
        numbers_dataset(10).p.fail_if([2, 7]).run(2, on_error="skip", bar=False)


def test_skip_logs_each_failure_with_index_values(caplog):
    """``on_error="skip"`` logs an error on logger 'batchkit' per failed batch, with its index values."""
    caplog.set_level(logging.ERROR, logger="batchkit")
    with pytest.warns(RuntimeWarning):
        numbers_dataset(10, start=100).p.fail_if([102, 107]).run(2, on_error="skip", bar=False)
    errors = [r for r in caplog.records if r.name == "batchkit" and r.levelno == logging.ERROR]
    assert len(errors) == 2
    assert "[102, 103]" in errors[0].getMessage()
    assert "[106, 107]" in errors[1].getMessage()


def test_skip_logs_the_error_itself(caplog):
    """Each logged failure names the error and carries its traceback."""
    caplog.set_level(logging.ERROR, logger="batchkit")
    with pytest.warns(RuntimeWarning):
        numbers_dataset(10).p.fail_if([2]).run(2, on_error="skip", bar=False)
    (record,) = [r for r in caplog.records if r.name == "batchkit" and r.levelno == logging.ERROR]
    assert "ValueError" in record.getMessage()
    assert record.exc_info is not None


def test_skip_raises_when_every_batch_failed():
    """``on_error="skip"`` raises PipelineError when every batch failed."""
    with pytest.raises(PipelineError, match="every batch failed"):
        numbers_dataset(6).p.fail_if(list(range(6))).run(2, on_error="skip", bar=False)


@pytest.mark.timeout(30)
def test_skip_under_prefetch_counts_failures():
    """Under prefetch, ``on_error="skip"`` still skips each failed batch and counts them."""
    seen = []
    with pytest.warns(RuntimeWarning, match=r"3 batch\(es\) failed"):
        numbers_dataset(20).p.fail_if([0, 9, 19]).run(
            2, prefetch=3, on_error="skip", bar=False, on_batch=lambda b: seen.append(b.indices[0])
        )
    assert seen == [2, 4, 6, 10, 12, 14, 16]


# -- on_batch ----------------------------------------------------------------------------------


def test_on_batch_called_once_per_batch_in_order():
    """``on_batch`` is called once per batch, in order."""
    seen = []
    numbers_dataset(10).p.run(3, bar=False, on_batch=lambda b: seen.append(b.iteration))
    assert seen == [1, 2, 3, 4]


@pytest.mark.timeout(30)
def test_on_batch_in_order_under_prefetch_in_calling_thread():
    """Under prefetch, ``on_batch`` is still called in order, in the calling thread."""
    seen = []
    numbers_dataset(12).p.sleep_if([0], 0.1).run(
        2,
        prefetch=3,
        bar=False,
        on_batch=lambda b: seen.append((b.iteration, threading.current_thread() is threading.main_thread())),
    )
    assert seen == [(i, True) for i in range(1, 7)]


def test_on_batch_gets_processed_batch():
    """``on_batch`` receives the batch after the actions ran."""
    seen = []
    numbers_dataset(4).p.add_one().run(2, bar=False, on_batch=lambda b: seen.append(b.x.tolist()))
    assert seen == [[1, 11], [21, 31]]


def test_on_batch_not_callable_raises():
    """A non-callable ``on_batch`` raises TypeError."""
    with pytest.raises(TypeError):
        numbers_dataset().p.run(2, bar=False, on_batch=3)


# -- log_file ----------------------------------------------------------------------------------


def test_log_file_gets_progress_lines(tmp_path):
    """``log_file`` receives a line per finished batch."""
    log = tmp_path / "run.log"
    numbers_dataset(6).p.run(2, bar=False, log_file=log)
    text = log.read_text()
    assert all(f"batch {i} done" in text for i in range(1, 4))


def test_log_file_gets_error_lines(tmp_path):
    """``log_file`` receives each skipped batch's error with its index values."""
    log = tmp_path / "run.log"
    with pytest.warns(RuntimeWarning):
        numbers_dataset(6, start=10).p.fail_if([12]).run(2, bar=False, on_error="skip", log_file=log)
    text = log.read_text()
    assert "batch 2 failed" in text
    assert "[12, 13]" in text
    assert "ValueError" in text


def test_log_file_gets_the_error_that_stopped_the_run(tmp_path):
    """With on_error='raise', the error that stopped the run is written to ``log_file`` too."""
    log = tmp_path / "run.log"
    with pytest.raises(ValueError):
        numbers_dataset(6).p.fail_if([2]).run(2, bar=False, log_file=log)
    assert "bad values [2]" in log.read_text()


def test_log_file_handler_removed_after_run(tmp_path):
    """After the run, nothing more is written to the log file."""
    log = tmp_path / "run.log"
    numbers_dataset(4).p.run(2, bar=False, log_file=log)
    size = log.stat().st_size
    logging.getLogger("batchkit").error("after the run")
    assert log.stat().st_size == size


def test_log_file_does_not_change_console_output(tmp_path):
    """A run with ``log_file`` sends no INFO record to the application's own handlers."""
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    try:
        numbers_dataset(4).p.run(2, bar=False, log_file=tmp_path / "run.log")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    assert "done" in (tmp_path / "run.log").read_text()
    assert stream.getvalue() == ""


# -- progress bar ------------------------------------------------------------------------------


def test_bar_false_shows_nothing(capsys):
    """``bar=False`` writes nothing to stdout or stderr."""
    numbers_dataset(6).p.add_one().run(2, bar=False)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_bar_true_writes_tqdm_bar_to_stderr(capsys):
    """``bar=True`` writes a tqdm bar counting the batches to stderr."""
    numbers_dataset(6).p.add_one().run(2, bar=True)
    err = capsys.readouterr().err
    assert "3/3" in err


def test_bar_shows_items_per_second(capsys):
    """The bar reports a rate in items per second."""
    numbers_dataset(6).p.add_one().run(2, bar=True)
    assert "item" in capsys.readouterr().err


@pytest.mark.parametrize("size", [2, 7])
def test_bar_reaches_its_total_with_rebatch(capsys, size):
    """With ``rebatch``, the bar's final count equals its total."""
    numbers_dataset(10).p.rebatch(size).run(4, bar=True)
    final = capsys.readouterr().err.replace("\r", "\n").strip().splitlines()[-1]
    counts = re.search(r"(\d+)/(\d+)", final)
    assert counts is not None and counts.group(1) == counts.group(2)


def test_bar_auto_is_off_when_not_a_terminal(capsys):
    """``bar="auto"`` shows nothing when stderr is not a terminal."""
    numbers_dataset(6).p.add_one().run(2)
    assert capsys.readouterr().err == ""


# -- bounded memory ----------------------------------------------------------------------------


@pytest.mark.timeout(30)
@pytest.mark.parametrize("prefetch", [0, 2])
def test_run_keeps_no_batch(prefetch):
    """After a run every batch it made can be collected."""
    refs = []
    p = numbers_dataset(20).p.call(lambda b: refs.append(weakref.ref(b)), B()).add_one()
    p.run(2, prefetch=prefetch, bar=False, on_batch=lambda b: None)
    gc.collect()
    assert len(refs) == 10
    assert all(ref() is None for ref in refs)


def test_previous_batch_freed_while_next_is_processed():
    """Without prefetch, while a batch is processed no earlier batch is alive."""
    alive, counts = weakref.WeakSet(), []
    p = numbers_dataset(10).p.call(alive.add, B()).call(lambda b: counts.append(len(alive)), B())
    p.run(2, bar=False, on_batch=lambda b: None)
    assert counts == [1] * 5


@pytest.mark.timeout(30)
@pytest.mark.parametrize("prefetch", [1, 3])
def test_prefetch_bounds_batches_alive(prefetch):
    """Under prefetch, the batches alive at once never exceed prefetch + 2."""
    alive, peak = weakref.WeakSet(), []
    p = numbers_dataset(40).p.call(alive.add, B()).sleep_if([0], 0.05)
    p.run(2, prefetch=prefetch, bar=False, on_batch=lambda b: peak.append(len(alive)))
    assert max(peak) <= prefetch + 2


@pytest.mark.timeout(60)
def test_memory_flat_over_many_batches():
    """Traced memory after 2,000 small batches is not much above after 200."""
    p = numbers_dataset(100).p.add_one().init_variable("s", 0).update(V("s"), B("x")[0])
    tracemalloc.start()
    try:
        p.run(1, n_iters=200, bar=False, on_batch=lambda b: None)
        gc.collect()
        after_200 = tracemalloc.get_traced_memory()[0]
        p.run(1, n_iters=2000, bar=False, on_batch=lambda b: None)
        gc.collect()
        after_2000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_2000 < after_200 + 200_000


def test_raised_batch_error_is_not_also_logged(caplog, tmp_path):
    """A batch error raised to the caller goes to log_file, but not to the logging handlers too."""
    log_file = tmp_path / "run.log"
    with caplog.at_level(logging.DEBUG, logger="batchkit"), pytest.raises(ValueError):
        numbers_dataset(6).p.fail_if([3]).run(2, bar=False, log_file=str(log_file))
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert "bad values [3]" in log_file.read_text()


def _slowly_plus_one(n):
    time.sleep(0.001)  # widens the window between reading the variable and writing it back
    return n + 1


@pytest.mark.timeout(30)
def test_read_modify_write_update_under_prefetch_loses_nothing():
    """update(V("n"), f(V("n"))) from 200 prefetched batches counts every one of them."""
    p = numbers_dataset(20).p.init_variable("n", 0).update(V("n"), F(_slowly_plus_one)(V("n")))
    p.run(1, n_epochs=10, prefetch=8, bar=False)
    assert p.v("n") == 200
