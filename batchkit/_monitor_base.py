"""The base of resource monitors: sampling one quantity in a thread, of a process or the machine.

`ResourceMonitor` owns the thread, the readings and the ticks; `ProcessResourceMonitor` adds the
process (and optionally its children) to read. The concrete monitors are in `_monitor_kinds`.
"""

from __future__ import annotations

import contextlib
import threading
import time

__all__ = ["GIB", "ProcessResourceMonitor", "ResourceMonitor", "psutil_module"]

GIB = float(2**30)


def psutil_module(what: str):
    """The psutil module, or an ImportError naming the extra that brings it (``what`` needs it)."""
    try:
        import psutil
    except ImportError:
        raise ImportError(
            f"{what} samples with psutil, which is not installed; install it with "
            "pip install 'batchkit-parallel[monitor]' (or pip install psutil)"
        ) from None
    return psutil


class ResourceMonitor:
    """Samples one quantity every ``frequency`` seconds, in a thread, between start and stop.

    Subclasses define ``UNIT``, ``NAME`` and ``read()``. ``data`` holds the readings and
    ``ticks`` the times they were taken (``time.time()``); both grow while the monitor runs
    and stay after it stopped. Starting it again goes on appending.

    Parameters
    ----------
    frequency : float
        Seconds between two readings.

    Examples
    --------
    >>> import time
    >>> from batchkit import CPUMonitor
    >>> with CPUMonitor(frequency=0.01) as cpu:
    ...     time.sleep(0.05)
    >>> len(cpu.data) == len(cpu.ticks) >= 2, cpu.UNIT
    (True, '%')
    """

    UNIT = ""
    NAME = "resource"
    #: a rate measured between two readings (CPU): the first reading comes one period in
    RATE = False

    def __init__(self, frequency: float = 0.1):
        if isinstance(frequency, bool) or not isinstance(frequency, (int, float)) or frequency <= 0:
            raise ValueError(f"'frequency' must be a positive number of seconds (got {frequency!r})")
        self.frequency = float(frequency)
        self.data: list[float] = []
        self.ticks: list[float] = []
        #: why sampling stopped before `stop` (a watched process that ended), else None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read(self) -> float:
        """One reading of the quantity (in ``UNIT``)."""
        raise NotImplementedError(f"{type(self).__name__} must define read()")

    @property
    def running(self) -> bool:
        """Whether the monitor is sampling now."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def last(self) -> float | None:
        """The latest reading, or None before the first."""
        return self.data[-1] if self.data else None

    def sample(self) -> float:
        """Take one reading now and keep it; return it."""
        value = self.read()
        self.ticks.append(time.time())
        self.data.append(value)
        return value

    def start(self) -> ResourceMonitor:
        """Start sampling in a daemon thread until `stop` (a level is read at once); return self."""
        if self.running:
            return self
        self._stop.clear()
        if self.RATE:
            self.read()  # a rate needs a start: readings count from here
        else:
            self.sample()  # a level, read at once: a short run still gets a reading
        self._thread = threading.Thread(target=self._loop, name=f"batchkit-monitor-{self.NAME}", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(self.frequency):
            try:
                self.sample()
            except Exception as error:  # the process being read is gone, say: sampling ends here
                self.error = error
                return

    def stop(self) -> ResourceMonitor:
        """Stop sampling and wait for the thread, taking a last reading; return the monitor."""
        if self._thread is None:
            return self
        self._stop.set()
        self._thread.join()
        self._thread = None
        with contextlib.suppress(Exception):  # the process being read is gone
            self.sample()
        return self

    def __enter__(self) -> ResourceMonitor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def label(self) -> str:
        """The latest reading as ``name=value unit``, for a progress bar."""
        value = self.last
        return f"{self.NAME}={'?' if value is None else f'{value:.4g}'}{self.UNIT}"

    def plot(self, ax=None):
        """Draw the readings against seconds since the first one; return the matplotlib Axes."""
        from ._plots import pyplot

        if ax is None:
            _, ax = pyplot().subplots(figsize=(6, 3))
        start = self.ticks[0] if self.ticks else 0.0
        ax.plot([tick - start for tick in self.ticks], self.data, label=self.NAME)
        ax.set_xlabel("seconds")
        ax.set_ylabel(f"{self.NAME} ({self.UNIT})" if self.UNIT else self.NAME)
        return ax

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"{type(self).__name__}(frequency={self.frequency}, {len(self.data)} readings, {state})"


class ProcessResourceMonitor(ResourceMonitor):
    """A monitor of one process (default: this one), optionally with its child processes.

    Parameters
    ----------
    frequency : float
        Seconds between readings.
    pid : int, optional
        The process to watch; this one by default.
    children : bool
        Add the process's children (summed): the worker processes of the ``mpc`` target, say.
    """

    def __init__(self, frequency: float = 0.1, pid: int | None = None, children: bool = False):
        super().__init__(frequency)
        self._psutil = psutil = psutil_module(type(self).__name__)
        self.process = psutil.Process(pid)
        self.children = bool(children)
        self._known: dict[int, object] = {}  # child processes by pid, kept for cpu_percent's deltas

    def processes(self) -> list:
        """The process and, with ``children=True``, its living child processes (workers)."""
        if not self.children:
            return [self.process]
        try:
            children = self.process.children(recursive=True)
        except self._psutil.Error:  # the process ended while being read
            children = []
        # the same Process objects from one reading to the next (cpu_percent counts from the last
        # call on each); those of ended children are let go
        self._known = {child.pid: self._known.get(child.pid, child) for child in children}
        return [self.process, *self._known.values()]

    def _total(self, reading) -> float:
        main, *children = self.processes()
        total = reading(main)  # raises when the watched process itself has ended
        for process in children:
            try:
                total += reading(process)
            except self._psutil.Error:  # a child that ended between listing and reading counts nothing
                continue
        return total
