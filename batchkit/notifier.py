"""`Notifier`: batchflow's progress bar with monitors, on tqdm, standalone or for a pipeline run.

A notifier draws a bar (text, notebook widget, or none) and, next to it, the latest values of
what it monitors: pipeline variables by name, named expressions, resource monitors (``"cpu"``,
``"memory"``: see `batchkit.monitor`), or any of them with a format. It keeps every value it
showed in ``data``, so a run leaves the history of its monitored variables behind.

``pipeline.run(..., notifier=...)`` takes a notifier, a bar letter, True or a dict of
`Notifier` arguments; the run fills in the total and updates it once per batch.
"""

from __future__ import annotations

import numbers

import numpy as np

from .monitor import MONITOR_ALIASES, RESOURCE_NAMES, ResourceMonitor, make_monitor

__all__ = ["Notifier", "notifier"]

#: what each bar letter draws (batchflow's letters; True means "a")
BARS = {"t": "text bar", "n": "notebook widget", "a": "widget in a notebook, else text"}
#: batchflow options that draw or send what batchkit does not; each refused with what to do
_NOT_HERE = {
    "graphs": "draw the monitors after the run with Monitor.plot() or a monitor's plot()",
    "telegram": "batchkit sends no messages; use on_batch= or an 'after' hook",
    "log_file": "give log_file= to the run itself",
    "savepath": "save a monitor's plot() figure yourself",
    "plot_config": "draw the monitors after the run with Monitor.plot()",
    "window": "draw the monitors after the run with Monitor.plot()",
}


def _bar_class(bar):
    if bar is True or bar == "a":
        from .progress import bar_class

        return bar_class()
    if bar == "t":
        from tqdm.std import tqdm

        return tqdm
    if bar == "n":
        try:
            import ipywidgets  # noqa: F401 - tqdm's widget needs it
        except ImportError:
            raise ImportError(
                "Notifier('n') draws a notebook widget, which needs ipywidgets: "
                "pip install 'batchkit-parallel[notebook]', or use Notifier('t') for the text bar"
            ) from None
        from tqdm.notebook import tqdm

        return tqdm
    return None


def _is_expression(value) -> bool:
    from .named import NamedExpression

    return isinstance(value, NamedExpression)


def _format(value, fmt: str | None) -> str:
    if fmt is not None:
        return fmt.format(value)
    if isinstance(value, numbers.Integral):
        return str(value)
    if isinstance(value, numbers.Real):
        return f"{value:.4f}"
    return str(value)


class _Watched:
    """One monitored value: where it comes from, how it is shown, and its history."""

    def __init__(self, spec):
        fmt, name = None, None
        if isinstance(spec, dict):
            unknown = set(spec) - {"source", "format", "name"}
            if "source" not in spec or unknown:
                raise ValueError(
                    f"a monitor given as a dict takes 'source' and optionally 'format' and 'name' "
                    f"(got keys {sorted(spec)})"
                )
            spec, fmt, name = spec["source"], spec.get("format"), spec.get("name")
        if isinstance(spec, ResourceMonitor) or (isinstance(spec, str) and spec in RESOURCE_NAMES):
            self.monitor = make_monitor(spec)
            self.source, self.name = None, name or self.monitor.NAME
            fmt = fmt or ("{:.4g}" + self.monitor.UNIT)
        elif isinstance(spec, str):
            self.monitor, self.source, self.name = None, spec, name or spec
        elif _is_expression(spec) or callable(spec):
            self.monitor, self.source, self.name = None, spec, name
        else:
            raise ValueError(
                f"cannot monitor {spec!r}: give a pipeline variable's name, a named expression, "
                f"a callable, one of {sorted(MONITOR_ALIASES)}, or a dict with 'source' and 'format'"
            )
        self.format = fmt
        self.data: list = []
        #: what ``Notifier.data`` files the values under: the name, else the source's repr
        self.key = self.name if self.name is not None else repr(self.source)

    def read(self, pipeline, batch):
        """The current value, or None when there is none yet."""
        if self.monitor is not None:
            return self.monitor.last
        if isinstance(self.source, str):
            if pipeline is None or not pipeline.has_variable(self.source):
                return None
            value = pipeline.v(self.source)
        elif _is_expression(self.source):
            from .named import eval_expr

            value = eval_expr(self.source, batch=batch, pipeline=pipeline)
        else:
            value = self.source()
        if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim == 1):
            value = value[-1] if len(value) else None  # a history: its latest value
        return value.item() if isinstance(value, np.generic) else value

    def text(self, value) -> str:
        shown = _format(value, self.format)
        return shown if self.name is None else f"{self.name}={shown}"


class Notifier:
    """A progress bar (tqdm) that also shows monitored values: batchflow's ``Notifier``.

    Parameters
    ----------
    bar : {"a", "t", "n"}, bool or None
        ``"t"`` a text bar, ``"n"`` a notebook widget (needs ipywidgets), ``"a"`` (or True) a
        widget in a notebook that has ipywidgets and the text bar elsewhere; False or None
        draws nothing but still records what is monitored.
    total : int, optional
        The bar's length; taken from the iterable (or the run) when not given.
    desc : str, optional
        The text before the bar.
    monitors : str, dict, named expression, ResourceMonitor, or a list of them
        What to show next to the bar: a pipeline variable's name (a list variable shows its
        last value), a named expression such as ``V("loss")``, ``"cpu"`` / ``"memory"`` (and
        the other names of `MONITOR_ALIASES`, sampled in a thread while the notifier runs), or
        a dict ``{"source": ..., "format": "{:.3f}", "name": ...}``.
    frequency : int
        Read the monitors every this many updates.
    disable : bool
        Draw nothing (as ``bar=False``).
    **tqdm_options
        Passed to tqdm (``unit``, ``leave``, ``position``, ``file``, ...).

    Examples
    --------
    >>> from batchkit import Notifier
    >>> squares = [x * x for x in Notifier(False)(range(4))]
    >>> squares
    [0, 1, 4, 9]
    >>> with Notifier(False, total=3, monitors={"source": lambda: 0.5, "name": "p"}) as n:
    ...     for _ in range(3):
    ...         n.update()
    >>> n.n, n.data
    (3, {'p': [0.5, 0.5, 0.5]})
    """

    def __init__(
        self,
        bar="a",
        *,
        total=None,
        desc=None,
        monitors=None,
        frequency: int = 1,
        disable: bool = False,
        **tqdm_options,
    ):
        refused = sorted(set(tqdm_options) & set(_NOT_HERE))
        if refused:
            name = refused[0]
            raise TypeError(f"Notifier({name}=...) is not supported by batchkit: {_NOT_HERE[name]}")
        if bar not in (True, False, None, *BARS):
            raise ValueError(f"Notifier's bar must be one of {list(BARS)}, True, False or None (got {bar!r})")
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
            raise ValueError(f"'frequency' must be a positive number of updates (got {frequency!r})")
        if monitors is None:
            monitors = []
        elif isinstance(monitors, (str, dict, ResourceMonitor)) or not isinstance(monitors, (list, tuple)):
            monitors = [monitors]
        self.watched = [_Watched(spec) for spec in monitors]
        self.bar_kind = None if disable or bar is False or bar is None else bar
        self.tqdm_class = None if self.bar_kind is None else _bar_class(self.bar_kind)
        self.total, self.desc, self.frequency = total, desc, frequency
        self._given_total = total
        self.tqdm_options = tqdm_options
        self.bar = None
        self.n = 0
        self._started = self._closed = False
        self.suffix = ""  # extra text a run shows after the monitors (items per second)

    @property
    def data(self) -> dict:
        """Every value shown per monitor, in order, by name (an unnamed expression by its repr)."""
        return {w.key: w.data for w in self.watched}

    @property
    def monitors(self) -> list[ResourceMonitor]:
        """The resource monitors this notifier started (their readings and ticks)."""
        return [w.monitor for w in self.watched if w.monitor is not None]

    def start(self, *, total=None, **defaults) -> Notifier:
        """Open the bar and start the resource monitors (done on first use); return self.

        ``total`` and ``defaults`` (tqdm options) fill in what the notifier was not given.
        """
        if self._started:
            return self
        self._started, self._closed = True, False
        self.total = self._given_total if self._given_total is not None else total
        for monitor in self.monitors:
            monitor.start()
        if self.tqdm_class is not None:
            options = {**defaults, **self.tqdm_options}
            if self.desc is not None:
                options["desc"] = self.desc
            self.bar = self.tqdm_class(total=self.total, **options)
        return self

    def update(self, n: int = 1, pipeline=None, batch=None) -> None:
        """Count ``n`` more steps; every ``frequency`` updates, read and show the monitors."""
        self.start()
        before = self.n
        self.n += n
        if self.watched and (self.n // self.frequency > before // self.frequency or self.n == self.total):
            self.refresh(pipeline, batch)
        elif self.bar is not None and self.suffix:
            self.bar.set_postfix_str(self.suffix, refresh=False)
        if self.bar is not None:
            self.bar.update(n)

    def refresh(self, pipeline=None, batch=None) -> None:
        """Read every monitor now, keep the values, and show them next to the bar."""
        shown = []
        for watched in self.watched:
            value = watched.read(pipeline, batch)
            if value is None:
                continue
            watched.data.append(value)
            shown.append(watched.text(value))
        if self.suffix:
            shown.append(self.suffix)
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(shown), refresh=False)

    def close(self) -> None:
        """Close the bar and stop the resource monitors; a second close does nothing."""
        if self._closed:
            return
        self._closed, self._started = True, False
        for monitor in self.monitors:
            monitor.stop()
        if self.bar is not None:
            self.bar.close()

    def __call__(self, iterable):
        """Yield the items of ``iterable``, one update each; the bar closes at the end."""
        total = len(iterable) if self.total is None and hasattr(iterable, "__len__") else None
        self.start(total=total)
        try:
            for item in iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> Notifier:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        names = [w.key for w in self.watched]
        return f"Notifier(bar={self.bar_kind!r}, n={self.n}, total={self.total}, monitors={names})"


def notifier(iterable, bar="a", **kwargs):
    """Iterate over ``iterable`` with a `Notifier` bar: ``for x in notifier(items, bar="t"): ...``.

    Examples
    --------
    >>> from batchkit import notifier
    >>> sum(notifier(range(5), bar=False))
    10
    """
    return Notifier(bar, **kwargs)(iterable)


def notified(batches, notifier, bar, total):
    """Yield ``batches``, updating the notifier ``notifier`` or ``bar`` stands for (none: as is).

    What an index's or a dataset's ``gen_batch(notifier=...)`` runs through; ``total`` is the
    number of batches (None when endless).
    """
    shown = as_notifier(notifier, bar)
    if shown is None:
        yield from batches
        return
    shown.n = 0
    shown.start(total=total, unit="batch")
    try:
        for batch in batches:
            shown.update()  # counted as it is given out, as a run counts its batches
            yield batch
    finally:
        shown.close()


def as_notifier(value, bar) -> Notifier | None:
    """The notifier a run draws: from ``notifier=`` (which wins) or from ``bar=``; None for neither.

    ``notifier``: a Notifier, a bar letter, True, or a dict of Notifier arguments. ``bar``:
    True, a dict of tqdm options, a bar letter or a Notifier (batchflow's ``bar=``); "auto"
    has been decided by the caller already (True in a terminal or notebook, else False).
    """
    for given in (value, bar):
        if given is None or given is False:
            continue
        if isinstance(given, Notifier):
            return given
        if given is True:
            return Notifier("a")
        if isinstance(given, str):
            return Notifier(given)
        if isinstance(given, dict):
            if given is bar:  # run(bar={...}): tqdm's options, as before
                return Notifier("a", **given)
            return Notifier(**given)
        raise TypeError(f"a run's notifier must be a Notifier, a bar letter, True or a dict (got {given!r})")
    return None
