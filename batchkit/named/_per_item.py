"""Per-item argument markers of ``inbatch_parallel`` actions: `P` and `PP`.

They are not expressions: `eval_expr` leaves them as they are, and ``inbatch_parallel``
calls their ``resolve`` to get one value per item of the batch (``_batchkit_per_item`` is how
it recognises them). `P` evaluates its source once, for the whole batch; `PP` once per item.
"""

from __future__ import annotations

import numpy as np

from ._base import NamedExpression, eval_expr, evaluate_top, pipeline_of
from ._operators import operand_repr


def _batch_length(batch, marker) -> int:
    if batch is None:
        raise ValueError(f"{marker!r} needs the batch: it gives one value per item")
    return len(batch)


class P:
    """Per-item values of an ``inbatch_parallel`` action's argument: call ``i`` gets value ``i``.

    Parameters
    ----------
    source : NamedExpression, list, tuple, range or numpy.ndarray
        An expression evaluated with ``size=len(batch)`` (so ``P(R("normal"))`` draws one value
        per item) that must give one value per item, or the per-item values themselves.
    """

    __slots__ = ("source",)
    _batchkit_per_item = True

    def __init__(self, source):
        if not isinstance(source, (NamedExpression, list, tuple, range, np.ndarray)) or (
            isinstance(source, np.ndarray) and source.ndim == 0
        ):
            raise TypeError(
                f"{type(self).__name__}() takes a named expression or a list, tuple or array of "
                f"per-item values (got {type(source).__name__})"
            )
        self.source = source

    def resolve(self, batch=None, pipeline=None) -> list:
        """The list of per-item values for ``batch``: one per item (``ValueError`` otherwise)."""
        n = _batch_length(batch, self)
        pipeline = pipeline_of(batch, pipeline)
        if isinstance(self.source, NamedExpression):
            values = evaluate_top(self.source, batch, pipeline, n)
        else:
            values = eval_expr(self.source, batch, pipeline)
        try:
            count = len(values)
        except TypeError:
            raise ValueError(
                f"{self!r} gave a {type(values).__name__}, which has no length: "
                f"expected one value per item ({n})"
            ) from None
        if count != n:
            raise ValueError(f"{self!r} gave {count} values for a batch of {n} items")
        return values if type(values) is list else list(values)

    def __reduce__(self):
        return type(self), (self.source,)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({operand_repr(self.source)[0]})"


class PP(P):
    """Per-item values computed by evaluating an expression once per item (for values whose shape varies)."""

    __slots__ = ()

    def __init__(self, source):
        if not isinstance(source, NamedExpression):
            raise TypeError(f"PP() takes a named expression (got {type(source).__name__})")
        super().__init__(source)

    def resolve(self, batch=None, pipeline=None) -> list:
        """One evaluation of the expression per item of ``batch``, as a list."""
        n = _batch_length(batch, self)
        pipeline = pipeline_of(batch, pipeline)
        return [evaluate_top(self.source, batch, pipeline, None) for _ in range(n)]
