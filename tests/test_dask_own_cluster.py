"""The LocalCluster batchkit starts when no dask client is in force: loopback only, announced.

One script, in a fresh interpreter, runs an action on ``target="dask"`` with no client anywhere,
then reports what listens and where; the tests read its report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("distributed")
pytestmark = pytest.mark.timeout(90)

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import json, os
import psutil
import batchkit
from batchkit import parallel
from batchkit.executors import _dask_client

results = parallel(init=lambda: range(6), target="dask")(abs)()
pid, cluster, client = _dask_client._OWN
processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
listening = sorted({
    c.laddr.ip for p in processes for c in p.net_connections("tcp") if c.status == psutil.CONN_LISTEN
})
n_workers = len(client.nthreads())
try:
    import distributed
    distributed.default_client()
    default = True
except ValueError:
    default = False
batchkit.shutdown_executors()
closed = _dask_client._OWN is None and client.status == "closed"
again = parallel(init=lambda: range(3), target="dask")(abs)()  # a later call starts a new one
report = {"results": results, "listening": listening, "workers": n_workers, "default": default}
report.update(closed=closed, again=again)
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=80, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def test_action_runs_on_the_cluster_batchkit_starts(report):
    """With no client in force, an action on target='dask' runs on a cluster batchkit starts."""
    assert report[0]["results"] == list(range(6))


def test_started_cluster_listens_on_loopback_only(report):
    """Every socket the started cluster listens on (scheduler, nannies, workers) is on 127.0.0.1."""
    assert report[0]["listening"] == ["127.0.0.1"]


def test_start_is_announced_on_stderr(report):
    """Starting the cluster prints one line on stderr saying where it runs and where its dashboard is."""
    assert "batchkit: started a dask LocalCluster" in report[1] and "dashboard:" in report[1]


def test_started_cluster_has_one_worker_per_core(report):
    """The started cluster has one worker process per available core."""
    from batchkit._cpus import available_cpus

    assert report[0]["workers"] == available_cpus()


def test_started_cluster_is_not_dask_default_client(report):
    """The client batchkit makes is not made dask's default: the application's dask stays its own."""
    assert report[0]["default"] is False


def test_shutdown_closes_the_started_cluster(report):
    """shutdown_executors closes the cluster batchkit started."""
    assert report[0]["closed"] is True


def test_a_call_after_shutdown_starts_a_new_cluster(report):
    """After shutdown_executors, the next call on target='dask' starts a cluster again."""
    assert report[0]["again"] == [0, 1, 2]


def test_script_without_main_guard_is_told_to_add_one(tmp_path):
    """A script calling target='dask' at top level, with no __main__ guard, fails saying to add one."""
    script = tmp_path / "unguarded.py"
    script.write_text("from batchkit import parallel\nparallel(init=[1, 2], target='dask')(abs)()\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=80, check=False
    )
    assert done.returncode != 0 and "if __name__ == '__main__':" in done.stderr
