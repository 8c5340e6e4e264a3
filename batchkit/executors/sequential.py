"""The ``for`` target: a plain loop in the calling thread, the reference for every other."""

from __future__ import annotations

from .._calls import Calls, Outcomes
from ._base import Executor, RunOptions

__all__ = ["SequentialExecutor"]


class SequentialExecutor(Executor):
    """Runs the calls one after another in the calling thread (``target="for"``).

    Useful for debugging (a breakpoint in the method just works) and for work too small to
    pay for any dispatch. Every other target must give the same outcomes.
    """

    name = "for"

    def run(self, fn, calls: Calls, options: RunOptions) -> Outcomes:
        outcomes = Outcomes(len(calls))
        calls.run_range(fn, 0, len(calls), outcomes)
        return outcomes
