"""A journaled run killed with SIGKILL, at random or exactly chosen points, then run again.

Whatever the point (mid-action, mid-write of a part, between a part and the manifest, between
the manifest and the journal record, mid-record, mid-roll-back on resume), rerunning the same
script finishes the run, and the output holds each batch exactly once, in run order.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sys
import time

import numpy as np
import pytest

from batchkit import read_output
from faults.harness import finish_scenario, run_scenario, start_scenario

pytestmark = [pytest.mark.skipif(sys.platform == "win32", reason="POSIX only"), pytest.mark.timeout(180)]

N, BATCH, WIDTH = 48, 4, 2000


def scenario(out, journal, prefetch=0, inject="") -> str:
    """The script: 12 batches of 4 items, each doubled, paused 20 ms and written (64 kB a part)."""
    return f"""
import os, signal
from batchkit import action
import pipeline_helpers as helpers
{inject}
pipeline = (
    helpers.journaled_dataset({N}, width={WIDTH})
    .p.before.call(print, "started", flush=True)
    .double()
    .pause(0.02)
    .write_to({str(out)!r})
)
pipeline.run({BATCH}, bar=False, journal={str(journal)!r}, prefetch={prefetch})
report(done=pipeline.last_run.batches_done, resumed=pipeline.last_run.batches_resumed)
"""


def killed_after(code: str, delay: float):
    """Start the script, SIGKILL it ``delay`` seconds after its run started; return its outcome."""
    started = time.monotonic()
    process, marker = start_scenario(code)
    line = process.stdout.readline()
    if "started" in line:
        time.sleep(delay)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    return finish_scenario(process, marker, timeout=60, started=started)


def assert_exactly_once_in_order(out) -> None:
    result = read_output(out)
    assert result["indices"].tolist() == list(range(N))
    expected = 2 * np.repeat(np.arange(N)[:, None], WIDTH, axis=1)
    assert np.array_equal(result["x"], expected)


def journaled_batches(journal) -> int:
    """Batch records in the journal, a torn last line (no newline yet) not counted."""
    complete = journal.read_text().split("\n")[:-1]
    return sum(1 for line in complete if line.startswith('{"batch"'))


@pytest.mark.parametrize("prefetch", [0, 3], ids=["no prefetch", "prefetch=3"])
def test_killed_at_random_points_the_rerun_writes_each_batch_once_in_order(tmp_path, prefetch):
    """Rounds of: run, kill -9 after a random delay, run and kill again, run to the end; check the output."""
    rng = random.Random(20260 + prefetch)
    landed = []
    for round_ in range(4):
        out, journal = tmp_path / f"out{round_}", tmp_path / f"run{round_}.journal"
        code = scenario(out, journal, prefetch)
        # the run takes about 0.3 s (0.1 s with prefetch); what is left of it after a kill, less
        for limit in (0.25, 0.12) if prefetch == 0 else (0.1, 0.05):
            delay = rng.uniform(0.0, limit)
            outcome = killed_after(code, delay)
            assert outcome.returncode in (0, -signal.SIGKILL), outcome.stderr
            assert outcome.leftovers == []
            if journal.exists() and (out / "manifest.json").exists():
                from batchkit import output_info

                landed.append((round(delay, 3), journaled_batches(journal), output_info(out)["n_parts"]))
        final = run_scenario(code, timeout=60)
        assert final.returncode == 0, final.stderr
        assert final.result["done"] + final.result["resumed"] == N // BATCH
        assert_exactly_once_in_order(out)
    # the kills landed at different points of the run (batches journaled when killed)
    print("delay, batches journaled, parts in the output:", landed)
    assert len({journaled for _, journaled, _ in landed}) >= 2, landed


INJECTIONS = {
    # the kill lands inside the action of batch 5 (items 20-23)
    "mid-action": """
original = helpers.Journaled.pause
def pause(self, seconds):
    if 20 in self.indices:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, seconds)
helpers.Journaled.pause = action(pause)
""",
    # half of part 5 is in its temporary file
    "mid-part-write": """
import numpy as np
original, count = np.savez, [0]
def savez(file, **arrays):
    count[0] += 1
    if count[0] == 6:
        file.write(b"half a part")
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return original(file, **arrays)
np.savez = savez
""",
    # part 5 is in place, the manifest does not count it yet
    "part-before-manifest": """
from batchkit.store import BatchWriter
original = BatchWriter._write_manifest
def write_manifest(self, manifest):
    if manifest["n_parts"] == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, manifest)
BatchWriter._write_manifest = write_manifest
""",
    # part 5 (batch 6) is in the output and counted, the journal does not know it
    "manifest-before-record": """
from batchkit._journal import Journal
original = Journal.record_batch
def record_batch(self, number, *args, **kwargs):
    if number == 6:
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, number, *args, **kwargs)
Journal.record_batch = record_batch
""",
    # half of batch 6's record (part 5) is in the journal
    "mid-record": """
import json
from batchkit._journal import Journal
original = Journal._append
def append(self, entry):
    if entry.get("batch") == 6:
        line = json.dumps(entry).encode()
        os.write(self._fd, line[: len(line) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    return original(self, entry)
Journal._append = append
""",
    # the header is on disk, nothing else
    "after-header": """
from batchkit._journal import Journal
original = Journal._create
def create(self, header):
    original(self, header)
    os.kill(os.getpid(), signal.SIGKILL)
Journal._create = create
""",
    # the output is made (an empty manifest of this run), its record is not in the journal
    "output-before-record": """
from batchkit._journal import Journal
def record_output(self, path, state):
    os.kill(os.getpid(), signal.SIGKILL)
Journal.record_output = record_output
""",
}


def left_behind(out, journal) -> dict:
    """What a killed run left: batches journaled, parts the manifest counts, files in the output."""
    from batchkit import output_info

    manifest = out / "manifest.json"
    text = journal.read_text() if journal.exists() else ""
    return {
        "journaled": journaled_batches(journal) if journal.exists() else None,
        "torn": bool(text) and not text.endswith("\n"),
        "n_parts": output_info(out)["n_parts"] if manifest.exists() else None,
        "files": sorted(path.name for path in out.iterdir()) if out.exists() else [],
    }


#: what each injected kill leaves behind: proof that it landed in its window
LEFT = {
    "mid-action": lambda left: left["journaled"] == 5 and left["n_parts"] == 5,
    "mid-part-write": lambda left: (
        left["n_parts"] == 5 and any(name.startswith(".batchkit-part-000005") for name in left["files"])
    ),
    "part-before-manifest": lambda left: (
        left["journaled"] == 5 and left["n_parts"] == 5 and "part-000005.npz" in left["files"]
    ),
    "manifest-before-record": lambda left: left["journaled"] == 5 and left["n_parts"] == 6,
    "mid-record": lambda left: left["journaled"] == 5 and left["torn"] and left["n_parts"] == 6,
    "after-header": lambda left: left["journaled"] == 0 and left["n_parts"] is None,
    "output-before-record": lambda left: left["journaled"] == 0 and left["n_parts"] == 0,
}


@pytest.mark.parametrize("where", list(INJECTIONS))
def test_killed_at_each_crash_window_the_rerun_writes_each_batch_once_in_order(tmp_path, where):
    """SIGKILL exactly inside one crash window, then a plain rerun: the output is whole, once, in order."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    killed = run_scenario(scenario(out, journal, inject=INJECTIONS[where]), timeout=60)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    left = left_behind(out, journal)
    assert LEFT[where](left), left
    final = run_scenario(scenario(out, journal), timeout=60)
    assert final.returncode == 0, final.stderr
    assert final.result["done"] + final.result["resumed"] == N // BATCH
    assert_exactly_once_in_order(out)


def test_killed_while_rolling_back_on_resume(tmp_path):
    """A kill while the resumed run rolls the output back (manifest put back, parts not yet deleted)."""
    out, journal = tmp_path / "out", tmp_path / "run.journal"
    first = run_scenario(scenario(out, journal, inject=INJECTIONS["manifest-before-record"]), timeout=60)
    assert first.returncode == -signal.SIGKILL
    assert left_behind(out, journal)["n_parts"] == 6  # one part more than the journal knows
    rolling = """
import batchkit.store._writer as store
def unlink(path):
    os.kill(os.getpid(), signal.SIGKILL)
store.os.unlink = unlink
"""
    second = run_scenario(scenario(out, journal, inject=rolling), timeout=60)
    assert second.returncode == -signal.SIGKILL
    left = left_behind(out, journal)
    assert left["n_parts"] == 5 and "part-000005.npz" in left["files"], left  # rolled back, not deleted
    final = run_scenario(scenario(out, journal), timeout=60)
    assert final.returncode == 0, final.stderr
    assert final.result["resumed"] == 5
    assert_exactly_once_in_order(out)
