"""Block processing: run a function over the blocks of a large array, writing into a sink.

`split_into_blocks` cuts a source (an array, a memmap, or just a shape) into `Block`s whose
valid regions tile it, each with an overlap of context around it; `process_blocks` runs a
function on every block through the fan-out core, on any target, and writes each block's valid
region into a sink (an array, a memmap or a ``.npy`` file). With ``overlap`` at least the radius
of a filter, the blockwise result equals the whole-array one, edges included.
"""

from ._block import Block
from ._process import process_blocks
from ._split import split_into_blocks

__all__ = ["Block", "process_blocks", "split_into_blocks"]
