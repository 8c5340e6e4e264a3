"""batchflow's module path for named expressions (``from batchkit.named_expr import B, V``)."""

from .named import PP, B, C, D, F, I, L, NamedExpression, P, R, V, W, eval_expr

__all__ = ["PP", "B", "C", "D", "F", "I", "L", "NamedExpression", "P", "R", "V", "W", "eval_expr"]
