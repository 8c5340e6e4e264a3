"""mpc: the pool itself: reused by consecutive calls, grown on request, shared by threads.

The tests that need no fault run in this process; the one about scripts runs a script file.
"""

import subprocess
import sys
import textwrap
import threading
import time

import pytest

from batchkit import get_executor, parallel
from faults import workers
from faults.harness import run_scenario

pytestmark = [pytest.mark.skipif(sys.platform != "linux", reason="Linux signals and /proc")]


def keep(results, *args, **kwargs):
    return results


@pytest.mark.timeout(60)
def test_consecutive_calls_share_one_pool_and_its_processes():
    """Two calls in a row run on the same pool object and the same worker processes."""
    pids = parallel(init=lambda *a, **k: list(range(8)), target="mpc", n_workers=2)(workers.pid_after)
    first = set(pids(0.02))
    pool = get_executor("mpc")._workers
    second = set(pids(0.02))
    assert get_executor("mpc")._workers is pool
    assert first == second and len(first) == 2


@pytest.mark.timeout(60)
def test_a_call_uses_at_most_n_workers_processes_and_the_pool_grows_on_request():
    """n_workers=1 keeps a call on one process; n_workers=3 grows the pool to three."""
    pids = parallel(init=lambda *a, **k: list(range(12)), target="mpc")(workers.pid_after)
    assert len(set(pids(0.02, n_workers=1))) == 1
    assert len(set(pids(0.05, n_workers=3))) == 3
    assert get_executor("mpc")._workers.size >= 3


@pytest.mark.timeout(60)
def test_calls_of_four_threads_with_deaths_of_every_kind_each_get_exactly_their_failures():
    """60 calls from four threads: exits, SIGKILLs, segfaults, exceptions and plain items mixed.

    Each call has exactly its own failures, every other item its value, whatever the others
    sharing the pool do at the same time (n_workers from 1 to 4: the pool grows meanwhile).
    """
    outcome = run_scenario(STRESS, timeout=60)
    assert outcome.result, outcome.stderr
    result = outcome.result
    print(f"\nMPC-FAULT 4 threads x 15 mixed calls: {result['seconds']:.2f} s, wrong calls {result['wrong']}")
    assert outcome.result["wrong"] == []
    assert outcome.returncode == 0 and outcome.leftovers == []


STRESS = """
import random, threading, time
from batchkit import parallel
from faults import workers

def keep(results, *args, **kwargs):
    return results

wrong = []

def calls(seed):
    rnd = random.Random(seed)
    kinds = [workers.exit_at, workers.sigkill_at, workers.segfault_at, workers.fail_at, workers.nap]
    for _ in range(15):
        fn, n, n_workers = rnd.choice(kinds), rnd.randint(1, 40), rnd.randint(1, 4)
        init = lambda *a, **k: list(range(n))  # noqa: E731
        action = parallel(init=init, post=keep, target="mpc", n_workers=n_workers)(fn)
        bad = [] if fn is workers.nap else sorted(rnd.sample(range(n), min(n, rnd.randint(1, 3))))
        results = action(0.002) if fn is workers.nap else action(bad, 0.001)
        if results.failed_positions != bad or any(results[i] != i for i in range(n) if i not in bad):
            wrong.append([seed, fn.__name__, n, n_workers, bad, results.failed_positions])

start = time.monotonic()
threads = [threading.Thread(target=calls, args=(seed,)) for seed in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join(50)
report(seconds=time.monotonic() - start, wrong=wrong)
"""

SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from batchkit import parallel
    from faults import workers

    print("body", flush=True)  # runs once: the workers do not import this script
    action = parallel(init=lambda *a: list(range(6)), target="mpc", n_workers=2)(workers.nap)
    print(action(0.0), flush=True)
    """
)


@pytest.mark.timeout(60)
def test_a_script_without_a_main_guard_runs_once(tmp_path):
    """A script file without ``if __name__ == "__main__":`` works: workers never import it."""
    from faults.harness import TESTS

    script = tmp_path / "unguarded.py"
    script.write_text(SCRIPT.format(tests=TESTS))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=50)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["body", "[0, 1, 2, 3, 4, 5]"]


@pytest.mark.timeout(60)
def test_a_call_waiting_for_a_worker_gets_one_from_a_call_that_holds_both():
    """A call that holds every worker gives one up when another call waits: both make progress."""
    long = parallel(init=lambda *a, **k: list(range(40)), post=keep, target="mpc", n_workers=2)(workers.nap)
    short = parallel(init=lambda *a, **k: list(range(4)), post=keep, target="mpc", n_workers=2)(workers.nap)
    long(0.0)
    short(0.0)
    finished = {}

    def run_long():
        finished["long"] = long(0.05)  # 2 s on two workers

    thread = threading.Thread(target=run_long)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert short(0.01) == [0, 1, 2, 3]
    waited = time.monotonic() - started
    thread.join(30)
    assert finished["long"] == list(range(40))
    assert waited < 1.0  # not the ~1.7 s the long call had left


FORKED = """
import os, sys
from batchkit import parallel
from faults import workers

pids = parallel(init=lambda *a, **k: list(range(6)), target="mpc", n_workers=2)(workers.pid_after)
before = set(pids(0.02))
child = os.fork()
if child == 0:  # a fork of the caller: whatever it does, its exit must not touch the parent's pool
    try:
        pids(0.02)  # may fail: multiprocessing's forkserver does not survive os.fork
    except Exception:
        pass
    sys.exit(0)
os.waitpid(child, 0)
report(after=sorted(set(pids(0.02))), before=sorted(before))
"""


@pytest.mark.timeout(60)
def test_a_forked_copy_of_the_caller_leaves_the_parents_workers_alone():
    """A child made by os.fork that calls and exits does not kill or take over the parent's workers."""
    outcome = run_scenario(FORKED, timeout=45)
    result = outcome.result
    assert result, outcome.stderr
    assert result["after"] == result["before"]
    assert outcome.returncode == 0 and outcome.leftovers == []
