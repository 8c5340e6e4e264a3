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
import threading

__all__ = ["ItemCounter", "item_counter", "item_progress"]

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
    from tqdm.auto import tqdm

    options = {"desc": desc, "unit": "item", "total": total, **options}
    return ItemCounter(tqdm(**options))
