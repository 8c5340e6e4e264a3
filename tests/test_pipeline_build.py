"""Building pipelines: laziness, immutability, checks at definition time, operators, hooks."""

import pytest
from pipeline_helpers import Numbers, Other, numbers_dataset

from batchkit import B, C, Dataset, Pipeline, V

# -- laziness and immutability ------------------------------------------------------------------


def test_adding_an_action_runs_nothing():
    """Recording an action does not call it: nothing happens until the pipeline runs."""
    log = []
    numbers_dataset().p.record(log)
    assert log == []


def test_each_chained_call_returns_a_new_pipeline():
    """Every chained call returns a new pipeline object."""
    p = numbers_dataset().p
    q = p.add_one()
    r = q.multiply(2)
    assert len({id(p), id(q), id(r)}) == 3


def test_original_pipeline_keeps_its_actions():
    """Chaining leaves the original pipeline's actions as they were."""
    p = numbers_dataset().p.add_one()
    p.multiply(2)
    p.multiply(3).add_one()
    assert [a.name for a in p.actions] == ["add_one"]


def test_branches_from_one_pipeline_are_independent():
    """Two pipelines chained from the same one each keep only their own extra action."""
    base = numbers_dataset().p.add_one()
    left, right = base.multiply(2), base.multiply(3)
    assert [a.args for a in left.actions] == [(), (2,)]
    assert [a.args for a in right.actions] == [(), (3,)]


def test_num_actions_counts_recorded_actions():
    """``num_actions`` is the number of recorded steps."""
    assert numbers_dataset().p.num_actions == 0
    assert numbers_dataset().p.add_one().multiply(2).num_actions == 2


# -- checks at definition time -----------------------------------------------------------------


def test_unknown_action_raises_attribute_error_at_access():
    """An action name the batch class lacks raises AttributeError at attribute access."""
    p = numbers_dataset().p
    with pytest.raises(AttributeError):
        _ = p.add_onee  # the access itself must raise


def test_unknown_action_suggests_close_names():
    """The AttributeError for an unknown action suggests the close action names."""
    with pytest.raises(AttributeError, match=r"did you mean 'add_one'"):
        numbers_dataset().p.add_onee()


def test_unknown_action_names_the_batch_class():
    """The AttributeError names the batch class that lacks the action."""
    with pytest.raises(AttributeError, match=r"Numbers has no action 'nope'"):
        _ = numbers_dataset().p.nope


def test_method_not_marked_action_says_to_decorate_it():
    """A batch method without @action raises AttributeError telling to decorate it with @action."""
    with pytest.raises(AttributeError, match=r"not_an_action is a method but not an action.*@action"):
        numbers_dataset().p.not_an_action()


def test_action_of_another_batch_class_is_rejected():
    """An action that only another Batch subclass has is rejected for this dataset's class."""
    with pytest.raises(AttributeError, match="only_in_other"):
        numbers_dataset().p.only_in_other()


def test_unexpected_kwargs_raise_type_error_listing_them():
    """A keyword the action does not accept raises TypeError in the documented form."""
    with pytest.raises(TypeError) as info:
        numbers_dataset().p.resize(sizee=(64, 64))
    assert str(info.value) == "unexpected keyword arguments for Numbers.resize(): ['sizee']"


def test_several_unexpected_kwargs_are_listed_sorted():
    """All unexpected keywords are listed, sorted."""
    with pytest.raises(TypeError, match=r"Numbers\.resize\(\): \['b', 'z'\]"):
        numbers_dataset().p.resize(z=1, size=2, b=3)


def test_accepted_kwargs_are_recorded():
    """Keywords the action accepts are recorded as given."""
    p = numbers_dataset().p.resize(size=(64, 64), mode="x")
    assert p.actions[0].kwargs == {"size": (64, 64), "mode": "x"}


def test_reserved_kwargs_accepted_for_inbatch_parallel_actions():
    """``target=`` and ``n_workers=`` are accepted for an @inbatch_parallel action."""
    p = numbers_dataset().p.per_item(5, target="for", n_workers=2)
    assert p.actions[0].kwargs == {"target": "for", "n_workers": 2}


def test_reserved_kwargs_reach_the_inbatch_parallel_action_when_run():
    """An @inbatch_parallel action given ``target=``/``n_workers=`` runs with them in a pipeline."""
    batch = numbers_dataset(4).p.per_item(5, target="for", n_workers=1).next_batch(4)
    assert [(int(ix), int(v)) for ix, v in batch.gathered] == [(0, 5), (1, 5), (2, 5), (3, 5)]


def test_reserved_kwargs_rejected_for_plain_actions():
    """``target=`` is not a keyword of a plain (not parallel) action: it is rejected."""
    with pytest.raises(TypeError, match=r"\['target'\]"):
        numbers_dataset().p.add_one(target="for")


def test_batch_class_argument_checks_without_a_dataset():
    """``Pipeline(batch_class=...)`` checks actions against that class at once."""
    with pytest.raises(TypeError, match=r"Numbers\.resize\(\): \['sizee'\]"):
        Pipeline(batch_class=Numbers).resize(sizee=1)


def test_pipeline_without_dataset_accepts_action_of_any_batch_class():
    """Without a dataset, an action name some Batch subclass has is accepted."""
    p = Pipeline().only_in_other()
    assert [a.name for a in p.actions] == ["only_in_other"]


def test_pipeline_without_dataset_rejects_unknown_name():
    """Without a dataset, a name no Batch subclass has as an action raises AttributeError."""
    with pytest.raises(AttributeError, match="any Batch class"):
        _ = Pipeline().no_such_action_anywhere


def test_kwargs_checked_when_dataset_comes_later():
    """``Pipeline().act(bad=...) << dataset`` raises TypeError against the dataset's batch class."""
    p = Pipeline().resize(sizee=3)
    with pytest.raises(TypeError, match=r"unexpected keyword arguments for Numbers\.resize\(\): \['sizee'\]"):
        p << numbers_dataset()


def test_action_names_checked_when_dataset_comes_later():
    """An action the dataset's batch class lacks is rejected when the dataset is added."""
    p = Pipeline().only_in_other()
    with pytest.raises(AttributeError, match="only_in_other"):
        p << numbers_dataset()


def test_nested_pipeline_checked_when_dataset_comes_later():
    """Actions inside a repeated sub-pipeline are checked when the dataset is added."""
    p = Pipeline().resize(sizee=1) * 2
    with pytest.raises(TypeError, match="sizee"):
        p << numbers_dataset()


def test_dataset_rshift_checks_actions():
    """``dataset >> pipeline`` checks the pipeline's actions too."""
    with pytest.raises(TypeError, match="sizee"):
        numbers_dataset() >> Pipeline().resize(sizee=1)


def test_concatenation_checks_actions_against_batch_class():
    """``p1 + p2`` checks p2's actions against p1's batch class (not at run time)."""
    with pytest.raises(AttributeError, match="only_in_other"):
        numbers_dataset().p.add_one() + Pipeline().only_in_other()


def test_concatenation_checks_kwargs_against_batch_class():
    """``p1 + p2`` checks p2's keyword arguments against p1's batch class."""
    with pytest.raises(TypeError, match="sizee"):
        numbers_dataset().p + Pipeline().resize(sizee=1)


def test_call_with_unknown_method_name_raises():
    """``call("name")`` with a name the batch class lacks raises AttributeError with suggestions."""
    with pytest.raises(AttributeError, match=r"did you mean 'add_one'"):
        numbers_dataset().p.call("add_onee")


def test_call_with_non_callable_raises():
    """``call`` with something neither callable nor a str raises TypeError."""
    with pytest.raises(TypeError):
        numbers_dataset().p.call(3)


def test_rebatch_with_bad_size_raises():
    """``rebatch`` with a non-positive size raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.rebatch(0)


def test_join_needs_pipelines():
    """``join`` with something that is not a pipeline raises TypeError."""
    with pytest.raises(TypeError):
        numbers_dataset().p.join(numbers_dataset())


# -- p1 + p2 -----------------------------------------------------------------------------------


def test_concatenation_joins_actions_in_order():
    """``p1 + p2`` has p1's actions, then p2's."""
    p = numbers_dataset().p.add_one() + Pipeline().multiply(3).add_one()
    assert [a.name for a in p.actions] == ["add_one", "multiply", "add_one"]


def test_concatenation_runs_both_parts():
    """The concatenated pipeline runs p1's actions then p2's on every batch."""
    p = numbers_dataset(4).p.add_one() + Pipeline().multiply(3)
    assert p.next_batch(4).x.tolist() == [3, 33, 63, 93]


def test_concatenation_merges_config_second_wins():
    """``p1 + p2`` merges the configs; p2 wins on a shared key."""
    ds = numbers_dataset()
    p = ds.pipeline({"a": 1, "b": 1}) + Pipeline(config={"b": 2, "c": 3})
    assert p.config == {"a": 1, "b": 2, "c": 3}


def test_concatenation_takes_dataset_from_first():
    """The dataset of ``p1 + p2`` is p1's when p1 has one."""
    first, second = numbers_dataset(), numbers_dataset(5)
    assert (first.p + second.p).dataset is first


def test_concatenation_takes_dataset_from_second_when_first_has_none():
    """The dataset of ``p1 + p2`` is p2's when p1 has none."""
    second = numbers_dataset(5)
    assert (Pipeline().add_one() + second.p).dataset is second


def test_concatenation_merges_variables():
    """``p1 + p2`` declares the variables of both, at their defaults."""
    p = numbers_dataset().p.init_variable("a", 1) + Pipeline().init_variable("b", [])
    assert (p.v("a"), p.v("b")) == (1, [])


def test_concatenation_leaves_operands_unchanged():
    """``p1 + p2`` changes neither operand."""
    p1, p2 = numbers_dataset().p.add_one(), Pipeline().multiply(2)
    _ = p1 + p2
    assert [a.name for a in p1.actions] == ["add_one"]
    assert [a.name for a in p2.actions] == ["multiply"]


def test_adding_a_non_pipeline_raises_type_error():
    """``pipeline + 3`` raises TypeError."""
    with pytest.raises(TypeError):
        numbers_dataset().p + 3


# -- << and >> ---------------------------------------------------------------------------------


def test_lshift_dataset_returns_new_pipeline_with_dataset():
    """``p << dataset`` returns a new pipeline bound to the dataset; p keeps none."""
    ds = numbers_dataset()
    p = Pipeline().add_one()
    q = p << ds
    assert q.dataset is ds
    assert p.dataset is None


def test_lshift_dataset_keeps_actions():
    """``p << dataset`` keeps the pipeline's actions."""
    q = Pipeline().add_one().multiply(2) << numbers_dataset()
    assert [a.name for a in q.actions] == ["add_one", "multiply"]


def test_lshift_dict_updates_config():
    """``p << dict`` returns a copy whose config is updated with the dict."""
    p = Pipeline(config={"a": 1})
    q = p << {"b": 2}
    assert q.config == {"a": 1, "b": 2}
    assert p.config == {"a": 1}


def test_lshift_other_raises_type_error():
    """``p << 3`` raises TypeError."""
    with pytest.raises(TypeError, match="dataset or a config"):
        numbers_dataset().p << 3


def test_dataset_rshift_binds_pipeline():
    """``dataset >> pipeline`` is the pipeline bound to the dataset."""
    ds = numbers_dataset(4)
    p = ds >> Pipeline().add_one()
    assert p.dataset is ds
    assert p.next_batch(4).x.tolist() == [1, 11, 21, 31]


def test_dataset_p_is_a_fresh_empty_pipeline():
    """``dataset.p`` is a new empty pipeline over the dataset each time."""
    ds = numbers_dataset()
    assert ds.p is not ds.p
    assert ds.p.dataset is ds
    assert ds.p.num_actions == 0


def test_dataset_pipeline_takes_a_config():
    """``dataset.pipeline(config)`` gives a pipeline whose ``C`` expressions read that config."""
    p = numbers_dataset(4).pipeline({"factor": 5}).multiply(C("factor"))
    assert p.config == {"factor": 5}
    assert p.next_batch(4).x.tolist() == [0, 50, 100, 150]


def test_batch_class_comes_from_dataset():
    """A pipeline's batch class is its dataset's."""
    assert numbers_dataset().p.batch_class is Numbers
    assert Dataset(3, Other).p.batch_class is Other


# -- p * n -------------------------------------------------------------------------------------


def test_repeat_runs_actions_n_times_per_batch():
    """``p * 3`` runs p's actions three times on each batch."""
    ds = numbers_dataset(4)
    p = ds.p + (Pipeline().add_one() * 3)
    assert p.next_batch(4).x.tolist() == [3, 13, 23, 33]


def test_repeat_of_several_actions_repeats_the_sequence():
    """``(add_one, multiply) * 2`` runs add, multiply, add, multiply."""
    p = numbers_dataset(2).p.add_one().multiply(2) * 2
    assert p.next_batch(2).x.tolist() == [(1 * 2 + 1) * 2, (11 * 2 + 1) * 2]


def test_repeat_zero_times_runs_nothing():
    """``p * 0`` leaves batches unchanged."""
    p = numbers_dataset(2).p.add_one() * 0
    assert p.next_batch(2).x.tolist() == [0, 10]


def test_repeat_negative_raises_value_error():
    """``p * -1`` raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.add_one() * -1


def test_repeat_float_raises_value_error():
    """``p * 1.5`` raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.add_one() * 1.5


def test_repeat_leaves_original_unchanged():
    """``p * 3`` leaves p as it was."""
    p = numbers_dataset().p.add_one()
    _ = p * 3
    assert [a.name for a in p.actions] == ["add_one"]


# -- p @ probability ---------------------------------------------------------------------------


def _x_per_batch(pipeline, **kwargs):
    return [b.x.tolist() for b in pipeline.gen_batch(1, **kwargs)]


def test_probability_zero_never_runs():
    """``p @ 0`` never runs p's actions."""
    p = numbers_dataset(10).p.add_one() @ 0
    assert _x_per_batch(p, seed=1) == [[x] for x in range(0, 100, 10)]


def test_probability_one_always_runs():
    """``p @ 1`` runs p's actions on every batch."""
    p = numbers_dataset(10).p.add_one() @ 1
    assert _x_per_batch(p, seed=1) == [[x + 1] for x in range(0, 100, 10)]


def test_probability_half_on_single_action_runs_on_some_batches():
    """``p @ 0.5`` on a one-action pipeline runs it on some batches, not all (no error)."""
    p = numbers_dataset(40).p.add_one() @ 0.5
    ran = [x[0] % 10 == 1 for x in _x_per_batch(p, seed=3)]
    assert any(ran) and not all(ran)


def test_probability_is_reproducible_with_a_seed():
    """``p @ 0.5`` picks the same batches in two runs with the same seed."""
    p = numbers_dataset(40).p.add_one() @ 0.5
    assert _x_per_batch(p, seed=7) == _x_per_batch(p, seed=7)


def test_probability_same_with_prefetch():
    """``p @ 0.5`` picks the same batches with and without prefetch for one seed."""
    p = numbers_dataset(40).p.add_one() @ 0.5
    assert _x_per_batch(p, seed=2, prefetch=3) == _x_per_batch(p, seed=2)


def test_probability_inside_longer_pipeline():
    """``main + (sub @ 0.5)`` runs main's actions on every batch and sub's on some."""
    p = numbers_dataset(40).p.multiply(10) + (Pipeline().add_one() @ 0.5)
    ran = [x[0] % 10 == 1 for x in _x_per_batch(p, seed=5)]
    assert any(ran) and not all(ran)


def test_probability_out_of_range_raises():
    """``p @ 1.5`` raises ValueError."""
    with pytest.raises(ValueError):
        numbers_dataset().p.add_one() @ 1.5


def test_probability_may_be_a_named_expression():
    """``p @ C("prob")`` reads the probability from the config, per batch."""
    p = numbers_dataset(10).p + (Pipeline().add_one() @ C("prob"))
    assert _x_per_batch(p << {"prob": 1}, seed=1) == [[x + 1] for x in range(0, 100, 10)]
    assert _x_per_batch(p << {"prob": 0}, seed=1) == [[x] for x in range(0, 100, 10)]


# -- hooks -------------------------------------------------------------------------------------


def test_before_and_after_run_once_per_run():
    """``before.call`` and ``after.call`` run once per run, before and after the batches."""
    events = []
    p = numbers_dataset(10).p.call(lambda batch: events.append("batch"), B())
    p.before.call(events.append, "before")
    p.after.call(events.append, "after")
    p.run(2, bar=False)
    assert events == ["before"] + ["batch"] * 5 + ["after"]


def test_hook_steps_chain_as_hooks_and_change_their_pipeline_as_in_batchflow():
    """batchflow's once-pipelines: ``p.before.init_variable(..).update(..)`` as a statement adds hooks."""
    p = numbers_dataset(8).p.init_variable("n", 0).update(V("n"), V("n") + 1)
    p.before.init_variable("before", 0).update(V("before"), 7)
    p.after.init_variable("after", 0).update(V("after"), 9)
    p.run(4, bar=False)
    assert (p.v("before"), p.v("after"), p.v("n")) == (7, 9, 2)


def test_a_batch_action_or_main_after_a_hook_goes_on_with_the_pipeline():
    """Past the hook steps, the chain is the main pipeline's again (``main`` names it)."""
    events = []
    hooks = numbers_dataset(4).p.before.call(events.append, "start")
    assert hooks.main is hooks.pipeline
    p = hooks.add_one()
    assert [b.x.tolist() for b in p.gen_batch(2)] == [[1, 11], [21, 31]]
    assert events == ["start"]


def test_hooks_run_again_on_each_run():
    """Each run calls the hooks again."""
    events = []
    p = numbers_dataset(4).p.before.call(events.append, "b").after.call(events.append, "a")
    p.run(2, bar=False)
    p.run(2, bar=False)
    assert events == ["b", "a", "b", "a"]


def test_after_hook_runs_when_run_fails():
    """The after hook runs also when a batch fails and the run raises."""
    events = []
    p = numbers_dataset(10).p.fail_if([4]).after.call(events.append, "after")
    with pytest.raises(ValueError):
        p.run(2, bar=False)
    assert events == ["after"]


def test_hooks_evaluate_named_expressions():
    """A hook's arguments are evaluated: ``after.call(fn, V("n"))`` gets the variable's final value."""
    seen = []
    p = numbers_dataset(10).p.init_variable("n", 0).update(V("n"), V("n") + 1).after.call(seen.append, V("n"))
    p.run(2, bar=False)
    assert seen == [5]


def test_hook_needs_a_callable():
    """``before.call`` with a non-callable raises TypeError."""
    with pytest.raises(TypeError):
        numbers_dataset().p.before.call("not callable")


def test_hooks_chain_returns_main_pipeline():
    """``before.call(...)`` returns a pipeline that keeps chaining batch actions."""
    p = numbers_dataset().p.before.call(print).add_one()
    assert isinstance(p, Pipeline)
    assert [a.name for a in p.actions] == ["add_one"]


# -- repr --------------------------------------------------------------------------------------


def test_repr_lists_actions_in_order():
    """The repr names the actions in order."""
    assert repr(numbers_dataset().p.add_one().multiply(2)) == "<Pipeline: add_one(...), multiply(...)>"


def test_repr_of_empty_pipeline():
    """An empty pipeline's repr says it has no actions."""
    assert repr(Pipeline()) == "<Pipeline: no actions>"


def test_repr_shows_repeat_and_probability():
    """The repr of a repeated or probabilistic sub-pipeline shows ``x3`` or ``@0.5``."""
    p = numbers_dataset().p.add_one()
    assert "x3" in repr(p * 3)
    assert "@0.5" in repr(p @ 0.5)


def test_builtins_are_available_on_any_pipeline():
    """update/save_to/call/rebatch/merge/join/write_to are recorded as built-in steps (save_to is update)."""
    other = numbers_dataset().p
    p = (
        numbers_dataset()
        .p.init_variable("v")
        .update(V("v"), B("x"))
        .save_to(V("v"), 1)
        .call(len)
        .rebatch(2)
        .merge(other)
        .join(other)
        .write_to("unused-path")
    )
    assert [a.kind for a in p.actions] == ["builtin"] * 7
    assert [a.name for a in p.actions] == ["update", "update", "call", "rebatch", "merge", "join", "write_to"]
