"""Arrays that live in shared memory, so they cross to worker processes with no copy at all.

An ordinary numpy array of 1 MiB or more crossing to ``target="mpc"`` is copied into shared
memory once per call, and what the workers wrote is copied back when the call ends. An array
made here lives in shared memory from the start: every call's workers map the same memory,
nothing is copied either way, and a worker's writes are in the array as soon as they are made.
Keep a batch's large component in one when it crosses to processes many times.

The memory is released when the last view of the array is garbage-collected, and, should the
process be killed, by multiprocessing's resource tracker. Linux and other POSIX systems only
(the memory is a file in ``/dev/shm``, whose size limits how much can be made).
"""

from __future__ import annotations

import numpy as np

from .executors._shm_segments import find_kept, new_kept_array

__all__ = ["is_shared", "shared_array", "to_shared"]


def shared_array(shape, dtype=np.float64, order: str = "C") -> np.ndarray:
    """A new zero-filled array in shared memory (see `to_shared` to copy one in).

    Parameters
    ----------
    shape : int or tuple of int
        The array's shape.
    dtype : data-type
        Any numpy dtype that holds no Python objects.
    order : {"C", "F"}
        Memory layout.

    Returns
    -------
    numpy.ndarray
        An ordinary, writable ndarray; its memory is freed when the last view of it is gone.

    Examples
    --------
    >>> from batchkit import parallel, shared_array
    >>> def fill(i, out):
    ...     out[i] = i  # runs in a worker process, writing straight into the shared memory
    >>> out = shared_array((4, 256 * 1024))
    >>> _ = parallel(init=lambda out: list(range(4)), target="mpc", n_workers=2)(fill)(out)
    >>> out[:, 0].tolist()
    [0.0, 1.0, 2.0, 3.0]
    """
    return new_kept_array(shape, dtype, order)


def to_shared(array) -> np.ndarray:
    """A copy of ``array`` in shared memory: it crosses to ``mpc`` workers without being copied.

    Parameters
    ----------
    array : array_like
        Any array whose dtype holds no Python objects. An array already in shared memory
        (made by `shared_array` or `to_shared`) is returned as is.

    Returns
    -------
    numpy.ndarray
        A writable copy with the same shape, dtype and memory order (C unless the source is
        Fortran-ordered).

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import is_shared, to_shared
    >>> images = to_shared(np.ones((8, 64, 64)))
    >>> is_shared(images), is_shared(images[2:]), float(images.sum())
    (True, True, 32768.0)
    """
    if isinstance(array, np.ndarray) and is_shared(array):
        return array
    source = np.asanyarray(array)
    order = "F" if source.flags.f_contiguous and not source.flags.c_contiguous else "C"
    copy = new_kept_array(source.shape, source.dtype, order)
    copy[...] = source
    return copy


def is_shared(array) -> bool:
    """Whether ``array`` (or the array it views) lives in memory made by `shared_array`.

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import is_shared, shared_array
    >>> is_shared(shared_array(3)), is_shared(np.zeros(3))
    (True, False)
    """
    return isinstance(array, np.ndarray) and find_kept(array) is not None
