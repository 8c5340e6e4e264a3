"""Per-item progress bars for long actions, on request.

Pipelines show a bar over batches (``run(bar=...)``). For a single long action, a bar over its
items is asked for with a context manager, so the action's code does not change::

    with item_progress():
        batch.slow_action()

Every parallel action called inside the block shows a tqdm bar counting finished items, on
every target (for processes, it moves chunk by chunk).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading

__all__ = ["ItemCounter", "around_bar", "bar_class", "item_counter", "item_progress"]

_REQUEST: contextvars.ContextVar[dict | None] = contextvars.ContextVar("batchkit_item_progress", default=None)


@contextlib.contextmanager
def item_progress(**tqdm_options):
    """Show a per-item progress bar for every parallel action called in this block.

    Parameters
    ----------
    **tqdm_options
        Passed to ``tqdm`` (``desc`` defaults to the action's name; ``leave``, ``file``, ...).

    Examples
    --------
    >>> import io
    >>> from batchkit import parallel
    >>> @parallel(init=lambda: range(5), target="threads")
    ... def square(x):
    ...     return x * x
    >>> with item_progress(file=io.StringIO()):
    ...     square()
    [0, 1, 4, 9, 16]
    """
    token = _REQUEST.set(dict(tqdm_options))
    try:
        yield
    finally:
        _REQUEST.reset(token)


def bar_class():
    """The tqdm bar to draw: a widget in a notebook that has ipywidgets, else the text bar.

    ``tqdm.auto`` picks the widget in any notebook and, without ipywidgets, warns and draws
    nothing useful; the text bar works everywhere. (ipywidgets comes with the ``notebook`` extra.)
    """
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401 - only whether it is there
        except ImportError:
            pass
        else:
            from tqdm.notebook import tqdm

            return tqdm
    from tqdm.std import tqdm

    return tqdm


#: run bars drawn now: per-item bars then go on the line below, and leave no line behind. A
#: count, not a context variable: a run's actions may run in its prefetch threads.
_run_bars = [0]
_run_bars_lock = threading.Lock()


@contextlib.contextmanager
def around_bar(tqdm):
    """While a bar is drawn: warnings and log records are written above it, not through it.

    A warning printed straight to stderr lands in the middle of the bar's line and the bar
    is drawn again below it, broken; ``tqdm.write`` clears the line first. Log records go
    the same way (tqdm's ``logging_redirect_tqdm``, for the handlers that write to a terminal).
    """
    import warnings

    from tqdm.contrib.logging import logging_redirect_tqdm

    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if file is not None and file is not sys.stderr:
            return shown(message, category, filename, lineno, file, line)
        text = warnings.formatwarning(message, category, filename, lineno, line)
        tqdm.write(text.rstrip("\n"), file=sys.stderr)
        return None

    warnings.showwarning = show
    with _run_bars_lock:
        _run_bars[0] += 1
    try:
        with logging_redirect_tqdm(tqdm_class=tqdm):
            yield
    finally:
        with _run_bars_lock:
            _run_bars[0] -= 1
        if warnings.showwarning is show:
            warnings.showwarning = shown


class ItemCounter:
    """A thread-safe ``update(n)`` in front of a tqdm bar (tqdm's own counter is not)."""

    def __init__(self, bar):
        self.bar = bar
        self._lock = threading.Lock()

    def __call__(self, n: int = 1) -> None:
        with self._lock:
            self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


def item_counter(total: int, desc: str) -> ItemCounter | None:
    """A counter feeding a new bar when a bar was asked for in this context, else None."""
    options = _REQUEST.get()
    if options is None or total == 0:
        return None
    tqdm = bar_class()
    nested = {"position": 1, "leave": False} if _run_bars[0] else {}
    options = {"desc": desc, "unit": "item", "total": total, **nested, **options}
    return ItemCounter(tqdm(**options))
