"""What a pipeline run did: `RunReport`, kept as ``pipeline.last_run`` after every run.

The run fills an `ActionClock` (thread-safe: prefetched batches time their actions at once) and
its own counters as it goes, and makes one frozen `RunReport` of them when it ends, however it
ends (finished, stopped by an error, or a generator closed early).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

from ._plots import pyplot

__all__ = ["ActionClock", "ActionTotals", "DroppedItem", "RunReport", "SkippedBatch", "seconds_text"]


class DroppedItem(NamedTuple):
    """An item dropped from its batch by ``on_error="skip_items"``: what, where and why."""

    index: object
    """The item's index value."""
    action: str
    """The name of the action it failed in."""
    error: str
    """The error, as ``"Type: message"`` on one line (``ItemCancelled`` for items never started)."""


class SkippedBatch(NamedTuple):
    """A batch left out of the run's output because it failed (``on_error="skip"`` or ``"skip_items"``)."""

    iteration: int
    """The batch's number in the run, from 1 (its ``batch.iteration``)."""
    indices: list
    """Its index values."""
    error: str
    """The error, as ``"Type: message"`` on one line."""


@dataclass(frozen=True)
class ActionTotals:
    """The time one action took over a run, summed over every batch it ran on."""

    calls: int = 0
    """How many batches it ran on."""
    items: int = 0
    """How many items those batches held when it started."""
    seconds: float = 0.0
    """Seconds spent in it (summed over batches; prefetched batches overlap, so the sum may exceed
    the run's wall time)."""

    @property
    def items_per_second(self) -> float:
        """``items / seconds`` (0.0 when no time was measured)."""
        return self.items / self.seconds if self.seconds > 0 else 0.0


class ActionClock:
    """Thread-safe running totals per action name (one call per action run on one batch)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._totals: dict[str, list] = {}

    def add(self, name: str, seconds: float, items: int) -> None:
        with self._lock:
            totals = self._totals.get(name)
            if totals is None:
                totals = self._totals[name] = [0, 0, 0.0]
            totals[0] += 1
            totals[1] += items
            totals[2] += seconds

    def totals(self) -> dict[str, ActionTotals]:
        with self._lock:
            return {name: ActionTotals(*values) for name, values in self._totals.items()}


def seconds_text(seconds: float) -> str:
    """Seconds as a short reading in us, ms or s.

    Examples
    --------
    >>> seconds_text(2.5e-5), seconds_text(0.0123), seconds_text(4.0)
    ('25 us', '12.3 ms', '4 s')
    """
    if seconds < 1e-3:
        return f"{seconds * 1e6:.3g} us"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds:.3g} s"


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@dataclass(frozen=True)
class RunReport:
    """What one run of a pipeline did; ``pipeline.last_run`` after the run.

    Attributes
    ----------
    run_id : str
        The run's id (also in the log and in what ``write_to`` wrote).
    on_error : str
        The run's failure policy.
    batches_done : int
        Batches that went through every action (and were handed to ``on_batch``).
    batches_skipped : int
        Batches left out because they failed (see `skipped`).
    batches_resumed : int
        Batches a ``journal`` recorded as finished by an earlier run, so not run again.
    batches_filtered : int
        Batches dropped on purpose by `SkipBatch` (not failures).
    items_done : int
        Items in the batches done.
    items_dropped : tuple of DroppedItem
        ``(index value, action, error)`` of each item dropped by ``on_error="skip_items"``, in
        run order.
    skipped : tuple of SkippedBatch
        ``(iteration, index values, error)`` of each skipped batch, in run order.
    actions : mapping of str to ActionTotals
        Per action name: calls, items, seconds and items per second, summed over the run.
    wall_seconds : float
        The run's wall time.
    completed : bool
        Whether the run went to its end (False when an error stopped it, or its generator was
        closed early).
    journal : str or None
        The journal's path, if the run had one.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, Dataset, action
    >>> class Numbers(Batch):
    ...     components = ("x",)
    ...     @action
    ...     def double(self):
    ...         self.x = self.x * 2
    >>> pipeline = Dataset(10, Numbers, preloaded={"x": np.arange(10)}).p.double()
    >>> report = pipeline.run(batch_size=4, bar=False).last_run
    >>> report.batches_done, report.items_done, report.actions["double"].calls, report.completed
    (3, 10, 3, True)
    >>> print(str(report).splitlines()[1].split())
    ['action', 'calls', 'items', 'seconds', 'items/s']
    """

    run_id: str = ""
    on_error: str = "raise"
    batches_done: int = 0
    batches_skipped: int = 0
    batches_resumed: int = 0
    batches_filtered: int = 0
    items_done: int = 0
    items_dropped: tuple[DroppedItem, ...] = ()
    skipped: tuple[SkippedBatch, ...] = ()
    actions: Mapping[str, ActionTotals] = field(default_factory=dict)
    wall_seconds: float = 0.0
    completed: bool = False
    journal: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "actions", MappingProxyType(dict(self.actions)))

    def __reduce__(self):  # a mapping proxy does not pickle: the report crosses as its fields
        fields = {name: getattr(self, name) for name in self.__dataclass_fields__}
        fields["actions"] = dict(self.actions)
        return _make_report, (fields,)

    @property
    def items_per_second(self) -> float:
        """Items done per second of wall time."""
        return self.items_done / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def plot(self, ax=None, path=None):
        """Seconds spent in each action over the run, as horizontal bars (needs matplotlib).

        Parameters
        ----------
        ax : matplotlib Axes, optional
            Where to draw; a new figure when None.
        path : str or path, optional
            Also save the figure there (a PNG, SVG, PDF... by the suffix).

        Returns
        -------
        matplotlib Axes

        Examples
        --------
        >>> report = RunReport(actions={"load": ActionTotals(4, 40, 1.5), "blur": ActionTotals(4, 40, 0.5)})
        >>> ax = report.plot()
        >>> [float(bar.get_width()) for bar in ax.patches]
        [1.5, 0.5]
        >>> [label.get_text() for label in ax.get_yticklabels()]
        ['load', 'blur']
        """
        plt = pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(6.4, 0.6 + 0.45 * max(1, len(self.actions))))
        names = list(self.actions)
        seconds = [self.actions[name].seconds for name in names]
        ax.barh(range(len(names)), seconds, color="tab:blue")
        ax.set_yticks(range(len(names)), [_cut(name, 30) for name in names])
        ax.invert_yaxis()  # the first action at the top, as in the table
        ax.set_xlabel("seconds (summed over batches)")
        ax.set_title(f"run {self.run_id[:8]}: {self.batches_done} batches, {self.wall_seconds:.2f} s")
        ax.figure.tight_layout()
        if path is not None:
            ax.figure.savefig(path, dpi=110)
        return ax

    def __str__(self) -> str:
        state = "" if self.completed else " (did not finish)"
        lines = [
            f"run {self.run_id[:8]}{state}: {self.batches_done} batches done ({self.items_done} items), "
            f"{self.batches_skipped} skipped, {self.batches_resumed} resumed, "
            f"{len(self.items_dropped)} items dropped; {self.wall_seconds:.2f} s, "
            f"{self.items_per_second:,.1f} items/s"
        ]
        width = max([len("action"), *(len(_cut(name, 30)) for name in self.actions)])
        lines.append(f"{'action':<{width}}  {'calls':>7}  {'items':>9}  {'seconds':>9}  {'items/s':>11}")
        for name, totals in self.actions.items():
            lines.append(
                f"{_cut(name, 30):<{width}}  {totals.calls:>7}  {totals.items:>9}  "
                f"{totals.seconds:>9.3f}  {totals.items_per_second:>11,.1f}"
            )
        if self.items_dropped:
            first = self.items_dropped[0]
            lines.append(f"first item dropped: {first.index!r} in {first.action}: {_cut(first.error, 80)}")
        if self.skipped:
            first = self.skipped[0]
            lines.append(f"first batch skipped: batch {first.iteration}: {_cut(first.error, 80)}")
        return "\n".join(lines)


def _make_report(fields: dict) -> RunReport:
    return RunReport(**fields)
