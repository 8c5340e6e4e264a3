"""Dataset indices: the item values of a dataset, how to split them, and how to cut them into batches.

`DatasetIndex` holds any 1-D set of values (ints, strings, ...); `FilesIndex` holds
the base names of files found by glob patterns, with their full paths. `IterationPlan`
is the order of batches over ``n`` items, shared by indices, datasets and pipelines.

The parts live in modules of one job each: the values (`batchkit._index_values`), the split
counts (`batchkit._splits`), the running ``next_batch`` stream (`batchkit._stream`), the two
index classes (`batchkit._dataset_index`, `batchkit._files_index`).
"""

from __future__ import annotations

from ._dataset_index import DatasetIndex
from ._files_index import FilesIndex
from ._index_values import ValuesNotFoundError
from ._iteration import IterationPlan
from ._splits import calc_split

__all__ = ["DatasetIndex", "FilesIndex", "IterationPlan", "ValuesNotFoundError", "calc_split"]
