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

import contextlib
import itertools
import mmap
import numbers
import os
import sys
import weakref

__all__ = ["PREFIX", "Segment", "find_kept", "new_kept_array", "pid_alive", "sweep"]

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
