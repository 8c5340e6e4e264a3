"""numpy arrays crossing to ``mpc`` workers by reference: memmaps by file, large arrays by shared memory.

Pickled by value, an array crosses once per chunk, and what a worker writes into it is lost.
Instead, while a call's chunks are pickled (`CallArrays.dumps`), the pickler's dispatch table
(looked up in C by exact type, so objects of other types cost nothing more) turns:

* a ``np.memmap`` opened ``r``, ``r+`` or ``w+`` (or a view of one) into its file name, byte
  offset, shape, strides, dtype and mode. The worker maps the file and builds the same view;
  writes through ``r+``/``w+`` land in the file (a worker flushes the files it wrote after
  each chunk). ``w+`` opens as ``r+`` there: it must not truncate the file again. A ``c``
  (copy-on-write) memmap holds private changes the file does not have, so it crosses as an
  ordinary array.
* an array living in a kept segment (`batchkit.shared_array`, `batchkit.to_shared`) into the
  segment's name and the view's offset: no copy at all, and workers write straight into it.
* any other ndarray whose memory (its own, or the base array it views) holds at least
  ``SHARED_MEMORY_THRESHOLD`` bytes into a view of a call segment holding a copy of that base
  array, made at most once per base and call (memoized by ``id``, the base kept alive), so
  the views of one component (``init="images"``) share one copy. After the call the regions
  sent are copied back into the caller's array (`CallArrays.finish`), so in-place writes are
  kept. A base that is read-only, or not contiguous (its memory cannot be copied as one
  block), is shared read-only: a write raises in the item instead of being lost.

Segments, their lifetimes (a call's are kept a few seconds for the next call, whose copy is
then cheaper) and their clean-up after a killed caller are in `_shm_segments`;
the worker's side (mapping, flushing) in `_shared_worker`.
"""

from __future__ import annotations

import copyreg
import io
import itertools
import mmap
import os
import pickle
import sys

from . import _shm_segments
from ._shared_worker import _attach_view, _open_view
from ._shm_segments import CACHE

__all__ = ["CallArrays"]

_counter = itertools.count()
_swept = False


def _threshold() -> int:
    from . import processes  # the documented, patchable setting lives there

    return processes.SHARED_MEMORY_THRESHOLD


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
            _shm_segments.sweep()
        np = sys.modules["numpy"]
        self.np = np
        self.token = f"{os.getpid()}-{next(_counter)}"
        self.threshold = _threshold()
        #: id(root) -> (root, segment, shared copy, writable); the root is kept alive
        self.shared: dict = {}
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
        kept = _shm_segments.find_kept(root)
        if kept is not None:  # it lives in shared memory already: nothing to copy, either way
            name, size, root_offset = kept
            offset = root_offset + _byte_offset(array, root)
            args = (self.token, name, size, offset, array.shape, array.strides, array.dtype)
            return _attach_view, (*args, bool(array.flags.writeable))
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
        args = (self.token, segment.name, segment.size, offset, array.shape, strides, array.dtype)
        return _attach_view, (*args, writable)

    def _segment(self, array):
        """A new call segment holding a copy of ``array``, and that copy (contiguous, in its order)."""
        np = self.np
        segment = CACHE.take(f"{self.token.split('-', 1)[1]}-{len(self.shared)}", array.nbytes)
        try:
            if segment.fresh and (array.flags.c_contiguous or array.flags.f_contiguous):
                segment.fill(array)  # pwrite: no page fault per fresh page
                copy = np.ndarray(array.shape, array.dtype, segment.mapping, 0, array.strides)
            else:  # a reused segment's pages exist: a plain copy (or memory not in one block)
                contiguous = array.flags.c_contiguous or array.flags.f_contiguous
                strides = array.strides if contiguous else None
                copy = np.ndarray(array.shape, array.dtype, segment.mapping, 0, strides)
                copy[...] = array
        except BaseException:
            segment.release()
            raise
        return segment, copy

    def _share(self, root):
        """Copy a contiguous base array into a new segment, once per call."""
        segment, copy = self._segment(root)
        entry = self.shared[id(root)] = (root, segment, copy, bool(root.flags.writeable))
        return entry

    def _share_alone(self, array):
        key = ("alone", id(array))
        entry = self.shared.get(key)
        if entry is None:
            segment, copy = self._segment(array)
            entry = self.shared[key] = (array, segment, copy, False)
        return entry[1], entry[2]

    # -- after the call -----------------------------------------------------------------------

    def finish(self) -> None:
        """Copy what workers wrote back into the caller's arrays; hand the segments back."""
        try:
            for original, view in self.sent.values():
                if original.flags.writeable:
                    original[...] = view
        finally:
            segments = [entry[1] for entry in self.shared.values()]
            self.sent, self.shared = {}, {}  # the views of the segments die with these
            for segment in segments:
                CACHE.give_back(segment)  # kept a few seconds for the next call (see SegmentCache)
