"""The worker's side of arrays crossing by reference: mapping segments and files, flushing writes.

What `_shared_arrays.CallArrays` pickles as a reference unpickles here, in the worker, into a
view of the same memory: `_attach_view` maps a shared-memory segment (once per chunk), and
`_open_view` maps a memmap's file (once per worker and file, up to ``MAX_OPEN_FILES``).
`after_chunk` flushes the files a chunk wrote through and lets go of the segments.
"""

from __future__ import annotations

import mmap
import os

__all__ = ["MAX_OPEN_FILES", "after_chunk", "describe_read_only"]

#: files a worker keeps mapped (the oldest is dropped; its views keep the mapping alive)
MAX_OPEN_FILES = 16

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
