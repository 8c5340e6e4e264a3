"""numpy arrays crossing to ``mpc`` workers by reference: memmaps by file, large arrays by shared memory.

Pickled by value, an array crosses once per chunk, and what a worker writes into it is lost.
Instead, while a call's chunks are pickled (`CallArrays.dumps`), the pickler's dispatch table
(looked up in C by exact type, so objects of other types cost nothing more) turns:

* a ``np.memmap`` opened ``r``, ``r+`` or ``w+`` (or a view of one) into its file name, byte
  offset, shape, strides, dtype and mode. The worker maps the file (once per worker and file,
  see `_open_file`) and builds the same view; writes through ``r+``/``w+`` land in the file
  (a worker flushes the files it wrote after each chunk). ``w+`` opens as ``r+`` there: it
  must not truncate the file again. A ``c`` (copy-on-write) memmap holds private changes the
  file does not have, so it crosses as an ordinary array.
* an ndarray whose memory (its own, or the base array it views) holds at least
  ``SHARED_MEMORY_THRESHOLD`` bytes into a view of a shared-memory segment holding a copy of
  that base array, made at most once per base and call (memoized by ``id``, the base kept
  alive), so the views of one component (``init="images"``) share one copy. After the call
  the regions sent are copied back into the caller's array (`CallArrays.finish`), so
  in-place writes are kept. A base that is read-only, or not contiguous (its memory cannot be
  copied as one block), is shared read-only: a write raises in the item instead of being lost.

Segments are named ``batchkit-<pid>-<n>``, unlinked when the call ends, and registered with
multiprocessing's resource tracker, a separate process that unlinks them if the caller dies
(SIGKILL included). As a second line, the first call of a process unlinks the segments left
by processes that no longer exist (`sweep`).

Workers map segments with ``shm_open`` and ``mmap`` directly (``SharedMemory`` would register
them with the tracker again, on 3.11); a mapping is shared by the items of a chunk and
dropped after it (`after_chunk`).
"""

from __future__ import annotations

import contextlib
import copyreg
import io
import itertools
import mmap
import os
import pickle
import sys

__all__ = ["SHARED_MEMORY_THRESHOLD", "CallArrays", "after_chunk", "describe_read_only", "sweep"]

#: an array (or the base it views) of at least this many bytes crosses through shared memory
SHARED_MEMORY_THRESHOLD = 1 << 20
#: files a worker keeps mapped (the oldest is dropped; its views keep the mapping alive)
MAX_OPEN_FILES = 16
_PREFIX = "batchkit-"
_SHM_DIR = "/dev/shm"
_counter = itertools.count()
_swept = False


def _threshold() -> int:
    from . import processes  # the documented, patchable setting lives there

    return processes.SHARED_MEMORY_THRESHOLD


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one of another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> list[str]:
    """Unlink the segments of batchkit processes that no longer exist; return their names."""
    removed = []
    try:
        names = os.listdir(_SHM_DIR)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(_PREFIX):
            continue
        pid = name[len(_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(_SHM_DIR, name))
                removed.append(name)
            except OSError:
                continue
    return removed


def _root(array):
    """The array that owns the memory ``array`` views (``array`` itself if it owns its memory)."""
    np = sys.modules["numpy"]
    root = array
    while isinstance(root.base, np.ndarray):
        root = root.base
    return root


def _byte_offset(array, root) -> int:
    return array.__array_interface__["data"][0] - root.__array_interface__["data"][0]


class CallArrays:
    """The arrays one ``mpc`` call shares with its workers, and their segments."""

    def __init__(self):
        global _swept
        if not _swept:
            _swept = True
            sweep()
        np = sys.modules["numpy"]
        self.np = np
        self.token = f"{os.getpid()}-{next(_counter)}"
        self.threshold = _threshold()
        #: id(root) -> (root, segment, shared copy, writable); the root is kept alive
        self.shared: dict[int, tuple] = {}
        #: (original view, shared view) pairs to copy back after the call, by id of the view
        self.sent: dict[int, tuple] = {}
        self.table = copyreg.dispatch_table.copy()
        self.table[np.ndarray] = self._reduce
        self.table[np.memmap] = self._reduce

    # -- pickling -----------------------------------------------------------------------------

    def dumps(self, obj) -> bytes:
        buffer = io.BytesIO()
        pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        pickler.dispatch_table = self.table
        pickler.dump(obj)
        return buffer.getvalue()

    def reduce(self, obj):
        """The reduction of ``obj`` if it is an array crossing by reference, else NotImplemented."""
        kind = type(obj)
        if kind is self.np.memmap or kind is self.np.ndarray:
            return self._reduce(obj)
        return NotImplemented

    def _reduce(self, array):
        np = self.np
        root = _root(array)
        if isinstance(root, np.memmap) and isinstance(root.base, mmap.mmap) and root.mode != "c":
            if not root.filename:
                raise TypeError("a memmap without a file name cannot cross to worker processes")
            offset = root.offset + _byte_offset(array, root)
            mode = "r" if root.mode == "r" else "r+"  # w+ must not truncate the file again
            return _open_view, (root.filename, mode, offset, array.shape, array.strides, array.dtype)
        if array.dtype.hasobject or root.nbytes < self.threshold:
            return array.__reduce_ex__(pickle.HIGHEST_PROTOCOL)  # by value, as before
        if root.flags.c_contiguous or root.flags.f_contiguous:
            _, segment, copy, writable = self.shared.get(id(root)) or self._share(root)
            offset, strides = _byte_offset(array, root), array.strides
            writable = writable and bool(array.flags.writeable)
            if writable:
                view = np.ndarray(array.shape, array.dtype, copy.data, offset, strides)
                self.sent.setdefault(id(array), (array, view))
        else:  # memory that is not one block: the array alone, read-only
            segment, copy = self._share_alone(array)
            offset, strides, writable = 0, copy.strides, False
        args = (self.token, segment.name.lstrip("/"), segment.size, offset, array.shape, strides, array.dtype)
        return _attach_view, (*args, writable)

    def _segment(self, nbytes: int):
        from multiprocessing import resource_tracker, shared_memory

        name = f"{_PREFIX}{self.token}-{len(self.shared)}"
        # Registered before it exists: a caller killed while creating it leaves no segment
        # the tracker does not know (SharedMemory registers it again, which changes nothing).
        resource_tracker.register("/" + name, "shared_memory")
        try:
            return shared_memory.SharedMemory(name=name, create=True, size=max(1, nbytes))
        except BaseException:
            resource_tracker.unregister("/" + name, "shared_memory")
            raise

    def _share(self, root):
        """Copy a contiguous base array into a new segment, once per call."""
        segment = self._segment(root.nbytes)
        copy = self.np.ndarray(root.shape, root.dtype, segment.buf, 0, root.strides)
        copy[...] = root
        entry = self.shared[id(root)] = (root, segment, copy, bool(root.flags.writeable))
        return entry

    def _share_alone(self, array):
        key = ("alone", id(array))
        entry = self.shared.get(key)
        if entry is None:
            segment = self._segment(array.nbytes)
            copy = self.np.ndarray(array.shape, array.dtype, segment.buf)
            copy[...] = array
            entry = self.shared[key] = (array, segment, copy, False)
        return entry[1], entry[2]

    # -- after the call -----------------------------------------------------------------------

    def finish(self) -> None:
        """Copy what workers wrote back into the caller's arrays; unlink every segment."""
        try:
            for original, view in self.sent.values():
                if original.flags.writeable:
                    original[...] = view
        finally:
            segments = [entry[1] for entry in self.shared.values()]
            self.sent, self.shared = {}, {}  # the views of the segments die with these
            for segment in segments:
                try:
                    segment.unlink()
                finally:
                    with contextlib.suppress(BufferError):  # a view still alive: unmapped when it dies
                        segment.close()


# -- the worker's side ----------------------------------------------------------------------------

#: what a worker keeps mapped: the segments of the current call, and open files
_segments: dict[str, mmap.mmap] = {}
_segments_call = [""]
_files: dict[tuple, tuple] = {}
#: files written through in the current chunk (flushed by `after_chunk`)
_dirty: set = set()
#: why the arrays of the current chunk are read-only, when some are
_read_only: list[str] = []


def _attach_view(token, name, size, offset, shape, strides, dtype, writable):
    import _posixshmem

    import numpy as np

    if _segments_call[0] != token:  # a new call: the previous call's segments are gone
        _segments.clear()
        _segments_call[0] = token
    mapping = _segments.get(name)
    if mapping is None:
        fd = _posixshmem.shm_open("/" + name, os.O_RDWR, mode=0o600)
        try:
            mapping = _segments[name] = mmap.mmap(fd, size)
        finally:
            os.close(fd)
    view = np.ndarray(shape, dtype, mapping, offset, strides)
    if not writable:
        view.flags.writeable = False
        _read_only.append(name)
    return view


def _open_file(filename, mode):
    stat = os.stat(filename)
    key = (filename, mode, stat.st_ino, stat.st_size)
    entry = _files.get(key)
    if entry is None:
        with open(filename, "rb" if mode == "r" else "r+b") as file:
            access = mmap.ACCESS_READ if mode == "r" else mmap.ACCESS_WRITE
            mapping = mmap.mmap(file.fileno(), 0, access=access) if stat.st_size else None
        while len(_files) >= MAX_OPEN_FILES:
            _files.pop(next(iter(_files)))
        entry = _files[key] = (mapping,)
    return entry[0]


def _open_view(filename, mode, offset, shape, strides, dtype):
    import numpy as np

    mapping = _open_file(filename, mode)
    view = np.ndarray(shape, dtype, mapping, offset, strides)
    if mode == "r":
        _read_only.append(filename)
    else:
        _dirty.add(mapping)
    return view


def after_chunk() -> None:
    """In a worker, after each chunk: flush the files written through, let go of the segments.

    A segment stays mapped while a view of it lives (the chunk's calls, until they are freed);
    kept past the chunk, an unlinked segment's memory would stay in use until the next call.
    Mapping it again for the next chunk costs a ``shm_open`` and an ``mmap``.
    """
    _read_only.clear()
    _segments.clear()
    while _dirty:
        _dirty.pop().flush()


def describe_read_only(exc: BaseException) -> None:
    """Add a note to a worker's ``exc`` that is numpy's refusal to write a read-only shared array."""
    if _read_only and isinstance(exc, ValueError) and "read-only" in str(exc):
        exc.add_note(
            "batchkit: an array of this item crossed to the mpc worker read-only, because the "
            "caller's array (or memmap) is read-only, or its memory is not one block, so a write "
            "could not be kept. Pass a writable array (np.ascontiguousarray makes one), or return "
            "the new values."
        )
