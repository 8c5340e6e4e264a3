"""Named expressions: values an action's arguments take from the batch or the pipeline, per batch.

An expression names something that exists only when a batch runs: a batch attribute (``B``), a
pipeline variable (``V``), a config item (``C``), a dataset attribute (``D``), a function call
(``F``), a random draw (``R``), the iteration counters (``I``) or a list of objects (``L``).
Operators, attribute access, indexing and calls on an expression build a bigger expression,
evaluated lazily by `eval_expr` (or ``expr.get(batch, pipeline)``). ``W`` shields an expression
from evaluation; ``P`` and ``PP`` mark per-item arguments of an ``inbatch_parallel`` action.

Expressions are immutable, hashable (by identity: ``==`` is not overloaded) and picklable.

Layout (each module imports only those listed before it):

- ``_operators``: the operator table and how expressions print;
- ``_modes``: the assignment modes of ``set``;
- ``_base``: `NamedExpression`, `AlgebraicExpression`, `W`, `eval_expr` and the evaluation;
- ``_sources``: `B`, `V`, `C`, `D`, `I` (values of the batch, pipeline, config, dataset, run);
- ``_calls``: `F` and `R` (a function call, a random draw);
- ``_per_item``: `P` and `PP` (per-item arguments of ``inbatch_parallel``);
- ``_lists``: `L` (a list of objects, worked on item by item).

Examples
--------
>>> import numpy as np
>>> from batchkit import Batch
>>> class Images(Batch):
...     components = ("images",)
>>> batch = Images.from_data(data=np.zeros((4, 8, 8)))
>>> expr = B("images").shape[0] + 1
>>> expr
B('images').shape[0] + 1
>>> expr.get(batch)
5
>>> eval_expr({"n": expr, "size": [B("images").shape[1:], 3]}, batch=batch)
{'n': 5, 'size': [(8, 8), 3]}
"""

from ._base import AlgebraicExpression, NamedExpression, W, eval_expr, is_named
from ._calls import F, R
from ._lists import L
from ._per_item import PP, P
from ._sources import B, C, D, I, V

__all__ = [
    "PP",
    "AlgebraicExpression",
    "B",
    "C",
    "D",
    "F",
    "I",
    "L",
    "NamedExpression",
    "P",
    "R",
    "V",
    "W",
    "eval_expr",
    "is_named",
]
