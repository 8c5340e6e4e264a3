"""The running stream of batches behind ``next_batch`` on indices and datasets.

Successive ``next_batch`` calls take their batches from one stream of positions, epoch after
epoch, until ``reset("iter")``. Each call brings its own ``batch_size``, ``shuffle``, limits and
``drop_last``, applied to the stream as it stands (batchflow's semantics):

- ``n_iters=k``: no batch once the stream has given ``k`` batches in all;
- ``n_epochs=k``: the stream ends with epoch ``k``; a batch that would cross that end is cut
  short there, and a stream cut short stays ended (until a reset) whatever later calls ask;
- neither: batches never stop;
- ``drop_last``: a short tail of the current epoch is skipped, the batch comes whole from the
  next epoch (if the limit allows one);
- ``shuffle``: each new epoch permutes the last one's order with a generator made when the
  ``shuffle`` argument last changed; ``False`` keeps the last order.
"""

from __future__ import annotations

import math

import numpy as np

from ._iteration import _check_batch_size, _check_limits, _is_int, _is_shuffled
from .rng import order_source

__all__ = ["BatchStream"]


def _same_arg(a, b) -> bool:
    """Whether two ``shuffle`` arguments are the same (``True`` is not ``1``; objects by identity)."""
    if a is b:
        return True
    if isinstance(a, (bool, np.bool_)) or isinstance(b, (bool, np.bool_)):
        return bool(a) == bool(b) and type(a) is type(b)
    if _is_int(a) and _is_int(b):
        return int(a) == int(b)
    return False


class BatchStream:
    """The state of ``next_batch``: where the stream is, how many batches and epochs it has given.

    Examples
    --------
    >>> stream = BatchStream()
    >>> [stream.next_positions(5, 2).tolist() for _ in range(3)]
    [[0, 1], [2, 3], [4, 0]]
    >>> stream.next_positions(5, 3, n_epochs=2).tolist()  # the stream goes on, with its own size
    [1, 2, 3]
    >>> stream.next_positions(5, 3, n_epochs=2).tolist()  # cut at the end of epoch 2
    [4]
    """

    _NOT_SET = object()

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        """Start the stream over: no batches given, no order drawn, no generator made."""
        self.iteration = 0
        self._order = None  # the current epoch's order of positions (None before the first)
        self._cursor = 0  # where the next batch starts in it
        self._epochs = 0  # epochs started
        self._ended = False
        self._shuffle = self._NOT_SET
        self._source = None

    def _use_shuffle(self, shuffle) -> None:
        if self._shuffle is self._NOT_SET or not _same_arg(self._shuffle, shuffle):
            self._shuffle = shuffle
            self._source = order_source(shuffle) if _is_shuffled(shuffle) else None

    def _start_epoch(self, n_items: int) -> None:
        last = np.arange(n_items) if self._order is None else self._order
        self._order = last if self._source is None else last[self._source.permutation(n_items)]
        self._cursor = 0
        self._epochs += 1

    def _left_in_epoch(self) -> int:
        return 0 if self._order is None else len(self._order) - self._cursor

    def next_positions(
        self, n_items, batch_size, *, shuffle=False, n_iters=None, n_epochs=None, drop_last=False
    ) -> np.ndarray:
        """The positions of the next batch; ``StopIteration`` when the call's limits are reached."""
        _check_batch_size(n_items, batch_size)
        n_iters, n_epochs = _check_limits(n_iters, n_epochs)
        if self._order is not None and len(self._order) != n_items:
            raise ValueError(
                f"the index changed size under a running next_batch ({len(self._order)} -> {n_items} "
                "items); call reset('iter') first"
            )
        if self._ended or (n_iters is not None and self.iteration >= n_iters):
            raise StopIteration
        self._use_shuffle(shuffle)
        limit = math.inf if n_epochs is None else n_epochs
        if drop_last:
            positions = self._full_batch(n_items, batch_size, limit)
        else:
            positions = self._from_stream(n_items, batch_size, limit)
        self.iteration += 1
        return positions

    def _full_batch(self, n_items: int, batch_size: int, limit) -> np.ndarray:
        if self._left_in_epoch() < batch_size:
            if self._epochs >= limit:
                raise StopIteration
            self._start_epoch(n_items)
        start = self._cursor
        self._cursor += batch_size
        return self._order[start : self._cursor]

    def _from_stream(self, n_items: int, batch_size: int, limit) -> np.ndarray:
        # What the epoch limit still allows: the rest of this epoch and the epochs after it.
        budget = self._left_in_epoch() + (limit - self._epochs) * n_items
        want = int(min(batch_size, budget))
        if want <= 0:
            raise StopIteration
        pieces, need = [], want
        while need:
            if self._left_in_epoch() == 0:
                self._start_epoch(n_items)
            piece = self._order[self._cursor : self._cursor + need]
            self._cursor += len(piece)
            need -= len(piece)
            pieces.append(piece)
        if want < batch_size:
            self._ended = True  # the stream's last batch, cut short by its epoch limit
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
