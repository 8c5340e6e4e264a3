"""The run journal: which batches of a run are finished, so that rerunning the script resumes it.

``pipeline.run(..., journal=path)`` keeps one. A journal is a text file of JSON lines::

    {"format": "batchkit.journal", "version": 2, "run_id": ..., "entropy": ..., "run": {...}}
    {"output": "/abs/out", "state": {...}}                 an output the run opened, as it was then
    {"batch": 1, "status": "done", "fingerprint": ..., "items": 8, "outputs": {"/abs/out": {...}}}
    {"batch": 2, "status": "skipped", "fingerprint": ..., "error": "ValueError: ..."}
    {"batch": 3, "status": "filtered", "fingerprint": ...}    dropped on purpose (SkipBatch)
    {"end": true, "batches": 3}                             the run went to its end

Invariants, on which resuming rests:

1. **The header says what the run is**: the dataset (its size and a hash of its index values),
   the batch class, batch size, order (shuffle, seed), epochs or iterations, drop_last, every
   step of the pipeline with its arguments (a stable description: functions by name and code,
   arrays by hash), the hooks, config, batch arguments and outputs. It is written whole
   (temporary file, fsync, rename) before any batch runs. A journal whose header differs from
   the run is refused, naming what differs. It also keeps the run's id (the outputs' ``run_id``)
   and the entropy of its seed, so that a resumed run draws the same random numbers.
2. **A record never claims more than the disk holds.** Each is one line, appended, flushed and
   fsynced before the run goes on. A ``done`` record is written after the batch went through
   every action and its part of every output is durable (under a journal the writers fsync
   each part, the manifest and the directory before returning).
3. **Batch records are a prefix of the run**: batches 1, 2, 3, ... in order, no gap (numbered
   as ``batch.iteration`` and the run's log number them; version 1 journals counted from 0). Batches
   reach the journal in run order (also under prefetch, where they are consumed in order), and
   a batch that stops the run (``on_error="raise"``, Ctrl-C, a kill) gets no record. A failed
   batch that the run skipped gets a ``skipped`` record: it is not retried, as running it
   after the later ones would break the output's order.
4. **An output may hold more than the journal says, never less.** A crash between a part's
   write and its record leaves one part the journal does not know. On resume each output is
   rolled back to the state in its last record (`BatchWriter.roll_back`: the manifest is put
   back, later parts deleted) before any batch runs, and the run goes on from the first batch
   not journaled. Each batch is therefore in the output exactly once, in run order. An output
   that holds less than its last record (deleted, replaced) is refused.
5. **A torn last line is no record.** A crash while appending may leave part of a line: it is
   cut off when the run resumes. A complete line that does not parse, or records out of order,
   are damage, and refused.
6. **One run at a time**: a running run holds an exclusive lock on the journal file (POSIX).

A resumed run skips the journaled batches without making them: their ``on_batch`` calls and
variable updates are not replayed (the ``before`` and ``after`` hooks run once per run, the
resumed one included). Each skipped batch's index values are checked against the journal's
fingerprint of them, so a changed order is refused.

What the header says about a run, and the fingerprints, are `batchkit._run_description`'s.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from ._run_description import _differences, check_journaled, describe_run, fingerprint
from .errors import JournalMismatch

__all__ = ["Journal", "check_journaled", "describe_run", "fingerprint"]

FORMAT = "batchkit.journal"
VERSION = 2
#: the number of a journal's first batch, per format version (version 1 counted from 0)
_FIRST_BATCH = {1: 0}

try:  # POSIX: one run per journal at a time
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _jsonable(value):
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


# -- the journal file ---------------------------------------------------------------------------


class Journal:
    """The journal of one run: what an earlier run of it finished, and the records of this one.

    Made (and checked against the run) before any work runs; `start` writes the header or
    cuts a torn tail, and takes the lock; `record_*` append; `close` releases it.
    """

    def __init__(self, path, description: dict, entropy, spawn_key=()):
        self.path = Path(path)
        self.description = description
        self.run_id = None
        self.entropy = (str(entropy), list(spawn_key))
        self.fingerprints: list[str] = []
        self.states: dict[str, dict] = {}
        self.ended = False
        self.resuming = False
        self._header = None
        self._good_size = 0
        self._fd = None
        self._load()
        if self._header is not None:
            self._check_header(self._header)
            self.run_id = self._header["run_id"]
            self.entropy = tuple(self._header["entropy"])
            self.resuming = True

    # -- reading ------------------------------------------------------------------------------

    def _load(self) -> None:
        """Read the journal on disk, if any: header, batch fingerprints, last output states."""
        self._header, self.fingerprints, self.states, self.ended = None, [], {}, False
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        if not data:
            return
        offset = 0
        for number, line in enumerate(data.split(b"\n")[:-1], start=1):  # the last piece: torn or empty
            offset += len(line) + 1
            try:
                entry = json.loads(line)
            except ValueError:
                raise JournalMismatch(
                    f"journal {str(self.path)!r} is damaged at line {number} (not JSON); delete it and "
                    "the output it describes to start the run afresh"
                ) from None
            if number == 1:
                if not isinstance(entry, dict) or entry.get("format") != FORMAT:
                    raise JournalMismatch(
                        f"{str(self.path)!r} is not a batchkit journal; choose another path"
                    )
                if entry.get("version", 0) > VERSION:
                    raise JournalMismatch(
                        f"journal {str(self.path)!r} has format version {entry['version']}, newer than "
                        f"this batchkit reads ({VERSION}); upgrade batchkit to resume it"
                    )
                self._header = entry
            else:
                self._take(entry, number)
        self._good_size = offset

    @property
    def _first_batch(self) -> int:
        """The number this journal gives its first batch: 1, or 0 in a version 1 journal."""
        return _FIRST_BATCH.get((self._header or {}).get("version"), 1)

    def _take(self, entry: dict, number: int) -> None:
        if "batch" in entry:
            due = len(self.fingerprints) + self._first_batch
            if entry["batch"] != due:
                raise JournalMismatch(
                    f"journal {str(self.path)!r} is damaged at line {number}: batch {entry['batch']} "
                    f"where batch {due} was due"
                )
            self.fingerprints.append(entry["fingerprint"])
            self.states.update(entry.get("outputs") or {})
        elif "output" in entry:
            self.states[entry["output"]] = entry["state"]
        elif entry.get("end"):
            self.ended = True

    def _check_header(self, header: dict) -> None:
        differences = _differences(header.get("run", {}), self.description)
        if differences:
            outputs = self.description.get("outputs") or []
            where = f" and the output it wrote ({', '.join(map(repr, outputs))})" if outputs else ""
            raise JournalMismatch(
                f"journal {str(self.path)!r} belongs to another run, so this run cannot resume it:\n  "
                + "\n  ".join(differences)
                + f"\nDelete the journal{where} to start this run afresh, or run it as it was "
                "(the same pipeline, dataset and arguments) to resume it."
            )

    @property
    def n_recorded(self) -> int:
        """How many batches, from the first, an earlier run finished (done, skipped or filtered)."""
        return len(self.fingerprints)

    def check_batch(self, position: int, indices) -> None:
        """Raise if the run's batch at ``position`` (from 0) holds other items than the journaled one."""
        if fingerprint(indices) != self.fingerprints[position]:
            number = position + 1
            raise JournalMismatch(
                f"batch {number} of this run holds other items than batch {number} of the "
                f"journal {str(self.path)!r}: the order of batches changed (other data, or another "
                "numpy drawing the shuffle?); delete the journal and its output to start afresh"
            )

    # -- writing ------------------------------------------------------------------------------

    def start(self) -> None:
        """Write the header (a new journal) or cut a torn tail (a resumed one); take the lock."""
        if not self.resuming:
            header = {
                "format": FORMAT,
                "version": VERSION,
                "created": _now(),
                "run_id": self.run_id,
                "entropy": list(self.entropy),
                "run": self.description,
            }
            self._create(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            if fcntl is not None:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    raise JournalMismatch(
                        f"journal {str(self.path)!r} is in use by another run; wait for it to end"
                    ) from None
            self._load()  # again, under the lock: what is on disk now is what counts
            if self._header is None or self._header.get("run_id") != self.run_id:
                raise JournalMismatch(f"journal {str(self.path)!r} was replaced while the run started")
            if os.fstat(self._fd).st_size > self._good_size:
                os.ftruncate(self._fd, self._good_size)  # a torn last line: no record
                os.fsync(self._fd)
        except BaseException:
            self.close()
            raise

    def _create(self, header: bytes) -> None:
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{self.path.name}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(header)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
        from .store._format import _fsync_directory

        _fsync_directory(directory)

    def _append(self, entry: dict) -> None:
        line = memoryview(json.dumps(entry, separators=(",", ":")).encode() + b"\n")
        while line:
            written = os.write(self._fd, line)
            line = line[written:]
        os.fsync(self._fd)

    def record_output(self, path: str, state: dict) -> None:
        self.states[path] = state
        self._append({"output": path, "state": state})

    def record_batch(self, number, status, indices, *, items=None, outputs=None, dropped=(), error=None):
        """Append batch ``number`` (from 1)'s record: the batch is durable in every output."""
        numbered = number - 1 + self._first_batch  # a version 1 journal keeps counting from 0
        entry = {"batch": numbered, "status": status, "fingerprint": fingerprint(indices)}
        if items is not None:
            entry["items"] = items
        if outputs:
            entry["outputs"] = outputs
            self.states.update(outputs)
        if dropped:
            entry["dropped"] = [[_jsonable(value), name, text] for value, name, text in dropped]
        if error is not None:
            entry["error"] = error
        self._append(entry)
        self.fingerprints.append(entry["fingerprint"])

    def record_end(self, batches: int) -> None:
        if not self.ended:
            self._append({"end": True, "batches": batches})
            self.ended = True

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # releases the lock

    # -- outputs ------------------------------------------------------------------------------

    def open_output(self, path, components, mode: str, run_id: str):
        """The writer of a ``write_to`` output, rolled back to the journal's state of it."""
        from .store import MANIFEST, BatchWriter, output_info

        key = os.path.abspath(os.fspath(path))
        state = self.states.get(key)
        manifest = None
        if (Path(key) / MANIFEST).is_file():
            manifest = output_info(key)
        if manifest is not None and manifest.get("run_id") == run_id:
            writer = BatchWriter(path, components, mode="append", run_id=run_id, fsync=True)
            if state is not None:
                try:
                    writer.roll_back(state)
                except ValueError as error:
                    raise JournalMismatch(
                        f"output {key!r} does not hold what journal {str(self.path)!r} recorded: "
                        f"{error}; delete the journal and the output to start afresh"
                    ) from None
        elif state is not None and state["n_parts"] > 0:
            found = (
                "no output" if manifest is None else f"the output of another run ({manifest.get('run_id')!r})"
            )
            raise JournalMismatch(
                f"journal {str(self.path)!r} recorded {state['n_parts']} parts written to {key!r}, "
                f"but {found} is there now; restore it, or delete the journal and the output to start afresh"
            )
        else:  # nothing of this run there yet: open it as the step says
            writer = BatchWriter(path, components, mode=mode, run_id=run_id, fsync=True)
        self.record_output(key, writer.state())
        return writer
