"""Sources and sinks: arrays in memory, memmaps, and ``.npy`` files, and how blocks reach them.

A memmap that maps its file as it is (mode ``r``, ``r+`` or ``w+``, its data contiguous) is
described by a `FileArray`: the path, the byte offset, shape, dtype and order. That is all a
block's item needs to map the file itself, read its block and write its valid region; it
crosses to a worker process in a few dozen bytes, and the mapping is dropped after each block,
so the pages a process holds stay those of the blocks in flight. Anything else (an array in
memory, a copy-on-write memmap) is read and written through the object itself.
"""

from __future__ import annotations

import mmap
import os

import numpy as np

__all__ = ["FileArray", "file_array", "open_sink", "open_source"]


class FileArray:
    """Where an array's data lies in a file: enough for any process to map it again.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> array = np.lib.format.open_memmap(path, mode="w+", dtype="int16", shape=(4, 3))
    >>> spec = file_array(array)
    >>> spec.write((slice(1, 2), slice(0, 3)), 7)
    >>> spec.read((slice(0, 2), slice(0, 3))).tolist()
    [[0, 0, 0], [7, 7, 7]]
    """

    __slots__ = ("dtype", "offset", "order", "path", "shape")

    def __init__(self, path: str, offset: int, shape: tuple[int, ...], dtype, order: str):
        self.path = path
        self.offset = offset
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.order = order

    def __reduce__(self):
        return FileArray, (self.path, self.offset, self.shape, self.dtype, self.order)

    def __repr__(self) -> str:
        return f"FileArray({self.path!r}, offset={self.offset}, shape={self.shape}, dtype={self.dtype})"

    def open(self, mode: str) -> np.memmap:
        """A new memmap of the array (``"r"`` to read, ``"r+"`` to write)."""
        return np.memmap(
            self.path, dtype=self.dtype, mode=mode, offset=self.offset, shape=self.shape, order=self.order
        )

    def read(self, slicing) -> np.ndarray:
        """A copy of ``array[slicing]``, read through a mapping dropped right after."""
        mapped = self.open("r")
        try:
            return np.array(mapped[slicing])
        finally:
            del mapped  # unmaps: the pages read no longer count in this process

    def write(self, slicing, values) -> None:
        """``array[slicing] = values``, flushed to the file, through a mapping dropped after."""
        mapped = self.open("r+")
        try:
            mapped[slicing] = values
            mapped.flush()
        finally:
            del mapped

    def same_file(self, other: FileArray) -> bool:
        try:
            return os.path.samefile(self.path, other.path)
        except OSError:
            return False


def file_array(array) -> FileArray | None:
    """The `FileArray` of a memmap mapping its file as it is; None for anything else.

    A view of a memmap (``mm[10:20]``) works too, when its data is contiguous: its offset in
    the file is found from where its data lies in the mapping.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "b.npy")
    >>> mapped = np.lib.format.open_memmap(path, mode="w+", dtype="float64", shape=(8, 2))
    >>> file_array(mapped[4:]).offset - file_array(mapped).offset  # 4 rows of 2 float64
    64
    >>> file_array(np.zeros(3)) is None
    True
    """
    if not isinstance(array, np.memmap) or array.mode not in ("r", "r+", "w+") or not array.filename:
        return None
    if array.flags.c_contiguous:
        order = "C"
    elif array.flags.f_contiguous:
        order = "F"
    else:
        return None
    mapping = getattr(array, "_mmap", None)
    if mapping is None or array.size == 0:
        return None
    try:
        start = np.frombuffer(mapping, dtype=np.uint8).ctypes.data
    except (TypeError, ValueError):  # a closed mapping
        return None
    mapped_from = array.offset - array.offset % mmap.ALLOCATIONGRANULARITY
    offset = mapped_from + (array.ctypes.data - start)
    return FileArray(os.fspath(array.filename), offset, array.shape, array.dtype, order)


def _is_path(value) -> bool:
    return isinstance(value, (str, os.PathLike))


def open_source(source, position: int | None = None):
    """A source as an array: a ``.npy`` path is mapped read-only; an array is used as it is.

    Examples
    --------
    >>> open_source(np.arange(3)).tolist()
    [0, 1, 2]
    >>> open_source(5)
    Traceback (most recent call last):
    ...
    TypeError: 'source' must be an array, a memmap or a .npy path (got int); pass several sources as a list
    """
    where = "'source'" if position is None else f"source {position}"
    if _is_path(source):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"{where} names no file: {path!r}")
        return np.load(path, mmap_mode="r")
    if isinstance(source, np.ndarray):
        if source.ndim == 0:
            raise ValueError(f"{where} must have at least one axis (got a 0-d array)")
        return source
    if hasattr(source, "__array__") or hasattr(source, "shape"):
        return np.asarray(source)
    raise TypeError(
        f"{where} must be an array, a memmap or a .npy path (got {type(source).__name__}); "
        "pass several sources as a list"
    )


def open_sink(sink, shape: tuple[int, ...], dtype):
    """The sink as a writable array of ``shape``: a new array, an open ``.npy`` file, or ``sink``.

    A ``.npy`` path that does not exist is created with ``shape`` and ``dtype``; one that exists
    is opened ``r+`` and must have ``shape``.

    Examples
    --------
    >>> open_sink(None, (2, 3), "uint8").shape
    (2, 3)
    >>> open_sink(np.zeros(4), (2, 2), "f8")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: 'sink' has shape (4,), but the source has shape (2, 2): ...
    """
    if sink is None:
        return np.empty(shape, dtype)
    if _is_path(sink):
        path = os.fspath(sink)
        if os.path.exists(path):
            array = np.lib.format.open_memmap(path, mode="r+")
        else:
            array = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)
    elif isinstance(sink, np.ndarray):
        array = sink
    else:
        raise TypeError(f"'sink' must be None, an array, a memmap or a .npy path (got {type(sink).__name__})")
    if array.shape != tuple(shape):
        raise ValueError(
            f"'sink' has shape {array.shape}, but the source has shape {tuple(shape)}: "
            "pass a sink of the source's shape (or a new .npy path, created to fit)"
        )
    if not array.flags.writeable:
        raise ValueError("'sink' is read-only (a memmap opened with mode='r'?): open it with mode='r+'")
    return array
