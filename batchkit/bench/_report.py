"""What ``python -m batchkit bench`` writes: the table, ``bench.json`` and ``bench.png``."""

from __future__ import annotations

import json
import os
import platform

from ..report import seconds_text

__all__ = ["machine", "plot", "table", "write_json"]


def machine() -> dict:
    """The machine and the versions that matter, for the record."""
    import joblib
    import numba
    import numpy

    from .. import __version__
    from .._cpus import available_cpus

    return {
        "cpus": available_cpus(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "batchkit": __version__,
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "joblib": joblib.__version__,
    }


def _time(seconds: float | None) -> str:
    return "n/a" if seconds is None else seconds_text(seconds)


def table(results: dict) -> str:
    """A plain-text table: per workload, each runner's time and its speed-up over the loop."""
    runners = results["runners"]
    lines = []
    for name, workload in results["workloads"].items():
        lines.append(f"{name} ({workload['what']}; time per {workload['per']})")
        for runner in runners:
            seconds, speedup = workload["seconds"].get(runner), workload["speedup"].get(runner)
            shown = "" if speedup is None else f"{speedup:6.2f}x"
            lines.append(f"  {runner:18s} {_time(seconds):>10s} {shown}")
    imports = results.get("import")
    if imports:
        lines.append(
            f"import batchkit: {_time(imports['batchkit'])}, import numba: {_time(imports['numba'])} "
            f"({imports['batchkit'] / imports['numba']:.2f}x)"
        )
    return "\n".join(lines)


def write_json(results: dict, path: str) -> None:
    with open(path, "w") as file:
        json.dump(results, file, indent=2)


def plot(results: dict, path: str) -> bool:
    """Bars of speed-up over the plain loop, per workload, one colour per runner; False without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    workloads = list(results["workloads"])
    runners = [r for r in results["runners"] if r != "loop"]
    width = 0.8 / len(runners)
    figure, axes = plt.subplots(figsize=(max(7, 1.8 * len(workloads)), 4.2))
    for k, runner in enumerate(runners):
        values = [results["workloads"][w]["speedup"].get(runner) or 0.0 for w in workloads]
        positions = [i + (k - (len(runners) - 1) / 2) * width for i in range(len(workloads))]
        axes.bar(positions, values, width, label=runner)
    axes.axhline(1.0, color="black", linewidth=0.8)
    axes.set_yscale("log")
    axes.set_xticks(range(len(workloads)), workloads)
    axes.set_ylabel("speed-up over the plain loop (log)")
    axes.set_title(f"python -m batchkit bench ({results['machine']['cpus']} CPUs)")
    axes.legend(fontsize=8, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return os.path.exists(path)
