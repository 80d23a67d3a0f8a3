"""Matrix-form recovery: an IR tensor of rank ≤ 2 back to matrix notation.

Leaves, sums, elementwise and matrix functions translate one to one. A
contraction (einsum) of scalars, vectors and matrices is handed to
:mod:`matdiff.notation.search`, which finds the cheapest order of matrix
operations that computes it; reshapes that only add or drop axes of size 1
are the same matrix, and the vec and kron reshapes print as ``vec`` and
``kron``. Anything else (a rank-3 operand, an index no order can place) has no
matrix form: the translation is None, and :attr:`Recovery.failure` says which
index could not be placed.

The result is a small tree of :class:`MatrixExpr` nodes (:mod:`matdiff.notation.mtree`),
printed as re-parseable text in the input language (:func:`text`) and as LaTeX
(:func:`latex`).
"""

from __future__ import annotations

from matdiff.engine.ir import Tensor, const, einsum_operands
from matdiff.engine.functions import COLUMNS, ENTRIES, FUNCTIONS
from matdiff.notation.mtree import (MatrixExpr, call, hadamard, leaf, negate_, number, product, pushed_transpose, total,
                                    transpose)
from matdiff.notation.printing import function_latex, latex, latex_name, text
from matdiff.notation.numbers import format_number
from matdiff.notation.search import NoForm, Piece, Search

# ----- IR → matrix notation ---------------------------------------------------------------------

def _shape_class(node: Tensor) -> str:
    return ("scalar", "column", "matrix")[node.rank] if node.rank <= 2 else "tensor"



def _orientation(shape: tuple) -> str:
    """How a shape reads once its 1s are ignored: a rank-1 tensor and n×1 are columns, 1×n a row."""
    if len(shape) == 2 and shape[0] == 1 and shape[1] != 1:
        return "row"
    if len(shape) == 1 or (len(shape) == 2 and shape[1] == 1 and shape[0] != 1):
        return "column"
    return "other"


class Recovery:
    """Memoised IR → MatrixExpr translation (None where no matrix form exists).

    ``names`` (id of an IR node → name) binds shared subexpressions: such a node is
    translated once, its body recorded in ``bindings`` (dependencies first), and every
    use prints as the name.
    """

    def __init__(self, names: dict[int, str] | None = None, symmetric: frozenset = frozenset(),
                 transposed: dict[int, str] | None = None):
        self.symmetric = symmetric  # inputs assumed symmetric
        self.memo: dict[int, tuple[Tensor, MatrixExpr | None]] = {}  # the node is kept so its id stays its own
        self.names = dict(names or {})
        self.transposed = dict(transposed or {})  # a node whose transpose the user named: P' for P = …, 2
        self.bindings: list[tuple[str, MatrixExpr]] = []
        self.failure: str | None = None  # why the first contraction without a matrix form has none

    def __call__(self, node: Tensor) -> MatrixExpr | None:
        key = id(node)
        if key not in self.memo:
            body = None if node.rank > 2 else self._translate(node)
            if body is not None and key in self.names and body.op not in ("leaf", "number"):
                self.bindings.append((self.names[key], body))
                body = leaf(self.names[key], body.shape_class)
            elif body is not None and key in self.transposed:  # bound as the user wrote it, used as P'
                name = self.transposed[key]
                written = pushed_transpose(body)
                self.bindings.append((name, written))
                body = transpose(leaf(name, written.shape_class))
            self.memo[key] = (node, body)
        return self.memo[key][1]

    def _translate(self, node: Tensor) -> MatrixExpr | None:
        op = node.op
        if op == "var":
            return leaf(node.params[0], _shape_class(node), symmetric=node.params[0] in self.symmetric)
        if op == "const":
            return self._constant(node)
        if op == "eye":
            return call("eye", (leaf(str(node.shape[0]), "scalar"),), "matrix")
        if op == "add":  # a constant term broadcasts as a number: 1 - s
            terms = [number(t.params[0]) if t.op == "const" else self(t) for t in node.args]
            present = [t for t in terms if t is not None]
            return None if len(present) < len(terms) else total(*present)
        if op == "einsum":
            return self._einsum(node)
        if op == "reshape":
            return self._reshape(node)
        argument = self(node.args[0])
        if argument is None:
            return None
        if op in FUNCTIONS and FUNCTIONS[op].acts != ENTRIES:
            if FUNCTIONS[op].acts == COLUMNS and FUNCTIONS[op].reduces and node.rank == 1:
                return transpose(call(op, (argument,), "row"))  # a number per column: a row, here stood up
            keeps_shape = FUNCTIONS[op].acts == COLUMNS and not FUNCTIONS[op].reduces
            return call(op, (argument,), argument.shape_class if keeps_shape else _shape_class(node))
        if op == "power":
            exponent = self(node.args[1])
            shape_class = argument.shape_class if argument.shape_class != "scalar" else exponent.shape_class if exponent else "scalar"
            return None if exponent is None else MatrixExpr("power", (argument, exponent), ".^", shape_class)
        if op == "constant_power":
            exponent = node.params[0]
            if exponent == -1.0:
                one = number(1.0)
                return MatrixExpr("power", (argument, number(-1.0)), ".^", argument.shape_class) if argument.shape_class == "scalar" \
                    else MatrixExpr("divide", (one, argument), "./", argument.shape_class)
            return MatrixExpr("power", (argument, number(exponent)), ".^", argument.shape_class)
        return call(op, (argument,), argument.shape_class)

    def _constant(self, node: Tensor) -> MatrixExpr:
        value = node.params[0]
        if node.rank == 0:
            return number(value)
        ones = call("ones", tuple(leaf(str(d), "scalar") for d in node.shape), _shape_class(node))
        return ones if value == 1.0 else product(number(value), ones)

    def _reshape(self, node: Tensor) -> MatrixExpr | None:
        (inner,) = node.args
        target, source = node.shape, inner.shape
        if [d for d in target if d != 1] == [d for d in source if d != 1]:  # adding or dropping 1s
            x = self(inner)
            if x is None:
                return None
            if {_orientation(source), _orientation(target)} == {"row", "column"}:
                return transpose(x)  # a column laid out as a row, or a 1×n matrix read as a column
            return x
        if len(target) == 1 and inner.op == "einsum" and len(inner.args) == 1 and inner.rank == 2 \
                and inner.params[0][0] == (inner.params[1][1], inner.params[1][0]):
            x = self(inner.args[0])  # vec(X) = reshape(Xᵀ) row-major
            return None if x is None else call("vec", (x,), "column")
        if inner.op == "einsum" and len(inner.args) == 2 and inner.rank == 4 and len(target) == 2:
            (a, la), (b, lb) = einsum_operands(inner)
            out = inner.params[1]
            if la == (out[0], out[2]) and lb == (out[1], out[3]) and a.rank == b.rank == 2:
                x, y = self(a), self(b)
                return None if x is None or y is None else call("kron", (x, y), "matrix")
        return None

    def _einsum(self, node: Tensor) -> MatrixExpr | None:
        operands = einsum_operands(node)
        if any(a.rank > 2 for a, _ in operands):
            return None
        carried = {x for _, labels in operands for x in labels}
        vectors = [a for a, _ in operands if a.rank == 1]
        if node.rank == 0 and all(a.op == "const" for a, _ in operands) and len(vectors) == 1:
            coefficient = 1.0  # c·Σ of n ones: c·n, the dimension by its name when it has one
            for a, _ in operands:
                coefficient *= a.params[0]
            n = vectors[0].shape[0]
            if not isinstance(n, str):
                return number(coefficient * n)
            size = leaf(n, "scalar")
            return size if coefficient == 1.0 else product(number(coefficient), size)
        sizes_of = {x: size for a, labels in operands for x, size in zip(labels, a.shape)}
        summed = carried - set(node.params[1])
        if all(a.op == "const" for a, _ in operands) and set(node.params[1]) <= carried \
                and all(isinstance(sizes_of[x], int) for x in summed):
            value = 1.0  # c·1[i]·1[j], each summed index counting its size: a constant matrix, c*ones(m, n)
            for a, _ in operands:
                value *= a.params[0]
            for x in summed:
                value *= sizes_of[x]
            return self._constant(const(value, node.shape))
        pieces = []
        sizes = dict(zip(node.params[1], node.shape))
        for operand, labels in operands:
            expression = self(operand)
            if expression is None:
                return None
            sizes.update(zip(labels, operand.shape))
            pieces.append(Piece(expression, tuple(labels)))
        try:
            return Search(pieces, node.params[1], sizes).run()
        except NoForm as failure:
            if self.failure is None:
                self.failure = _unplaced(failure, node)
            return None


def _unplaced(failure: NoForm, node: Tensor) -> str:
    """Which index could not be placed, and where it is, for the one-line reason."""
    letters = dict(zip(sorted({x for labels in node.params[0] for x in labels} | set(node.params[1])),
                       "ijklmnpqrstuvwabcdefgh"))
    holders = ", ".join(text(h) if len(text(h)) <= 24 else text(h)[:21] + "…" for h in failure.holders)
    return (f"the index {letters.get(failure.label, '?')} is shared by {holders}, and no order of matrix products, "
            "Hadamard products, diag, trace or sums places it without an order-3 tensor")


__all__ = ["MatrixExpr", "Recovery", "call", "format_number", "function_latex", "hadamard", "latex", "latex_name", "leaf", "negate_", "number",
           "product", "text", "total", "transpose"]
