"""Notifier and notifier: batchflow's progress bar with monitors, standalone and in a run.

Expected values were written from what batchflow 0.10.1 does in the same cases: a list
variable monitored by name shows its last value (``loss=17.0000`` after batches whose index
means are 2, 7, 12, 17), ``run(bar="t")`` and ``run(notifier="t")`` draw a text bar, an unknown
bar letter is a ValueError, and a run with no batch warns ``EmptyBatchSequence``.
"""

from __future__ import annotations

import io
import threading
import time
import warnings

import pytest

from batchkit import B, Dataset, EmptyBatchSequence, Notifier, V, notifier
from batchkit.monitor import CPUMonitor


def loss_pipeline(n=20):
    return Dataset(n).p.init_variable("loss", []).update(V("loss", mode="a"), B().indices.mean())


def monitor_threads():
    return [t for t in threading.enumerate() if t.name.startswith("batchkit-monitor-") and t.is_alive()]


def test_wrapping_an_iterable_yields_every_item_and_counts_them():
    wrapped = Notifier(False)
    assert list(wrapped(range(5))) == [0, 1, 2, 3, 4]
    assert wrapped.n == 5 and wrapped.total == 5


def test_the_notifier_function_wraps_an_iterable():
    assert list(notifier(iter("abc"), bar=False)) == ["a", "b", "c"]


def test_a_text_bar_is_drawn_to_the_file_given():
    out = io.StringIO()
    with Notifier("t", total=3, desc="steps", file=out) as bar:
        for _ in range(3):
            bar.update()
    assert "steps: 100%" in out.getvalue() and "3/3" in out.getvalue()


def test_an_unknown_bar_letter_is_refused():
    with pytest.raises(ValueError, match="bar must be one of"):
        Notifier("x")


def test_the_notebook_bar_without_ipywidgets_names_the_extra():
    pytest.importorskip("tqdm")
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match=r"batchkit-parallel\[notebook\]"):
            Notifier("n")
    else:
        pytest.skip("ipywidgets is installed")


def test_batchflow_only_options_are_refused_with_what_to_do():
    with pytest.raises(TypeError, match=r"Monitor\.plot"):
        Notifier("t", graphs=["loss"])


def test_frequency_must_be_a_positive_count():
    with pytest.raises(ValueError, match="frequency"):
        Notifier(False, frequency=0)


def test_a_callable_monitor_is_read_at_each_update_and_kept():
    values = iter([0.5, 0.25, 0.125])
    with Notifier(False, monitors={"source": lambda: next(values), "name": "lr"}) as watched:
        for _ in range(3):
            watched.update()
    assert watched.data == {"lr": [0.5, 0.25, 0.125]}


def test_frequency_reads_the_monitors_every_few_updates_and_at_the_end():
    reads = []
    source = {"source": lambda: reads.append(1) or len(reads), "name": "k"}
    with Notifier(False, total=5, monitors=source, frequency=2) as watched:
        for _ in range(5):
            watched.update()
    assert watched.data["k"] == [1, 2, 3]  # after updates 2, 4 and 5 (the last)


def test_an_unknown_monitor_is_refused_when_the_notifier_is_made():
    with pytest.raises(ValueError, match="cannot monitor"):
        Notifier(False, monitors=[3.5])
    with pytest.raises(ValueError, match="no 'gpu' monitor"):
        Notifier(False, monitors="gpu")


@pytest.mark.timeout(60)
def test_a_run_monitors_a_variable_by_name_and_keeps_its_history():
    watched = Notifier(False, monitors="loss")
    loss_pipeline().run(5, notifier=watched)
    assert watched.data == {"loss": [2.0, 7.0, 12.0, 17.0]}
    assert watched.n == watched.total == 4


@pytest.mark.timeout(60)
def test_a_run_shows_the_monitored_value_next_to_its_bar():
    out = io.StringIO()
    loss_pipeline().run(5, notifier=Notifier("t", monitors="loss", file=out))
    assert "loss=17.0000" in out.getvalue() and "4/4" in out.getvalue()


@pytest.mark.timeout(60)
def test_a_named_expression_with_a_format_is_shown_formatted():
    out = io.StringIO()
    monitor = {"source": V("loss"), "format": "{:.1f}", "name": "L"}
    loss_pipeline().run(5, notifier=Notifier("t", monitors=monitor, file=out))
    assert "L=17.0" in out.getvalue() and "L=17.00" not in out.getvalue()


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "how", [{"bar": "t"}, {"notifier": "t"}, {"notifier": True}, {"notifier": {"bar": "t"}}]
)
def test_bar_letters_true_and_dicts_draw_the_run_bar(how, capsys):
    loss_pipeline().run(5, **how)
    assert "4/4" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_a_notifier_given_to_two_runs_counts_each_from_the_start():
    watched = Notifier(False, monitors="loss")
    pipeline = loss_pipeline()
    pipeline.run(5, notifier=watched)
    pipeline.run(10, notifier=watched)
    assert watched.n == watched.total == 2


@pytest.mark.timeout(60)
def test_a_resource_monitor_samples_while_the_run_goes_and_stops_after():
    pytest.importorskip("psutil")
    cpu = CPUMonitor(frequency=0.01)
    watched = Notifier(False, monitors=cpu)
    Dataset(8).p.call(time.sleep, 0.03).run(2, notifier=watched)
    assert len(cpu.data) >= 2 and not cpu.running
    assert monitor_threads() == []


@pytest.mark.timeout(60)
def test_a_failing_run_still_closes_its_notifier_and_stops_its_monitors():
    pytest.importorskip("psutil")
    watched = Notifier(False, monitors=["loss", "cpu"])

    def fail():
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        loss_pipeline().call(fail).run(5, notifier=watched)
    assert not watched.monitors[0].running and monitor_threads() == []


def test_a_wrong_notifier_type_is_refused():
    with pytest.raises(TypeError, match="notifier must be"):
        loss_pipeline().run(5, notifier=3)


def test_a_run_with_no_batch_warns_empty_batch_sequence():
    with pytest.warns(EmptyBatchSequence, match="n_iters=0"):
        loss_pipeline().run(5, n_iters=0, bar=False)


def test_empty_batch_sequence_can_be_made_an_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyBatchSequence)
        with pytest.raises(EmptyBatchSequence):
            loss_pipeline().run(5, n_iters=0, bar=False)


def test_a_run_with_batches_does_not_warn_empty():
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyBatchSequence)
        loss_pipeline().run(5, bar=False)


@pytest.mark.timeout(60)
def test_a_generator_closed_early_closes_its_notifier():
    pytest.importorskip("psutil")
    watched = Notifier(False, monitors=["loss", "cpu"])
    batches = loss_pipeline().gen_batch(5, notifier=watched)
    next(batches)
    batches.close()
    assert watched.n == 1 and not watched.monitors[0].running and monitor_threads() == []


@pytest.mark.timeout(60)
def test_under_prefetch_each_reading_is_a_batch_value_read_once_per_batch():
    """Batches run ahead under prefetch, so a reading may show a later batch's value (documented)."""
    watched = Notifier(False, monitors="loss")
    loss_pipeline(40).run(5, prefetch=3, notifier=watched)
    means = {2.0 + 5 * k for k in range(8)}
    assert len(watched.data["loss"]) == 8 and set(watched.data["loss"]) <= means


@pytest.mark.timeout(60)
def test_an_unnamed_expression_is_shown_bare_and_kept_under_its_repr():
    out = io.StringIO()
    watched = Notifier("t", monitors={"source": V("loss"), "format": "{:.1f}"}, file=out)
    loss_pipeline().run(5, notifier=watched)
    assert watched.data == {"V('loss')": [2.0, 7.0, 12.0, 17.0]}
    assert ", 17.0," in out.getvalue() or "17.0, " in out.getvalue()


@pytest.mark.parametrize("make", [Dataset, lambda n: Dataset(n).index], ids=["dataset", "index"])
def test_gen_batch_of_an_index_or_dataset_takes_a_notifier_as_in_batchflow(make):
    out = io.StringIO()
    batches = list(make(10).gen_batch(3, n_epochs=1, notifier=Notifier("t", file=out)))
    assert len(batches) == 4 and "4/4" in out.getvalue()


def test_gen_batch_takes_batchflow_bar_letters(capsys):
    assert len(list(Dataset(10).gen_batch(3, n_epochs=1, bar="t"))) == 4
    assert "4/4" in capsys.readouterr().err
