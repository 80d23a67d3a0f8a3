"""The layers' operations, MATLAB's way: implicit expansion in elementwise operations, and
reductions and column functions along a dimension (``sum(X, 2)``, ``mean(X, 1)``, ``softmax(Z, 2)``).

Nothing here is a new operation of the IR: an expansion is an einsum whose output carries a label
its operand does not (a broadcast over ones), a reduction is an einsum that sums a label away, and a
function along rows is the column function between two transposes. So every route — evaluate,
differentiate, print, generate code — takes them as it takes the rest, and ``∂(W*X + b)/∂b`` sums
over the batch because the adjoint of a broadcast is a sum.

Shapes are read on the 2-D view of the language: a vector is a column n×1 (a row 1×n when
transposed), a scalar 1×1. Only a dimension known to be 1 is repeated: a symbolic dimension is
never taken to be 1.
"""

from __future__ import annotations

from typing import Callable

from matdiff.engine import ir
from matdiff.engine.ir import Tensor, einsum
from matdiff.engine.functions import FUNCTIONS


def expand(unify: Callable, left, right) -> tuple[Tensor, Tensor] | None:
    """Both operands (lowered values) as tensors of the expanded shape, or None when the shapes do
    not expand: each dimension equal, or 1 in one operand, which is repeated along it (``W*X + b``:
    b, m×1, beside m×N; ``u + v'``: m×1 beside 1×n gives m×n)."""
    if not left.node.rank or not right.node.rank:
        return None
    (lr, lc), (rr, rc) = left.as_matrix(), right.as_matrix()
    if (lr, lc) == (rr, rc):
        return None  # not an expansion: the plain shape rules decide
    shape = []
    for a, b in ((lr, rr), (lc, rc)):
        if a == 1 or b == 1:
            shape.append(b if a == 1 else a)
        elif unify(a, b):
            shape.append(a)
        else:
            return None
    return _spread(left.node, (lr, lc), shape), _spread(right.node, (rr, rc), shape)


def _spread(node: Tensor, view: tuple, shape: list) -> Tensor:
    """``node`` (whose 2-D view is ``view``) repeated along its dimensions of size 1 to ``shape``."""
    axes = [(label, size) for label, size, wanted in zip("rc", view, shape) if not (size == 1 and wanted != 1)]
    kept = tuple(size for _, size in axes)
    if node.shape != kept:
        node = ir.reshape(node, kept)
    return einsum(("r", "c"), (node, tuple(label for label, _ in axes)), sizes={"r": shape[0], "c": shape[1]})


def as_matrix_node(node: Tensor, view: tuple) -> Tensor:
    return node if node.shape == tuple(view) else ir.reshape(node, tuple(view))


def _reduced(node: Tensor, view: tuple, dimension: int) -> tuple[Tensor, bool]:
    """Σ over ``dimension`` (1: down each column, giving a row; 2: along each row, a column)."""
    rows, columns = view
    matrix = as_matrix_node(node, view)
    kept = columns if dimension == 1 else rows
    summed = einsum(("c",) if dimension == 1 else ("r",), (matrix, ("r", "c")))
    if kept == 1:
        return ir.reshape(summed, ()), False
    return summed, dimension == 1


def sum_along(value, dimension: int) -> tuple[Tensor, bool]:
    """``sum(X, 1)``: column sums, a row; ``sum(X, 2)``: row sums, a column. (node, is a row)."""
    if not value.node.rank:
        return value.node, False
    return _reduced(value.node, value.as_matrix(), dimension)


def count(size) -> Tensor:
    """The number of entries along a dimension as a scalar node: a constant for a number, the sum of
    a vector of ones for a symbolic dimension (evaluated from the inputs' sizes, constant for the
    derivative)."""
    if isinstance(size, int):
        return ir.const(float(size))
    return einsum((), (ir.const(1.0, (size,)), ("i",)))


def mean_along(value, dimension: int | None) -> tuple[Tensor, bool]:
    """``mean(X)`` over every entry, ``mean(X, 1)`` of each column (a row), ``mean(X, 2)`` of each row."""
    node = value.node
    if not node.rank:
        return node, False
    view = value.as_matrix()
    if dimension is None:
        total = einsum((), (node, tuple(range(node.rank))))
        counts = [count(size) for size in node.shape]
        row = False
    else:
        total, row = _reduced(node, view, dimension)
        counts = [count(view[dimension - 1])]
    divisor = counts[0] if len(counts) == 1 else einsum((), *((c, ()) for c in counts))
    return ir.scale(ir.apply("constant_power", divisor, -1.0), total), row


def columnwise_along(name: str, value, dimension: int) -> tuple[Tensor, bool]:
    """A column function (softmax, logsumexp) along ``dimension``: 1 down the columns, as
    ``softmax(Z)``; 2 along the rows, between two transposes. A reducing one gives a row for 1, a
    column for 2; a scalar when that has one entry."""
    function = FUNCTIONS[name]
    view = value.as_matrix() if value.node.rank else (1, 1)
    matrix = as_matrix_node(value.node, view)
    if dimension == 2:
        matrix = ir.transpose(matrix)
    result = function(matrix)
    if function.reduces:
        kept = view[1] if dimension == 1 else view[0]
        if kept == 1:
            return ir.reshape(result, ()), False
        return result, dimension == 1
    if dimension == 2:
        result = ir.transpose(result)
    return (result if result.shape == value.node.shape else ir.reshape(result, value.node.shape)), \
        getattr(value, "row", False)

