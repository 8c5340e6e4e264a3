"""The concrete resource monitors: CPU and the kinds of memory of a process, and of the machine."""

from __future__ import annotations

from ._monitor_base import GIB, ProcessResourceMonitor, ResourceMonitor, psutil_module

__all__ = [
    "CPUMonitor",
    "CodeMonitor",
    "DataMonitor",
    "MemoryMonitor",
    "RSSMonitor",
    "RSSminusSHRMonitor",
    "SHRMonitor",
    "TotalCPUMonitor",
    "TotalMemoryMonitor",
    "USSMonitor",
    "VMSMonitor",
]


class CPUMonitor(ProcessResourceMonitor):
    """CPU use of a process in percent of one core (200 means two busy cores).

    Takes the arguments of `ProcessResourceMonitor` (``frequency``, ``pid``, ``children``).
    """

    UNIT = "%"
    NAME = "cpu"
    RATE = True

    def read(self) -> float:
        return self._total(lambda process: process.cpu_percent(None))


class MemoryMonitor(ProcessResourceMonitor):
    """Resident memory (RSS) of a process, in GiB (with ``children=True``, summed over them)."""

    UNIT = "GiB"
    NAME = "memory"
    _FIELD = "rss"

    def read(self) -> float:
        return self._total(lambda process: getattr(process.memory_info(), self._FIELD) / GIB)


class RSSMonitor(MemoryMonitor):
    """batchflow's name for `MemoryMonitor`: resident memory (RSS) of a process, in GiB."""

    NAME = "rss"


class VMSMonitor(MemoryMonitor):
    """Virtual memory size of a process, in GiB."""

    NAME = "vms"
    _FIELD = "vms"


class SHRMonitor(MemoryMonitor):
    """Resident memory a process shares with others (Linux: file-backed and shared pages), in GiB."""

    NAME = "shared"
    _FIELD = "shared"


class RSSminusSHRMonitor(MemoryMonitor):
    """Resident memory less the shared part (batchflow's "rss_corrected"), in GiB."""

    NAME = "rss_corrected"

    def read(self) -> float:
        return self._total(lambda process: _rss_less_shared(process.memory_info()) / GIB)


class CodeMonitor(MemoryMonitor):
    """Memory of a process's executable code (text), in GiB (Linux)."""

    NAME = "code"
    _FIELD = "text"


class DataMonitor(MemoryMonitor):
    """Memory of a process's data and stack segments, in GiB (Linux)."""

    NAME = "data"
    _FIELD = "data"


def _rss_less_shared(info) -> float:
    return info.rss - getattr(info, "shared", 0)


class USSMonitor(MemoryMonitor):
    """Memory unique to a process (freed if it ended), in GiB; slower to read than RSS."""

    NAME = "uss"

    def read(self) -> float:
        return self._total(lambda process: process.memory_full_info().uss / GIB)


class TotalCPUMonitor(ResourceMonitor):
    """CPU use of the whole machine, in percent of all its cores."""

    UNIT = "%"
    NAME = "total_cpu"
    RATE = True

    def __init__(self, frequency: float = 0.1):
        super().__init__(frequency)
        self._psutil = psutil_module(type(self).__name__)

    def read(self) -> float:
        return self._psutil.cpu_percent(None)


class TotalMemoryMonitor(ResourceMonitor):
    """Memory in use on the whole machine, in GiB."""

    UNIT = "GiB"
    NAME = "total_memory"

    def __init__(self, frequency: float = 0.1):
        super().__init__(frequency)
        self._psutil = psutil_module(type(self).__name__)

    def read(self) -> float:
        return self._psutil.virtual_memory().used / GIB
