"""Resource monitors: the CPU and memory of a process (or the machine), sampled while work runs.

batchflow's monitor names, on psutil (the ``monitor`` extra). A monitor samples one quantity in
a daemon thread every ``frequency`` seconds between ``start()`` and ``stop()`` (or inside a
``with`` block) into ``data``, with the sampling times in ``ticks``. `Monitor` runs several at
once. A `Notifier` shows their last readings next to its bar; ``plot()`` draws them
(matplotlib, the ``plot`` extra).

psutil is imported when a monitor is made, never with batchkit; without it the error names the
extra to install.
"""

from __future__ import annotations

import contextlib
import threading
import time

__all__ = [
    "MONITOR_ALIASES",
    "CPUMonitor",
    "MemoryMonitor",
    "Monitor",
    "RSSMonitor",
    "ResourceMonitor",
    "TotalCPUMonitor",
    "TotalMemoryMonitor",
    "USSMonitor",
    "VMSMonitor",
]

_GIB = float(2**30)


def _psutil(what: str):
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
            except Exception:  # the process being read is gone: nothing more to sample
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


class _ProcessMonitor(ResourceMonitor):
    """A monitor of one process (default: this one), optionally with its child processes."""

    def __init__(self, frequency: float = 0.1, pid: int | None = None, children: bool = False):
        super().__init__(frequency)
        psutil = _psutil(type(self).__name__)
        self.process = psutil.Process(pid)
        self.children = bool(children)
        self._known: dict[int, object] = {}  # child processes by pid, kept for cpu_percent's deltas

    def processes(self) -> list:
        """The process and, with ``children=True``, its living child processes (workers)."""
        if not self.children:
            return [self.process]
        found = [self.process]
        try:
            for child in self.process.children(recursive=True):
                found.append(self._known.setdefault(child.pid, child))
        except Exception:  # the process ended while being read
            pass
        return found

    def _total(self, reading) -> float:
        total = 0.0
        for process in self.processes():
            try:
                total += reading(process)
            except Exception:  # a child that ended between listing and reading counts nothing
                continue
        return total


class CPUMonitor(_ProcessMonitor):
    """CPU use of a process in percent of one core (200 means two busy cores).

    Parameters
    ----------
    frequency : float
        Seconds between readings.
    pid : int, optional
        The process to watch; this one by default.
    children : bool
        Add the process's children: the worker processes of the ``mpc`` target, say.
    """

    UNIT = "%"
    NAME = "cpu"
    RATE = True

    def read(self) -> float:
        return self._total(lambda process: process.cpu_percent(None))


class MemoryMonitor(_ProcessMonitor):
    """Resident memory (RSS) of a process, in GiB (with ``children=True``, summed over them)."""

    UNIT = "GiB"
    NAME = "memory"
    _FIELD = "rss"

    def read(self) -> float:
        return self._total(lambda process: getattr(process.memory_info(), self._FIELD) / _GIB)


class RSSMonitor(MemoryMonitor):
    """batchflow's name for `MemoryMonitor`: resident memory (RSS) of a process, in GiB."""

    NAME = "rss"


class VMSMonitor(MemoryMonitor):
    """Virtual memory size of a process, in GiB."""

    NAME = "vms"
    _FIELD = "vms"


class USSMonitor(MemoryMonitor):
    """Memory unique to a process (freed if it ended), in GiB; slower to read than RSS."""

    NAME = "uss"

    def read(self) -> float:
        return self._total(lambda process: process.memory_full_info().uss / _GIB)


class TotalCPUMonitor(ResourceMonitor):
    """CPU use of the whole machine, in percent of all its cores."""

    UNIT = "%"
    NAME = "total_cpu"
    RATE = True

    def __init__(self, frequency: float = 0.1):
        super().__init__(frequency)
        self._psutil = _psutil(type(self).__name__)

    def read(self) -> float:
        return self._psutil.cpu_percent(None)


class TotalMemoryMonitor(ResourceMonitor):
    """Memory in use on the whole machine, in GiB."""

    UNIT = "GiB"
    NAME = "total_memory"

    def __init__(self, frequency: float = 0.1):
        super().__init__(frequency)
        self._psutil = _psutil(type(self).__name__)

    def read(self) -> float:
        return self._psutil.virtual_memory().used / _GIB


MONITOR_ALIASES = {
    "cpu": CPUMonitor,
    "memory": MemoryMonitor,
    "rss": RSSMonitor,
    "vms": VMSMonitor,
    "uss": USSMonitor,
    "total_cpu": TotalCPUMonitor,
    "total_memory": TotalMemoryMonitor,
}
"""The names a monitor may be given by (``Monitor(["cpu", "memory"])``), as batchflow names them."""

_NOT_HERE = ("gpu", "gpu_memory", "gpu_memory_utilization", "disk_io", "io_disk", "dir_disk", "total_disk")
#: every name batchflow gives a resource monitor: batchkit's, and those it refuses with a reason
RESOURCE_NAMES = frozenset(MONITOR_ALIASES) | frozenset(_NOT_HERE)


def make_monitor(spec, frequency: float = 0.1) -> ResourceMonitor:
    """A monitor from a name of `MONITOR_ALIASES`, a monitor class, or a monitor (as is)."""
    if isinstance(spec, ResourceMonitor):
        return spec
    if isinstance(spec, type) and issubclass(spec, ResourceMonitor):
        return spec(frequency=frequency)
    if isinstance(spec, str) and spec in MONITOR_ALIASES:
        return MONITOR_ALIASES[spec](frequency=frequency)
    if isinstance(spec, str) and spec in _NOT_HERE:
        raise ValueError(f"batchkit has no {spec!r} monitor (GPU and disk monitors are batchflow's only)")
    raise ValueError(f"unknown monitor {spec!r}: give one of {sorted(MONITOR_ALIASES)} or a ResourceMonitor")


class Monitor(list):
    """Several resource monitors started and stopped together (a list of them).

    Parameters
    ----------
    monitors : str, ResourceMonitor or a sequence of them
        Names of `MONITOR_ALIASES` (``"cpu"``, ``"memory"``, ...), monitor classes or monitors.
    frequency : float
        Seconds between readings, for the monitors made here.

    Examples
    --------
    >>> import time
    >>> from batchkit import Monitor
    >>> with Monitor(["cpu", "memory"], frequency=0.01) as monitors:
    ...     time.sleep(0.05)
    >>> [type(m).__name__ for m in monitors], all(len(m.data) >= 2 for m in monitors)
    (['CPUMonitor', 'MemoryMonitor'], True)
    """

    def __init__(self, monitors=("cpu", "memory"), frequency: float = 0.1):
        if isinstance(monitors, (str, ResourceMonitor, type)):
            monitors = [monitors]
        super().__init__(make_monitor(spec, frequency) for spec in monitors)

    def start(self) -> Monitor:
        """Start every monitor; return the list."""
        for monitor in self:
            monitor.start()
        return self

    def stop(self) -> Monitor:
        """Stop every monitor; return the list."""
        for monitor in self:
            monitor.stop()
        return self

    def __enter__(self) -> Monitor:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def plot(self):
        """Draw each monitor on an axes of its own, one above the other; return the Figure."""
        from ._plots import pyplot

        figure, axes = pyplot().subplots(len(self), 1, figsize=(6, 2.5 * len(self)), squeeze=False)
        for monitor, ax in zip(self, axes[:, 0], strict=True):
            monitor.plot(ax)
        figure.tight_layout()
        return figure
