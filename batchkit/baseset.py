"""`Baseset`: what datasets and indices have in common, for batchflow's ``isinstance`` checks.

batchflow's `Dataset` and `DatasetIndex` share a base class; code written for batchflow tests
``isinstance(x, Baseset)`` to accept either. batchkit's two classes share no implementation, so
`Baseset` is an abstract class both are registered with.
"""

from __future__ import annotations

import abc

from .dataset import Dataset
from .index import DatasetIndex

__all__ = ["Baseset"]


class Baseset(abc.ABC):  # noqa: B024 - a registry for isinstance, nothing to implement
    """Either a `Dataset` or an index (`DatasetIndex`, `FilesIndex`): sized, split, batched.

    Examples
    --------
    >>> from batchkit import Baseset, Dataset, DatasetIndex
    >>> isinstance(Dataset(4), Baseset), isinstance(DatasetIndex(4), Baseset)
    (True, True)
    """


Baseset.register(Dataset)
Baseset.register(DatasetIndex)
