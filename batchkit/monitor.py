"""Resource monitors: the CPU and memory of a process (or the machine), sampled while work runs.

batchflow's monitor names, on psutil (the ``monitor`` extra). A monitor samples one quantity in
a daemon thread every ``frequency`` seconds between ``start()`` and ``stop()`` (or inside a
``with`` block) into ``data``, with the sampling times in ``ticks``. `Monitor` runs several at
once. A `Notifier` shows their last readings next to its bar; ``plot()`` draws them
(matplotlib, the ``plot`` extra).

psutil is imported when a monitor is made, never with batchkit; without it the error names the
extra to install. The monitors live in ``_monitor_base`` (sampling) and ``_monitor_kinds`` (what
each reads); this module names them and runs several together.
"""

from __future__ import annotations

from ._monitor_base import ProcessResourceMonitor, ResourceMonitor
from ._monitor_kinds import (
    CodeMonitor,
    CPUMonitor,
    DataMonitor,
    MemoryMonitor,
    RSSminusSHRMonitor,
    RSSMonitor,
    SHRMonitor,
    TotalCPUMonitor,
    TotalMemoryMonitor,
    USSMonitor,
    VMSMonitor,
)

__all__ = [
    "MONITOR_ALIASES",
    "CPUMonitor",
    "CodeMonitor",
    "DataMonitor",
    "MemoryMonitor",
    "Monitor",
    "ProcessResourceMonitor",
    "RSSMonitor",
    "RSSminusSHRMonitor",
    "ResourceMonitor",
    "SHRMonitor",
    "TotalCPUMonitor",
    "TotalMemoryMonitor",
    "USSMonitor",
    "VMSMonitor",
]


MONITOR_ALIASES = {
    "cpu": CPUMonitor,
    "memory": MemoryMonitor,
    "rss": RSSMonitor,
    "vms": VMSMonitor,
    "uss": USSMonitor,
    "shr": SHRMonitor,
    "shared": SHRMonitor,
    "rss-shared": RSSminusSHRMonitor,
    "rss_corrected": RSSminusSHRMonitor,
    "code": CodeMonitor,
    "text": CodeMonitor,
    "data": DataMonitor,
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
