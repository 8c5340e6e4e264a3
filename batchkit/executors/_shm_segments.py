"""POSIX shared-memory segments made by batchkit: created, filled, released, swept.

Two kinds of segment exist, both named ``batchkit-<pid>-<tag>`` so that a later process can
tell whose they are:

* a **call segment** (`Segment`) holds a copy of one array for one ``mpc`` call and is
  unlinked when the call ends (`_shared_arrays.CallArrays`);
* a **kept segment** holds an array made by `new_kept_array` (`batchkit.shared_array`,
  `batchkit.to_shared`): it lives as long as that array, so the array crosses to the workers
  of any number of calls with no copy at all. It is unlinked when the last view of it is
  garbage-collected, by the process that made it only (a forked child dropping its inherited
  copy must not unlink its parent's data).

Each segment is registered with multiprocessing's resource tracker before it exists; the
tracker, a separate process, unlinks it if its maker dies (SIGKILL included). As a second
line, `sweep` unlinks the segments of batchkit processes that no longer exist.

A segment is filled with ``pwrite`` on its descriptor rather than through its mapping: on
Linux, writing fresh tmpfs pages through a mapping takes a page fault per page (about 1.1 s
per GiB measured on the reference machine, against 0.5 s for ``pwrite``).
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import mmap
import numbers
import os
import sys
import threading
import time
import weakref

__all__ = ["CACHE", "PREFIX", "Segment", "SegmentCache", "find_kept", "new_kept_array", "pid_alive", "sweep"]

PREFIX = "batchkit-"
SHM_DIR = "/dev/shm"
#: ``pwrite`` moves at most this much per call (Linux caps one write just under 2 GiB)
_WRITE_STEP = 1 << 30
_kept_counter = itertools.count()
#: id(mapping) -> (name, address of the mapping's first byte, size) of each kept segment alive
_kept: dict[int, tuple[str, int, int]] = {}


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
        names = os.listdir(SHM_DIR)
    except OSError:
        return removed
    for name in names:
        if not name.startswith(PREFIX):
            continue
        pid = name[len(PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and int(pid) != os.getpid() and not pid_alive(int(pid)):
            try:
                os.unlink(os.path.join(SHM_DIR, name))
                removed.append(name)
            except OSError:
                continue
    return removed


def _tracker():
    from multiprocessing import resource_tracker

    return resource_tracker


class Segment:
    """One shared-memory segment of ``size`` bytes, mapped in this process.

    ``name`` has no leading slash (workers are sent it as is).
    """

    def __init__(self, tag: str, size: int):
        import _posixshmem

        self.name = f"{PREFIX}{os.getpid()}-{tag}"
        self.size = max(1, size)
        self.maker = os.getpid()
        #: no page of it touched yet: filled with ``pwrite``; a reused one through its mapping
        self.fresh = True
        tracker = _tracker()
        # Registered before it exists: a caller killed while creating it leaves no segment
        # the tracker does not know.
        tracker.register("/" + self.name, "shared_memory")
        try:
            self.fd = _posixshmem.shm_open("/" + self.name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
        except BaseException:
            tracker.unregister("/" + self.name, "shared_memory")
            raise
        try:
            os.ftruncate(self.fd, self.size)
            self.mapping = mmap.mmap(self.fd, self.size)
        except BaseException:
            self.release()
            raise

    def fill(self, array) -> None:
        """Write the bytes of a contiguous (C or Fortran order) ``array`` at the segment's start."""
        np = sys.modules["numpy"]
        flat = array.reshape(-1, order="A").view(np.uint8)  # a view: the array is contiguous
        data, done = memoryview(flat), 0
        while done < len(data):
            done += os.pwrite(self.fd, data[done : done + _WRITE_STEP], done)

    def release(self) -> None:
        """Unlink the segment and let go of its descriptor; the mapping goes with its last view."""
        import _posixshmem

        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            os.close(fd)
        if self.maker != os.getpid():
            return
        try:
            _posixshmem.shm_unlink("/" + self.name)
        except FileNotFoundError:
            pass
        finally:
            _tracker().unregister("/" + self.name, "shared_memory")
        mapping = getattr(self, "mapping", None)
        if mapping is not None:
            with contextlib.suppress(BufferError):  # a view still alive: unmapped when it dies
                mapping.close()


class SegmentCache:
    """Call segments kept for the next call once a call is done with them, for a few seconds.

    A fresh segment's pages are allocated as it is filled (0.4-0.5 s per GiB on the reference
    machine, through ``pwrite``); filling one whose pages exist already is a plain copy (about
    0.15 s per GiB), and copying the workers' writes back from it costs no page faults either.
    So a call hands its segments back here: the next call of a similar size takes one (at most
    twice the size it needs), and a segment nobody took within ``IDLE_SECONDS`` is unlinked by a
    timer. At most ``MAX_SEGMENTS`` are kept, of ``MAX_BYTES`` in all (4 GiB, or an eighth of
    the machine's memory if that is less). A kept segment is still
    registered with the resource tracker, so a killed process leaves none behind; the cache of
    a forked child starts empty (the parent's segments are not its to fill).
    """

    IDLE_SECONDS = 10.0
    MAX_SEGMENTS = 4
    MAX_BYTES = min(4 << 30, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 8)

    def __init__(self):
        self._lock = threading.Lock()
        self._idle: list[tuple[Segment, float]] = []
        self._pid = os.getpid()
        self._timer = None

    def _mine(self) -> list:
        if self._pid != os.getpid():  # a forked child: the entries are the parent's
            self._pid, self._idle, self._timer = os.getpid(), [], None
        return self._idle

    def take(self, tag: str, nbytes: int) -> Segment:
        """A kept segment that fits ``nbytes`` (the smallest), else a new one."""
        with self._lock:
            idle = self._mine()
            fits = [k for k, (seg, _) in enumerate(idle) if nbytes <= seg.size <= 2 * max(nbytes, 1 << 20)]
            if fits:
                k = min(fits, key=lambda k: idle[k][0].size)
                segment = idle.pop(k)[0]
                segment.fresh = False
                return segment
        return Segment(tag, nbytes)

    def give_back(self, segment: Segment) -> None:
        """Keep ``segment`` for a while, or release it when the cache is full."""
        with self._lock:
            idle = self._mine()
            if segment.maker == os.getpid() and len(idle) < self.MAX_SEGMENTS and (
                sum(seg.size for seg, _ in idle) + segment.size <= self.MAX_BYTES
            ):
                idle.append((segment, time.monotonic()))
                self._schedule()
                return
        segment.release()

    def _schedule(self) -> None:
        if self._timer is None:
            self._timer = threading.Timer(self.IDLE_SECONDS, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        with self._lock:
            self._timer = None
            now, kept, old = time.monotonic(), [], []
            for seg, since in self._mine():
                (old if now - since >= self.IDLE_SECONDS else kept).append((seg, since))
            self._idle = kept
            if kept:
                self._schedule()
        for seg, _ in old:
            seg.release()

    def clear(self) -> None:
        """Release every kept segment now."""
        with self._lock:
            idle, self._idle = self._mine(), []
        for seg, _ in idle:
            seg.release()


CACHE = SegmentCache()
atexit.register(CACHE.clear)


def _address(buffer) -> int:
    np = sys.modules["numpy"]
    return np.frombuffer(buffer, np.uint8, count=1).__array_interface__["data"][0]


def _release_kept(key: int, name: str, maker: int) -> None:
    """Unlink a kept segment once its mapping is garbage-collected (in its maker only)."""
    import _posixshmem

    _kept.pop(key, None)
    if os.getpid() != maker:
        return
    with contextlib.suppress(FileNotFoundError):
        _posixshmem.shm_unlink("/" + name)
    with contextlib.suppress(Exception):  # at interpreter exit the tracker may be gone already
        _tracker().unregister("/" + name, "shared_memory")


def new_kept_array(shape, dtype, order: str = "C"):
    """A new zero-filled array in a kept segment, which lives as long as the array's memory."""
    np = sys.modules["numpy"]
    dtype = np.dtype(dtype)
    if dtype.hasobject:
        raise TypeError(f"'dtype' must hold no Python objects to live in shared memory (got {dtype})")
    if order not in ("C", "F"):
        raise ValueError(f"'order' must be 'C' or 'F' (got {order!r})")
    shape = (int(shape),) if isinstance(shape, numbers.Integral) else tuple(int(n) for n in shape)
    if any(n < 0 for n in shape):
        raise ValueError(f"'shape' must hold no negative length (got {shape})")
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    segment = Segment(f"k{next(_kept_counter)}", nbytes)
    mapping = segment.mapping
    os.close(segment.fd)  # a kept segment is filled through its mapping, by the user
    segment.fd = -1
    key = id(mapping)
    _kept[key] = (segment.name, _address(mapping), segment.size)
    weakref.finalize(mapping, _release_kept, key, segment.name, segment.maker)
    return np.ndarray(shape, dtype, mapping, 0, order=order)


def find_kept(array):
    """``(name, size, byte offset)`` of the kept segment holding ``array``'s memory, or None."""
    np = sys.modules["numpy"]
    base = array
    while isinstance(base, np.ndarray):
        base = base.base
    if not isinstance(base, mmap.mmap):
        return None
    entry = _kept.get(id(base))
    if entry is None:
        return None
    name, start, size = entry
    return name, size, array.__array_interface__["data"][0] - start
