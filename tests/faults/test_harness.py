"""The fault harness itself: results come back and leftover processes are seen."""

import sys

import pytest

from faults.harness import run_scenario

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX only"), pytest.mark.timeout(60)]


def test_a_scenario_reports_its_result():
    """A scenario's report() values come back as a dict."""
    outcome = run_scenario("report(answer=42)")
    assert outcome.returncode == 0 and outcome.result == {"answer": 42}


def test_a_process_left_running_is_seen():
    """A child left running by the scenario is listed as a leftover (then killed)."""
    outcome = run_scenario(
        "import subprocess; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'], "
        "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
        linger=0.5,
    )
    assert len(outcome.leftovers) == 1
