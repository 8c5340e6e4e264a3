"""``post="_assemble"``: batchflow's default post, putting one result per item into components.

An action declared ``@inbatch_parallel(init="indices", post="_assemble")`` returns one result
per item; ``dst`` (given to the decorator or to the call) names the component that receives
them, stacked into one array when they agree in shape, or a tuple of components that takes each
item's tuple result apart. A component not declared is added to the batch. Failed items raise
one `ParallelError` (batchflow raises a bare ``RuntimeError``), so ``on_error="skip_items"``
can drop them.
"""

from __future__ import annotations

__all__ = ["assemble"]


def assemble(batch, all_results, *args, dst=None, **kwargs):
    """Put ``all_results`` into the component(s) ``dst``; return the batch (a ``Batch._assemble``).

    Examples
    --------
    >>> import numpy as np
    >>> from batchkit import Batch, action, inbatch_parallel
    >>> class Images(Batch):
    ...     components = ("images",)
    ...
    ...     @action
    ...     @inbatch_parallel(init="indices", post="_assemble", dst="images")
    ...     def double(self, ix):
    ...         return self[ix].images * 2
    >>> Images.from_data(data=np.ones((3, 2))).double().images.tolist()
    [[2.0, 2.0], [2.0, 2.0], [2.0, 2.0]]
    """
    from ._fanout import failure_error
    from ._parallel import any_action_failed
    from .apply import store_results

    if any_action_failed(all_results):
        raise failure_error(_outcomes(all_results), f"{type(batch).__name__} post='_assemble'")
    if dst is None:
        raise TypeError(
            "post='_assemble' needs dst=: the component (or a tuple of components) the results go "
            "to; give it to @inbatch_parallel(..., dst=...) or to the action's call"
        )
    if isinstance(dst, list):
        dst = tuple(dst) if len(dst) > 1 else dst[0]
    store_results(batch, dst, list(all_results))
    return batch


def _outcomes(results):
    """The `Outcomes` behind a results list (``post``'s `Results`, or a plain list of values)."""
    from ._calls import Outcomes

    outcomes = Outcomes(len(results))
    outcomes.values = list(results)
    failed = getattr(results, "failed_positions", None)
    if failed is None:
        failed = [i for i, value in enumerate(results) if isinstance(value, BaseException)]
    outcomes.failed = list(failed)
    outcomes.cancelled = list(getattr(results, "cancelled_positions", ()))
    return outcomes
