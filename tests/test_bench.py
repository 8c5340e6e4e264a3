"""``python -m batchkit bench``: a quick run writes its table, bench.json and (with matplotlib) bench.png."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from batchkit.bench import run_bench
from batchkit.bench._workloads import WORKLOADS

ROOT = Path(__file__).resolve().parents[1]
RUNNERS = ["loop", "batchkit for", "batchkit threads", "batchkit async", "batchkit mpc",
           "futures threads", "futures processes", "joblib"]  # fmt: skip


@pytest.mark.timeout(120)
def test_a_quick_run_writes_the_table_json_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    results = run_bench(quick=True, out=str(tmp_path))
    printed = capsys.readouterr().out
    assert list(results["workloads"]) == WORKLOADS and results["runners"] == RUNNERS
    for name, workload in results["workloads"].items():
        assert name in printed
        assert workload["speedup"]["loop"] == 1.0
        assert all(workload["seconds"][r] > 0 for r in RUNNERS if r != "batchkit async")
    assert results["workloads"]["I/O-like"]["seconds"]["batchkit async"] > 0  # it has a coroutine form
    assert results["workloads"]["GIL-bound"]["seconds"]["batchkit async"] is None  # n/a, said so
    assert "import batchkit:" in printed and results["import"]["batchkit"] > 0
    assert json.loads((tmp_path / "bench.json").read_text()) == json.loads(json.dumps(results))
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.timeout(120)
def test_the_command_without_matplotlib_still_writes_the_json_with_a_hint(tmp_path):
    block = "import sys; sys.modules['matplotlib'] = None; import runpy; "
    run = "runpy.run_module('batchkit', run_name='__main__')"
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = dict(os.environ, PYTHONPATH=path)
    done = subprocess.run(
        [sys.executable, "-c", block + run, "bench", "--quick", "--out", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "no plot: matplotlib is not installed" in done.stdout
    assert (tmp_path / "bench.json").exists() and not (tmp_path / "bench.png").exists()
    assert "Warning" not in done.stderr  # nothing left for the resource tracker to report at exit
