"""batchflow's module path for the decorators, so ``from batchkit.decorators import ...`` works.

batchflow users import ``inbatch_parallel`` from ``batchflow.decorators``; replacing the package
name in that import is all a switch needs.
"""

from ._action import action
from ._parallel import any_action_failed, inbatch_parallel, parallel
from .apply import apply_parallel
from .jit import mjit

__all__ = ["action", "any_action_failed", "apply_parallel", "inbatch_parallel", "mjit", "parallel"]
