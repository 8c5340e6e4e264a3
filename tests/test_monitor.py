"""Resource monitors: readings taken in a thread between start and stop, on psutil."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest

psutil = pytest.importorskip("psutil")

from batchkit import (  # noqa: E402 - after the skip: these need psutil
    MONITOR_ALIASES,
    CPUMonitor,
    MemoryMonitor,
    Monitor,
    RSSMonitor,
    TotalCPUMonitor,
    TotalMemoryMonitor,
)


def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


@pytest.mark.timeout(30)
def test_a_busy_process_reads_near_one_core():
    with CPUMonitor(frequency=0.05) as cpu:
        busy(0.4)
    assert max(cpu.data) > 50 and cpu.UNIT == "%"


@pytest.mark.timeout(30)
def test_readings_and_ticks_match_and_stop_ends_the_thread():
    cpu = CPUMonitor(frequency=0.01).start()
    time.sleep(0.1)
    cpu.stop()
    assert len(cpu.data) == len(cpu.ticks) >= 3 and not cpu.running
    assert cpu.ticks == sorted(cpu.ticks)
    count = len(cpu.data)
    time.sleep(0.05)
    assert len(cpu.data) == count  # nothing sampled after stop


@pytest.mark.timeout(30)
def test_memory_grows_with_an_allocation():
    with MemoryMonitor(frequency=0.01) as memory:
        block = np.ones(2**27 // 8)  # 128 MiB, touched
        time.sleep(0.05)
    assert memory.data[-1] - memory.data[0] > 0.1  # GiB
    del block


@pytest.mark.timeout(60)
def test_children_count_the_worker_processes():
    child = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        alone = CPUMonitor(frequency=0.05)
        with_children = CPUMonitor(frequency=0.05, children=True)
        alone.start(), with_children.start()
        time.sleep(0.5)
        alone.stop(), with_children.stop()
    finally:
        child.kill()
        child.wait(timeout=10)
    assert max(with_children.data) > 50 and max(alone.data) < 50


def test_batchflow_names_and_aliases_resolve_to_the_monitors():
    assert issubclass(RSSMonitor, MemoryMonitor)
    assert MONITOR_ALIASES["cpu"] is CPUMonitor and MONITOR_ALIASES["rss"] is RSSMonitor
    assert MONITOR_ALIASES["total_memory"] is TotalMemoryMonitor


@pytest.mark.timeout(30)
def test_a_monitor_list_starts_and_stops_every_one():
    with Monitor(["cpu", "memory", TotalCPUMonitor(frequency=0.01)], frequency=0.01) as monitors:
        time.sleep(0.05)
    assert [type(m).__name__ for m in monitors] == ["CPUMonitor", "MemoryMonitor", "TotalCPUMonitor"]
    assert all(len(m.data) >= 2 and not m.running for m in monitors)


def test_an_unknown_monitor_name_lists_the_known_ones():
    with pytest.raises(ValueError, match="'cpu'"):
        Monitor("cpuu")


def test_a_bad_frequency_is_refused():
    with pytest.raises(ValueError, match="frequency"):
        CPUMonitor(frequency=0)


@pytest.mark.timeout(60)
def test_plot_draws_one_axes_per_monitor():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    with Monitor(["cpu", "memory"], frequency=0.01) as monitors:
        time.sleep(0.03)
    figure = monitors.plot()
    assert len(figure.axes) == 2 and figure.axes[1].get_ylabel() == "memory (GiB)"


def test_without_psutil_the_error_names_the_extra():
    script = (
        "import sys; sys.modules['psutil'] = None\n"
        "from batchkit import CPUMonitor\n"
        "try:\n    CPUMonitor()\nexcept ImportError as e:\n    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "batchkit-parallel[monitor]" in result.stdout, result.stderr


@pytest.mark.parametrize("name", ["shared", "rss_corrected", "code", "data", "uss", "vms", "total_memory"])
def test_every_memory_kind_reads_a_size_in_gib(name):
    monitor = MONITOR_ALIASES[name]()
    assert 0 <= monitor.read() < psutil.virtual_memory().total / 2**30 + 1 and monitor.UNIT == "GiB"


def test_rss_less_shared_is_rss_minus_the_shared_part():
    info = psutil.Process().memory_info()
    reading = MONITOR_ALIASES["rss_corrected"]().read()
    assert reading == pytest.approx((info.rss - info.shared) / 2**30, rel=0.2)


@pytest.mark.timeout(30)
def test_a_watched_process_that_ends_stops_the_sampling_and_says_why():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.2)"])
    memory = MemoryMonitor(frequency=0.02, pid=child.pid).start()
    child.wait(timeout=10)
    time.sleep(0.2)
    assert not memory.running and isinstance(memory.error, psutil.NoSuchProcess)
    memory.stop()
    assert len(memory.data) >= 1
