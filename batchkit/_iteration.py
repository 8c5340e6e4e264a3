"""The order of batches over ``n`` items: `IterationPlan`, and the checks of iteration arguments.

One plan serves every consumer (`DatasetIndex`, `Dataset` and the pipeline), so they all cut
epochs the same way.
"""

from __future__ import annotations

import functools
import math
import numbers

import numpy as np

from .rng import order_source

__all__ = ["IterationPlan", "keyword_only_after_batch_size"]


# -- argument checks -----------------------------------------------------------------------------


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _check_count(name: str, value):
    """``value`` as an int >= 0 or ``math.inf`` (endless); None stays None."""
    if value is None:
        return None
    if isinstance(value, float) and value == math.inf:
        return math.inf
    if not _is_int(value):
        raise TypeError(f"{name} must be an int or math.inf (got {type(value).__name__} {value!r})")
    if value < 0:
        raise ValueError(f"{name} must be >= 0 (got {value})")
    return int(value)


def _check_batch_size(n_items, batch_size) -> None:
    if not _is_int(n_items) or n_items < 1:
        raise ValueError(f"an iteration needs at least one item (got n_items={n_items!r})")
    if not _is_int(batch_size):
        raise TypeError(f"batch_size must be an int (got {type(batch_size).__name__} {batch_size!r})")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    if batch_size > n_items:
        raise ValueError(
            f"batch_size {batch_size} is larger than the index ({n_items} items); "
            f"pass batch_size <= {n_items}"
        )


def _check_limits(n_iters, n_epochs):
    """``(n_iters, n_epochs)`` checked: each None, an int >= 0 or math.inf, and not both given."""
    n_iters = _check_count("n_iters", n_iters)
    n_epochs = _check_count("n_epochs", n_epochs)
    if n_iters is not None and n_epochs is not None:
        raise ValueError(f"pass n_iters or n_epochs, not both (got n_iters={n_iters}, n_epochs={n_epochs})")
    return n_iters, n_epochs


def _is_shuffled(shuffle) -> bool:
    """Whether ``shuffle`` asks for random order: only False keeps it (None is random, as in batchflow)."""
    return not (isinstance(shuffle, (bool, np.bool_)) and not shuffle)


def keyword_only_after_batch_size(method):
    """Refuse run arguments after ``batch_size`` given by position, saying to pass them by name.

    The old positional orders disagreed (``dataset.gen_batch(8, 2)`` took 2 as the shuffle seed,
    ``pipeline.gen_batch(8, 2)`` as ``n_epochs``), so a second positional argument is an error
    everywhere, with a message that names the fix rather than Python's "takes 2 positional
    arguments".

    >>> class Source:
    ...     @keyword_only_after_batch_size
    ...     def gen_batch(self, batch_size, *, n_epochs=None):
    ...         return batch_size, n_epochs
    >>> Source().gen_batch(8, n_epochs=2)
    (8, 2)
    >>> try:
    ...     Source().gen_batch(8, 2)
    ... except TypeError as error:
    ...     print(str(error).replace("; ", ";\\n"))
    gen_batch(8, 2): every argument after batch_size is keyword-only;
    pass it by name, e.g. gen_batch(8, n_epochs=2) or gen_batch(8, shuffle=2)
    """

    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if len(args) > 1:
            name = method.__name__
            shown = ", ".join(map(repr, args))
            first, second = repr(args[0]), repr(args[1])
            raise TypeError(
                f"{name}({shown}): every argument after batch_size is keyword-only; pass it by "
                f"name, e.g. {name}({first}, n_epochs={second}) or {name}({first}, shuffle={second})"
            )
        return method(self, *args, **kwargs)

    return checked


# -- the order of batches --------------------------------------------------------------------------


class IterationPlan:
    """The sequence of batches over ``n_items`` items, as arrays of positions ``0..n_items-1``.

    One object serves every consumer (``DatasetIndex``, ``Dataset`` and the pipeline), so they all
    cut epochs the same way. It is an iterator: ``next(plan)`` gives the next batch's positions and
    raises ``StopIteration`` when the plan is done. It is not thread-safe: call it from one thread.

    Parameters
    ----------
    n_items : int
        The number of items in the index (>= 1).
    batch_size : int
        Items per batch, ``1 <= batch_size <= n_items``. The arguments after it are keyword-only.
    shuffle : bool, None, int, numpy.random.SeedSequence, numpy.random.Generator or numpy.random.RandomState
        ``False`` keeps the index order in every epoch. Anything else draws a new
        permutation at the start of each epoch from `order_source` (``make_rng(shuffle)``, or a
        ``RandomState`` itself) and applies it to the last epoch's order: ``True`` or ``None`` from
        fresh entropy; an int or a ``SeedSequence`` reproducibly (the whole sequence of batches is the
        same run to run, and again after `reset`); a ``Generator`` or ``RandomState`` is drawn
        from as is (so `reset` does not rewind it).
    n_iters : int or math.inf, optional
        Stop after this many batches, going through as many epochs as needed.
    n_epochs : int or math.inf, optional
        Stop after this many passes over the items. With neither ``n_iters`` nor ``n_epochs``,
        one epoch. ``math.inf`` for either means endless.
    drop_last : bool
        ``False``: the items form one stream, epoch after epoch, cut into batches; a batch that
        crosses an epoch boundary is topped up from the next epoch's order, and only the very
        last batch may be shorter than ``batch_size``. ``True``: each epoch is cut on its own and
        its short tail is dropped, so every batch has ``batch_size`` items.

    Attributes
    ----------
    n_batches : int or None
        How many batches the plan gives in all; None if endless.
    iteration : int
        How many batches it has given so far.
    epoch : int
        How many epochs it has completed so far: epochs whose items (or, with ``drop_last``, whose
        full batches) have all been given.

    Raises
    ------
    ValueError
        ``batch_size`` is out of range, both ``n_iters`` and ``n_epochs`` are given, or a count
        is negative.
    TypeError
        A count is not an int.

    Examples
    --------
    >>> [p.tolist() for p in IterationPlan(4, 3, n_epochs=2)]
    [[0, 1, 2], [3, 0, 1], [2, 3]]
    >>> [p.tolist() for p in IterationPlan(4, 3, n_epochs=2, drop_last=True)]
    [[0, 1, 2], [0, 1, 2]]
    >>> plan = IterationPlan(4, 3, n_iters=3)
    >>> plan.n_batches, [p.tolist() for p in plan], plan.epoch
    (3, [[0, 1, 2], [3, 0, 1], [2, 3, 0]], 2)
    """

    def __init__(self, n_items, batch_size, *, shuffle=False, n_iters=None, n_epochs=None, drop_last=False):
        _check_batch_size(n_items, batch_size)
        n_iters, n_epochs = _check_limits(n_iters, n_epochs)
        if n_iters is None and n_epochs is None:
            n_epochs = 1  # one pass, deliberately: an endless run must be asked for (math.inf)
        self.n_items = int(n_items)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.n_iters = n_iters
        self.n_epochs = n_epochs
        self.drop_last = bool(drop_last)
        self.reset()

    @property
    def n_batches(self) -> int | None:
        """The total number of batches, or None if the plan is endless."""
        if self.n_iters is not None:
            return None if self.n_iters == math.inf else self.n_iters
        if self.n_epochs == math.inf:
            return None
        if self.drop_last:
            return self.n_epochs * (self.n_items // self.batch_size)
        return -(-self.n_epochs * self.n_items // self.batch_size)

    @property
    def epoch(self) -> int:
        """The number of epochs completed so far."""
        if self.drop_last:
            return self.iteration // (self.n_items // self.batch_size)
        return self._given // self.n_items

    def reset(self) -> None:
        """Start over: from the first batch, with the generator made afresh from ``shuffle``."""
        self._rng = order_source(self.shuffle) if _is_shuffled(self.shuffle) else None
        # With n_iters, epochs follow one another until the batches are counted out.
        self._epoch_limit = math.inf if self.n_epochs is None else self.n_epochs
        self.iteration = 0
        self._given = 0  # items given so far
        self._order = np.empty(0, dtype=np.intp)  # the current epoch's order of positions
        self._cursor = 0  # where the next batch starts in it
        self._epochs_started = 0

    def _start_epoch(self) -> bool:
        """Draw the next epoch's order; False if the epoch limit forbids another epoch."""
        if self._epochs_started >= self._epoch_limit:
            return False
        if self._rng is None:
            self._order = np.arange(self.n_items)
        else:
            # Each epoch permutes the last one's order (the first permutes 0..n-1), as batchflow
            # does, so a Generator or RandomState gives batchflow's orders epoch after epoch.
            last = self._order if len(self._order) else np.arange(self.n_items)
            self._order = last[self._rng.permutation(self.n_items)]
        self._cursor = 0
        self._epochs_started += 1
        return True

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        if self.n_iters is not None and self.iteration >= self.n_iters:
            raise StopIteration
        positions = self._next_full_batch() if self.drop_last else self._next_from_stream()
        self.iteration += 1
        self._given += len(positions)
        return positions

    def _next_full_batch(self) -> np.ndarray:
        # An epoch's short tail is skipped: the batch comes whole from the next epoch.
        if len(self._order) - self._cursor < self.batch_size and not self._start_epoch():
            raise StopIteration
        start = self._cursor
        self._cursor += self.batch_size
        return self._order[start : self._cursor]

    def _next_from_stream(self) -> np.ndarray:
        # Epochs form one stream: a batch crossing an epoch boundary takes from both orders.
        pieces, need = [], self.batch_size
        while need:
            if self._cursor == len(self._order) and not self._start_epoch():
                break
            piece = self._order[self._cursor : self._cursor + need]
            self._cursor += len(piece)
            need -= len(piece)
            pieces.append(piece)
        if need == self.batch_size:
            raise StopIteration
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)

    def __repr__(self) -> str:
        return (
            f"IterationPlan(n_items={self.n_items}, batch_size={self.batch_size}, shuffle={self.shuffle!r}, "
            f"n_iters={self.n_iters}, n_epochs={self.n_epochs}, drop_last={self.drop_last}; "
            f"iteration {self.iteration} of {self.n_batches})"
        )


def _check_reset_what(what) -> None:
    if what not in ("iter", "all"):
        raise ValueError(f"reset({what!r}): only 'iter' (or 'all') can be reset here")
