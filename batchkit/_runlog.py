"""Where a run's messages go: the ``batchkit`` logger, ``log_file``, warnings, the user's line.

Rules, in one place:

* The run's own lines (start, each batch done, each skipped batch or dropped item, the end) go
  to the ``batchkit`` logger at their level, so the application's logging setup decides what
  it sees, and all of them (INFO and up) to ``log_file``.
* A skipped batch's or a dropped item's traceback goes to ``log_file``, and to the logger's
  handlers only when the application configured some: it never reaches standard error through
  logging's last-resort handler, which prints a WARNING or ERROR record's message (one line per
  item) and nothing more.
* While a run with ``log_file`` is on, what anything logs to ``batchkit`` and its children at
  INFO and up reaches the file too, and every warning that is shown (the warning filters decide,
  as usual) is also written to the file: see `capture`. The application's handlers see what
  they would have seen without the run.
* A warning the run itself gives points at the user's line (`user_stacklevel`), not at
  batchkit's code.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings

__all__ = ["app_enabled", "app_has_handlers", "capture", "logger", "user_stacklevel"]

logger = logging.getLogger("batchkit")

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning given by the caller point at the first frame outside batchkit.

    Level 1 is the function that calls ``warnings.warn`` (this function's caller); each frame
    of batchkit's own above it adds one.
    """
    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame = frame.f_back
        level += 1
    return level


class _Tee(logging.Handler):
    """Stands in for the ``batchkit`` logger's handlers while runs with a log file are on.

    It writes each record to the runs' files, then hands it on exactly as the logger would have
    without the runs: to its own handlers and up the hierarchy, but only at the level the
    application had set (the logger's level is lowered to INFO for the files' sake).
    """

    def __init__(self, state: _State):
        super().__init__(logging.NOTSET)
        self.state = state

    def handle(self, record) -> bool:  # no lock of its own: each handler it calls has one
        self.emit(record)
        return True

    def emit(self, record) -> None:
        state = self.state
        if record.levelno >= logging.INFO and not getattr(record, "batchkit_run", False):
            for handler in list(state.files):
                if record.levelno >= handler.level:
                    handler.handle(record)
        if record.levelno >= state.app_level:
            state.forward(record)


class _State:
    """What the logger looked like before the first run with a log file, and the files now open."""

    def __init__(self):
        self.lock = threading.Lock()
        self.files: list[logging.Handler] = []
        self.tee = _Tee(self)
        self.saved = None  # (level, propagate, handlers) while installed
        self.app_level = logging.WARNING
        self.showwarning = None  # the warnings.showwarning we replaced

    # -- the logger -------------------------------------------------------------------------

    def install(self) -> None:
        self.saved = (logger.level, logger.propagate, list(logger.handlers))
        self.app_level = logger.getEffectiveLevel()
        logger.handlers = [self.tee]
        logger.propagate = False
        if self.app_level > logging.INFO:
            logger.setLevel(logging.INFO)
        self.showwarning = warnings.showwarning
        warnings.showwarning = self.show_warning

    def uninstall(self) -> None:
        level, propagate, handlers = self.saved
        # handlers added while the runs were on are kept
        logger.handlers = handlers + [h for h in logger.handlers if h is not self.tee and h not in handlers]
        logger.propagate = propagate
        logger.setLevel(level)
        if warnings.showwarning == self.show_warning:  # == : a bound method is made anew each time
            warnings.showwarning = self.showwarning
        self.saved = self.showwarning = None

    def app_handlers(self):
        """The handlers a ``batchkit`` record would reach without the runs, in logging's order."""
        _, propagate, handlers = self.saved
        yield from handlers
        node = logger.parent if propagate else None
        while node is not None:
            yield from node.handlers
            node = node.parent if node.propagate else None

    def forward(self, record) -> None:
        found = False
        for handler in self.app_handlers():
            found = True
            if record.levelno >= handler.level:
                handler.handle(record)
        if not found and logging.lastResort is not None and record.levelno >= logging.lastResort.level:
            logging.lastResort.handle(record)

    # -- warnings ---------------------------------------------------------------------------

    def show_warning(self, message, category, filename, lineno, file=None, line=None):
        """Write a shown warning to the runs' files, then show it as it would have been."""
        text = warnings.formatwarning(message, category, filename, lineno, line).strip()
        record = logging.LogRecord("py.warnings", logging.WARNING, filename, lineno, "%s", (text,), None)
        for handler in list(self.files):
            handler.handle(record)
        previous = self.showwarning
        if previous is not None:
            previous(message, category, filename, lineno, file, line)


_STATE = _State()


def app_enabled(level: int) -> bool:
    """Whether the application's setup lets a ``batchkit`` record of ``level`` through."""
    with _STATE.lock:
        if _STATE.saved is not None:
            return level >= _STATE.app_level
    return logger.isEnabledFor(level)


def app_has_handlers() -> bool:
    """Whether the application configured a handler that ``batchkit`` records reach."""
    with _STATE.lock:
        if _STATE.saved is not None:
            return any(True for _ in _STATE.app_handlers())
    return logger.hasHandlers()


@contextlib.contextmanager
def capture(handler: logging.Handler):
    """While the block runs, ``handler`` (a run's log file) gets what `_Tee` and warnings give.

    Runs may overlap (a generator left open, another thread): the logger is rearranged for
    the first one and put back after the last one.
    """
    with _STATE.lock:
        if not _STATE.files:
            _STATE.install()
        _STATE.files.append(handler)
    try:
        yield
    finally:
        with _STATE.lock:
            _STATE.files.remove(handler)
            if not _STATE.files:
                _STATE.uninstall()
