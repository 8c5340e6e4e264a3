"""``pipeline.last_run`` (a RunReport), the run context on batches, and keyword-only run arguments."""

import dataclasses
import pickle
import time
import warnings

import numpy as np
import pytest
from pipeline_helpers import Numbers, numbers_dataset

from batchkit import Batch, Dataset, DatasetIndex, RunContext, RunReport, action

pytestmark = pytest.mark.timeout(60)


# -- RunReport ---------------------------------------------------------------------------------


def test_last_run_is_none_before_a_run_and_a_report_after():
    """A pipeline has no report until it ran; then ``last_run`` is a RunReport."""
    pipeline = numbers_dataset(10).p.add_one()
    assert pipeline.last_run is None
    pipeline.run(4, bar=False)
    assert isinstance(pipeline.last_run, RunReport)


def test_report_counts_batches_items_and_actions():
    """Batches and items done, and per action its calls, items and time."""
    pipeline = numbers_dataset(10).p.add_one().sleep(0.01)
    report = pipeline.run(4, bar=False).last_run
    assert (report.batches_done, report.items_done, report.batches_skipped, report.batches_resumed) == (
        3,
        10,
        0,
        0,
    )
    assert report.completed and report.on_error == "raise" and report.journal is None
    assert set(report.actions) == {"add_one", "sleep"}
    sleep = report.actions["sleep"]
    assert (sleep.calls, sleep.items) == (3, 10)
    assert 0.03 <= sleep.seconds < report.wall_seconds + 0.01
    assert sleep.items_per_second == pytest.approx(10 / sleep.seconds)
    assert report.items_per_second == pytest.approx(10 / report.wall_seconds)


def test_report_counts_filtered_and_skipped_batches():
    """SkipBatch drops are counted apart from failures."""
    pipeline = numbers_dataset(10).p.skip_if([0]).fail_if([5])
    with pytest.warns(RuntimeWarning):
        report = pipeline.run(2, bar=False, on_error="skip").last_run
    assert (report.batches_done, report.batches_filtered, report.batches_skipped) == (3, 1, 1)
    assert report.skipped[0].iteration == 3 and report.skipped[0].indices == [4, 5]


def test_a_run_that_raised_has_a_report_that_did_not_complete():
    """A run stopped by an error still leaves its report, marked as not completed."""
    pipeline = numbers_dataset(10).p.fail_if([5])
    with pytest.raises(ValueError):
        pipeline.run(2, bar=False)
    report = pipeline.last_run
    assert not report.completed and report.batches_done == 2


def test_a_generator_closed_early_has_a_report():
    """Breaking out of gen_batch leaves a report of what ran."""
    pipeline = numbers_dataset(10).p.add_one()
    for batch in pipeline.gen_batch(2):
        if batch.iteration == 2:
            break
    report = pipeline.last_run
    assert report.batches_done == 2 and not report.completed


def test_report_str_is_a_short_table():
    """``str(report)`` gives a summary line, a header and one row per action."""
    pipeline = numbers_dataset(10).p.add_one().multiply(3)
    text = str(pipeline.run(5, bar=False).last_run)
    lines = text.splitlines()
    assert lines[0].startswith(f"run {pipeline.last_run.run_id[:8]}: 2 batches done (10 items), 0 skipped")
    assert lines[1].split() == ["action", "calls", "items", "seconds", "items/s"]
    assert [line.split()[:3] for line in lines[2:]] == [["add_one", "2", "10"], ["multiply", "2", "10"]]


def test_report_is_frozen():
    """A report cannot be changed."""
    report = numbers_dataset(4).p.run(2, bar=False).last_run
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.batches_done = 0
    with pytest.raises(TypeError):
        report.actions["x"] = None


def test_prefetched_actions_are_all_timed():
    """Under prefetch every batch's action time is counted."""
    report = numbers_dataset(12).p.sleep(0.02).run(2, bar=False, prefetch=3).last_run
    assert report.actions["sleep"].calls == 6
    assert report.actions["sleep"].seconds >= 0.12 - 0.01


def test_write_to_is_timed(tmp_path):
    """A write_to step has its row too."""
    report = numbers_dataset(10).p.write_to(tmp_path / "out").run(5, bar=False).last_run
    assert report.actions["write_to"].calls == 2 and report.actions["write_to"].items == 10


# -- the run context ---------------------------------------------------------------------------


def test_a_component_named_after_the_run_context_is_refused():
    """``random``, ``iteration`` and the other run context names cannot be components."""
    for name in ("random", "iteration", "n_iterations", "random_seed", "pipeline", "run_context"):
        with pytest.raises(ValueError, match=f"component name '{name}' of Bad is taken by the run context"):
            type("Bad", (Batch,), {"components": ("x", name)})


def test_add_components_refuses_run_context_names():
    """Components added to one batch are checked the same way."""
    batch = Numbers.from_data(data={"x": np.arange(3)})
    with pytest.raises(ValueError, match="taken by the run context"):
        batch.add_components("random")


def test_the_run_context_is_readable_on_each_batch():
    """In a run, each batch carries one RunContext: pipeline, iteration, totals, seed, generator."""
    pipeline = numbers_dataset(10).p.add_one()
    batches = list(pipeline.gen_batch(4, seed=3))
    contexts = [batch.run_context for batch in batches]
    assert all(isinstance(context, RunContext) for context in contexts)
    assert [c.iteration for c in contexts] == [1, 2, 3] == [b.iteration for b in batches]
    assert {c.n_iterations for c in contexts} == {3}
    assert all(b.pipeline is pipeline and b.random is b.run_context.random for b in batches)
    assert isinstance(batches[0].random_seed, np.random.SeedSequence)


def test_the_run_context_is_read_only():
    """Neither the batch's context attributes nor the record itself can be assigned to."""
    batch = next(numbers_dataset(4).p.gen_batch(2))
    with pytest.raises(AttributeError, match="read-only"):
        batch.random = None
    with pytest.raises(AttributeError, match="read-only"):
        batch.iteration = 7
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.run_context.iteration = 7


def test_an_action_cannot_overwrite_the_context_by_accident():
    """An action writing ``self.random = ...`` gets a clear error, not a silently changed generator."""

    class Careless(Batch):
        components = ("x",)

        @action
        def reseed(self):
            self.random = np.random.default_rng(0)

    with pytest.raises(AttributeError, match=r"Careless\.random is part of the batch's run context"):
        Dataset(4, Careless, preloaded={"x": np.arange(4)}).p.reseed().run(2, bar=False)


def test_the_constructor_still_takes_the_pipeline_and_context_values():
    """``Batch(index, pipeline=p, iteration=3)`` sets them in the batch's context."""
    pipeline = numbers_dataset(4).p
    batch = Numbers(np.arange(3), pipeline=pipeline, iteration=3, n_iterations=9)
    assert (batch.pipeline, batch.iteration, batch.n_iterations, batch.random) == (pipeline, 3, 9, None)
    bare = Numbers(np.arange(3))
    assert bare.run_context == RunContext() and bare.pipeline is None


def test_pickling_drops_the_pipeline_but_keeps_the_rest_of_the_context():
    """A pickled batch leaves its pipeline behind; its iteration and generator cross."""
    batch = next(numbers_dataset(4).p.gen_batch(2, seed=1))
    copy = pickle.loads(pickle.dumps(batch))
    assert copy.pipeline is None and copy.iteration == 1
    assert copy.random.random() == batch.random.random()


def test_merge_and_rebatch_carry_a_context():
    """A merged batch has the first batch's context; a rebatched one a context of its own."""
    left, right = numbers_dataset(4), numbers_dataset(4, start=100)
    merged = left.p.merge(right.p).next_batch(2)
    assert merged.iteration == 1 and merged.pipeline is not None
    rebatched = [b.iteration for b in left.p.rebatch(3).gen_batch(2)]
    assert rebatched == [1, 2]


# -- keyword-only run arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: numbers_dataset(8).p.run(4, 2, bar=False),
        lambda: numbers_dataset(8).p.gen_batch(4, 2),
        lambda: numbers_dataset(8).p.next_batch(4, 2),
        lambda: numbers_dataset(8).p.run_later(4, 2),
        lambda: numbers_dataset(8).gen_batch(4, 2),
        lambda: numbers_dataset(8).next_batch(4, 2),
        lambda: DatasetIndex(8).gen_batch(4, 2),
        lambda: DatasetIndex(8).next_batch(4, 2),
    ],
    ids=[
        "run",
        "gen_batch",
        "next_batch",
        "run_later",
        "dataset.gen_batch",
        "dataset.next_batch",
        "index.gen_batch",
        "index.next_batch",
    ],
)
def test_run_arguments_after_batch_size_are_keyword_only(call):
    """A second positional argument is a TypeError that says to pass it by name."""
    with pytest.raises(
        TypeError, match=r"every argument after batch_size is keyword-only; pass it by name, e\.g\."
    ):
        result = call()
        next(iter(result)) if hasattr(result, "__next__") else None


def test_the_same_keywords_mean_the_same_everywhere():
    """By name, a dataset, its index and a pipeline over it cut the same batches.

    With an int shuffle a pipeline draws its order from the seed's first child, as batchflow's
    pipelines do (see the next test); the sizes and epochs are the same.
    """
    dataset = numbers_dataset(10)
    options = dict(n_epochs=2, shuffle=4, drop_last=True)
    expected = [b.indices.tolist() for b in dataset.index.gen_batch(4, **options)]
    assert [b.indices.tolist() for b in dataset.gen_batch(4, **options)] == expected
    in_order = dict(options, shuffle=False)
    assert [b.indices.tolist() for b in dataset.p.gen_batch(4, **in_order)] == [
        b.indices.tolist() for b in dataset.index.gen_batch(4, **in_order)
    ]
    piped = [b.indices.tolist() for b in dataset.p.gen_batch(4, **options)]
    assert [len(b) for b in piped] == [len(b) for b in expected]
    assert sorted(piped[0] + piped[1]) != piped[0] + piped[1]  # shuffled


def test_a_seeded_pipeline_runs_its_first_epoch_in_batchflows_order():
    """batchflow 0.10.1: Dataset(10), run(3, shuffle=3) gives 4 6 7 9 0 2 5 8 1 3 (its index 3 9 2 ...)."""
    from batchkit import Dataset

    def order(n, **options):
        return [v for b in Dataset(n).p.gen_batch(3, **options) for v in b.indices.tolist()]

    assert order(10, n_epochs=1, shuffle=3) == [4, 6, 7, 9, 0, 2, 5, 8, 1, 3]
    assert order(6, n_epochs=2, shuffle=3)[:6] == [2, 0, 5, 4, 1, 3]
    assert order(6, n_epochs=1, shuffle=3) == order(6, n_epochs=1, shuffle=3)  # the same every run


def test_iteration_plan_is_keyword_only_after_batch_size():
    """IterationPlan takes its options by name too."""
    from batchkit.index import IterationPlan as Plan

    with pytest.raises(TypeError):
        Plan(4, 2, True)
    assert [p.tolist() for p in Plan(4, 2, n_iters=1)] == [[0, 1]]


# -- the check_names hook ----------------------------------------------------------------------


def test_an_action_check_names_is_called_when_the_pipeline_is_built():
    """An action (under @action) with ``check_names`` is checked against the batch class at build time."""
    seen = []

    class Checked:
        def __init__(self, fn):
            self.fn = fn
            self.__wrapped__ = fn

        def check_names(self, cls):
            seen.append(cls)
            if cls.__name__ == "Refused":
                raise AttributeError("init='nothing' names nothing on Refused")

        def __call__(self, *args, **kwargs):
            return self.fn(*args, **kwargs)

    class Refused(Batch):
        components = ("x",)

        @action
        @Checked
        def step(self):
            return self

    dataset = Dataset(4, Refused, preloaded={"x": np.arange(4)})
    with pytest.raises(AttributeError, match="names nothing on Refused"):
        dataset.p.step()
    assert seen == [Refused]


def test_timing_does_not_slow_a_tiny_run_much():
    """A run of 200 one-item batches through two steps stays well under a second."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numbers_dataset(200).p.add_one().multiply(2).run(1, bar=False)
    assert time.perf_counter() - started < 1.0


def test_a_report_pickles_and_copies():
    """A report can be kept: pickled, or deep-copied, it compares equal."""
    import copy

    report = numbers_dataset(6).p.add_one().run(2, bar=False).last_run
    assert pickle.loads(pickle.dumps(report)) == report
    assert copy.deepcopy(report) == report


def test_report_plot_draws_one_bar_per_action_and_saves_it(tmp_path):
    pytest.importorskip("matplotlib")
    from batchkit.report import ActionTotals, RunReport

    actions = {"load": ActionTotals(2, 8, 0.4), "blur": ActionTotals(2, 8, 1.2)}
    report = RunReport(run_id="abcdef123", actions=actions)
    ax = report.plot(path=tmp_path / "run.png")
    assert [float(bar.get_width()) for bar in ax.patches] == [0.4, 1.2]
    assert (tmp_path / "run.png").read_bytes()[:4] == b"\x89PNG"


def test_report_plot_without_matplotlib_names_the_extra(monkeypatch):
    import sys

    from batchkit.report import RunReport

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match="'plot' extra"):
        RunReport().plot()
