"""Progress bars: warnings go above the bar, not through it; the right bar in and out of notebooks."""

import io
import sys
import types
import warnings

import numpy as np
import pytest

from batchkit import Batch, Dataset, action, inbatch_parallel
from batchkit.progress import bar_class


class Warns(Batch):
    components = ("x",)

    @action
    def careful(self):
        warnings.warn("a batch worth a warning", UserWarning, stacklevel=1)


def test_a_warning_during_a_run_is_written_on_a_line_of_its_own(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    shown = warnings.showwarning
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        Dataset(10, Warns, preloaded={"x": np.arange(10)}).p.careful().run(batch_size=5, bar=True)
    lines = err.getvalue().replace("\r", "\n").splitlines()
    warned = [line for line in lines if "a batch worth a warning" in line]
    assert warned and all("pipeline:" not in line for line in warned)
    assert warnings.showwarning is shown  # put back after the run


def test_outside_a_notebook_the_text_bar_is_used():
    from tqdm.std import tqdm

    assert bar_class() is tqdm


def test_a_notebook_without_ipywidgets_gets_the_text_bar_and_no_warning(monkeypatch):
    from tqdm.std import tqdm

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import fails
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bar_class() is tqdm


def test_a_notebook_with_ipywidgets_gets_the_widget_bar(monkeypatch):
    pytest.importorskip("ipywidgets")
    from tqdm.notebook import tqdm

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    assert bar_class() is tqdm


class Squares(Batch):
    components = ("x",)

    @action
    @inbatch_parallel(init="x", post="_keep", target="for")
    def square(self, value):
        return value * value

    def _keep(self, results, *args, **kwargs):
        return self


def test_item_bars_nest_under_the_run_bar_and_leave_no_line(monkeypatch):
    from tqdm.std import tqdm

    from batchkit import item_progress, progress

    made = []

    class Recorded(tqdm):
        def __init__(self, *args, **kwargs):
            made.append(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(progress, "bar_class", lambda: Recorded)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    with item_progress(file=io.StringIO()):
        Dataset(6, Squares, preloaded={"x": np.arange(6.0)}).p.square().run(batch_size=3, bar=True)
        Squares.from_data(data={"x": np.arange(3.0)}).square()  # no run: a bar of its own
    run_bar, *item_bars, alone = made
    assert run_bar["unit"] == "batch" and len(item_bars) == 2
    assert all(bar["position"] == 1 and bar["leave"] is False for bar in item_bars)
    assert "position" not in alone
