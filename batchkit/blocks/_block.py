"""One block of a split array: where it lies in the source, and which part of it is valid.

A block is geometry only (slices into the source), small enough to cross to worker processes
in every chunk; it never holds the data.
"""

from __future__ import annotations

__all__ = ["Block", "format_slicing"]


def format_slicing(slicing: tuple[slice, ...], shape: tuple[int, ...]) -> str:
    """A slicing as Python writes it, ``:`` for an axis taken whole.

    Examples
    --------
    >>> format_slicing((slice(0, 4), slice(0, 3)), (10, 3))
    '[0:4, :]'
    """
    parts = [
        ":" if (piece.start, piece.stop) == (0, length) else f"{piece.start}:{piece.stop}"
        for piece, length in zip(slicing, shape, strict=True)
    ]
    return "[" + ", ".join(parts) + "]"


class Block:
    """A block of a source array: its slice with the overlap, and the valid region within it.

    The valid regions of the blocks of one split tile the source exactly; a block's ``slicing``
    extends its valid region by the overlap on each side that is inside the source.

    Attributes
    ----------
    index : int
        The block's position in the list of blocks (C order over the grid of blocks).
    n_blocks : int
        How many blocks the source was split into.
    position : tuple of int
        The block's coordinates in the grid of blocks (one per axis of the source).
    grid : tuple of int
        How many blocks there are along each axis of the source (1 along an axis not split).
    slicing : tuple of slice
        The block in the source, overlap included: ``source[block.slicing]`` is its data.
    valid_slicing : tuple of slice
        The block's valid region in the source.
    source_shape : tuple of int
        The shape of the source.

    Examples
    --------
    >>> block = Block(1, 2, (1,), (2,), (slice(3, 10),), (slice(5, 10),), (10,))
    >>> block.shape, block.valid_in_block
    ((7,), (slice(2, 7, None),))
    >>> block.info()
    'block 1/2 at (1,) of grid (2,): shape (7,) of (10,), slicing [3:10], valid [5:10]'
    """

    __slots__ = ("grid", "index", "n_blocks", "position", "slicing", "source_shape", "valid_slicing")

    def __init__(self, index, n_blocks, position, grid, slicing, valid_slicing, source_shape):
        self.index = index
        self.n_blocks = n_blocks
        self.position = tuple(position)
        self.grid = tuple(grid)
        self.slicing = tuple(slicing)
        self.valid_slicing = tuple(valid_slicing)
        self.source_shape = tuple(source_shape)

    def __reduce__(self):
        return Block, (
            self.index,
            self.n_blocks,
            self.position,
            self.grid,
            self.slicing,
            self.valid_slicing,
            self.source_shape,
        )

    @property
    def shape(self) -> tuple[int, ...]:
        """The block's shape, overlap included."""
        return tuple(piece.stop - piece.start for piece in self.slicing)

    @property
    def valid_shape(self) -> tuple[int, ...]:
        """The shape of the block's valid region."""
        return tuple(piece.stop - piece.start for piece in self.valid_slicing)

    @property
    def valid_in_block(self) -> tuple[slice, ...]:
        """The valid region within the block: ``data[block.valid_in_block]`` of the block's data."""
        return tuple(
            slice(valid.start - outer.start, valid.stop - outer.start)
            for valid, outer in zip(self.valid_slicing, self.slicing, strict=True)
        )

    def info(self) -> str:
        """One line: the block's number, grid position, shape, slicing and valid region."""
        return (
            f"block {self.index}/{self.n_blocks} at {self.position} of grid {self.grid}: "
            f"shape {self.shape} of {self.source_shape}, "
            f"slicing {format_slicing(self.slicing, self.source_shape)}, "
            f"valid {format_slicing(self.valid_slicing, self.source_shape)}"
        )

    def __eq__(self, other):
        if not isinstance(other, Block):
            return NotImplemented
        return self.__reduce__()[1] == other.__reduce__()[1]

    def __hash__(self):
        return hash((self.index, tuple((piece.start, piece.stop) for piece in self.slicing)))

    def __repr__(self) -> str:
        return (
            f"Block({self.index}/{self.n_blocks}, "
            f"slicing={format_slicing(self.slicing, self.source_shape)}, "
            f"valid={format_slicing(self.valid_slicing, self.source_shape)})"
        )
