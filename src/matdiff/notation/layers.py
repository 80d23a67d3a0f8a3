"""Rewrite rules for the layers' printed forms: products with a vector of ones read as sums by row
or column, and a vector repeated by ones beside a matrix reads as implicit expansion.

The IR has no reductions or broadcasts of its own (engine/along.py writes them as einsums with
ones), so matrix forms recovered from it hold ``X*ones(n)`` and ``b*ones(1, N)``. What the
literature writes is ``sum(X, 2)`` and ``W*X + b``; these identities, in the language's own terms,
take the printed form there wherever it is no longer (the rule table's cost decides):

    X*1ₙ = sum(X, 2)      1ₘᵀ*X = sum(X, 1)      A + v*1ₙᵀ = A + v      A + 1ₘ*r = A + r
    A + c*1ₘ*1ₙᵀ = A + c      v + c*1ₙ = v + c      diag(v)*A = v.*A      A*diag(v) = A.*v'

The last two hold where the sum keeps A's full shape: at least one term is neither a repeated
column nor a repeated row.
"""

from __future__ import annotations

from matdiff.engine.rules import Rule
from matdiff.notation.mtree import MatrixExpr, call, hadamard, is_call, number, product, total, transpose
from matdiff.notation.summands import Summand, summand_of


def _ones_call(x: MatrixExpr) -> str | None:
    """'column' for ones(n) or ones(1, n)', 'row' for ones(n)' or ones(1, n); None otherwise."""
    transposed = x.op == "transpose"
    inner = x.args[0] if transposed else x
    if inner.op != "call" or inner.name != "ones" or inner.shape_class not in ("column", "row"):
        return None
    if transposed:
        return "row" if inner.shape_class == "column" else "column"
    return inner.shape_class


def _split(x: MatrixExpr) -> tuple[list, list]:
    scalars = [f for f in x.args if f.shape_class == "scalar"]
    return scalars, [f for f in x.args if f.shape_class != "scalar"]


def row_sums(x: MatrixExpr) -> MatrixExpr | None:
    """X·1ₙ = sum(X, 2): the sums of X's rows (a column)."""
    if x.op != "product":
        return None
    scalars, matrices = _split(x)
    if len(matrices) < 2 or _ones_call(matrices[-1]) != "column":
        return None
    summed = product(*matrices[:-1])
    if summed.shape_class != "matrix":
        return None
    return _sum_or_mean(scalars, summed, 2, _size_of_ones(matrices[-1]), "column")


def column_sums(x: MatrixExpr) -> MatrixExpr | None:
    """1ₘᵀ·X = sum(X, 1): the sums of X's columns (a row), wherever the ones row stands in a chain."""
    if x.op != "product":
        return None
    scalars, matrices = _split(x)
    for k, factor in enumerate(matrices[:-1]):
        if _ones_call(factor) == "row":
            summed = product(*matrices[k + 1:])
            if summed.shape_class != "matrix":
                return None
            return product(*matrices[:k], _sum_or_mean(scalars, summed, 1, _size_of_ones(factor), "row"))
    return None


def combined_sums(x: MatrixExpr) -> MatrixExpr | None:
    """sum(A, k) ± c·sum(B, k) = sum(A ± c·B, k): terms of a sum that each sum along the same
    dimension, over operands of one shape, are one sum (the softmax layer's bias gradient)."""
    if x.op != "sum":
        return None
    along: dict[float, list] = {}
    rest = []
    for term in x.args:
        parts = summand_of(term)
        alone = (parts.chain or parts.scalars) if len(parts.chain) + len(parts.scalars) == 1 else ()
        inner = alone[0] if alone else None
        if inner is not None and is_call(inner, "sum") and len(inner.args) == 2 and inner.args[1].op == "number":
            along.setdefault(inner.args[1].value, []).append((parts.coefficient, inner))
        else:
            rest.append(term)
    for k, found in along.items():
        if len(found) > 1 and len({summed.args[0].shape_class for _, summed in found}) == 1:
            inside = total(*(Summand(c, (), (summed.args[0],)).build() for c, summed in found))
            combined = call("sum", (inside, number(k)), found[0][1].shape_class)
            others = [Summand(c, (), (summed,)).build() for j, group in along.items() if j != k for c, summed in group]
            return total(combined, *others, *rest)
    return None


def _size_of_ones(x: MatrixExpr) -> int | None:
    """n of ones(n) or ones(n)' when it is a number."""
    inner = x.args[0] if x.op == "transpose" else x
    size = inner.args[-1] if inner.args else None
    return int(size.name) if size is not None and size.op == "leaf" and size.name.isdigit() else None


def _coefficient(scalars: list) -> float:
    value = 1.0
    for f in scalars:
        if f.op == "number":
            value *= f.value
    return value


def _sum_or_mean(scalars: list, summed: MatrixExpr, axis: int, size: int | None, shape_class: str) -> MatrixExpr:
    """c·sum(X, k), or (c·n)·mean(X, k) when c·n is a whole number: 0.25*sum(Z, 1) over 4 rows
    is mean(Z, 1), as the normalisations of the literature write it."""
    coefficient, scalars = _coefficient(scalars), [f for f in scalars if f.op != "number"]
    scaled = coefficient * size if size else None
    if scaled is not None and coefficient != 1.0 and abs(scaled - round(scaled)) < 1e-12 and round(scaled) != 0:
        return product(number(float(round(scaled))), *scalars, call("mean", (summed, number(axis)), shape_class))
    return product(number(coefficient), *scalars, call("sum", (summed, number(axis)), shape_class))


def repeated(term: MatrixExpr) -> MatrixExpr | None:
    """A term that repeats a column or a row with ones (c·v·1ᵀ or c·1·r), as that vector alone; a
    number repeated both ways (c·1·1ᵀ), as the number."""
    negated = term.op == "negate"
    inner = term.args[0] if negated else term
    if inner.op != "product":
        return None
    scalars, matrices = _split(inner)
    if len(matrices) == 1 and _ones_call(matrices[0]) is not None:  # c·1: the number c, repeated
        kept, along = matrices[0], matrices[0].shape_class
    elif len(matrices) >= 2 and _ones_call(matrices[-1]) == "row":
        kept, along = product(*matrices[:-1]), "column"  # (X·1)·1ᵀ: a column of row sums, repeated
    elif len(matrices) >= 2 and _ones_call(matrices[0]) == "column":
        kept, along = product(*matrices[1:]), "row"
    else:
        return None
    if kept.shape_class != along:
        return None
    if _ones_call(kept) is not None:  # c·1ₘ·1ₙᵀ repeats the number c: a scalar beside a matrix is one
        vector = product(*scalars) if scalars else number(1.0)
    else:
        vector = product(*scalars, kept)
    return MatrixExpr("negate", (vector,), "", vector.shape_class) if negated else vector


def expansion(x: MatrixExpr) -> MatrixExpr | None:
    """A + v·1ₙᵀ = A + v and A ⊙ (1ₘ·r) = A ⊙ r: implicit expansion repeats the vector, as long as
    a term or factor keeps A's full shape."""
    if x.op not in ("sum", "hadamard") or x.shape_class == "scalar":
        return None
    shortened = [repeated(t) for t in x.args]
    if all(s is None for s in shortened) or all(s is not None for s in shortened):
        return None
    args = [s if s is not None else t for s, t in zip(shortened, x.args)]
    if not any(a.shape_class == x.shape_class for a in args):
        return None
    return total(*args) if x.op == "sum" else hadamard(*args)


def scaled_rows(x: MatrixExpr) -> MatrixExpr | None:
    """diag(v)·A = v ⊙ A and A·diag(v) = A ⊙ vᵀ: the rows (columns) of a matrix scaled, which
    implicit expansion writes without the diagonal matrix (the softmax's S.*(G - sum(G.*S, 2))).
    Only at an end of a product: X'·diag(v)·X stays the weighted Gram matrix the books write."""
    if x.op != "product":
        return None
    scalars, matrices = _split(x)
    if len(matrices) < 2:
        return None
    first, second, last, next_to_last = matrices[0], matrices[1], matrices[-1], matrices[-2]
    if _is_diagonal_of_column(first) and _scalable(second):
        return product(*scalars, hadamard(first.args[0], second), *matrices[2:])
    if _is_diagonal_of_column(last) and _scalable(next_to_last):
        return product(*scalars, *matrices[:-2], hadamard(next_to_last, transpose(last.args[0])))
    return None


def _is_diagonal_of_column(x: MatrixExpr) -> bool:
    return is_call(x, "diag") and x.shape_class == "matrix" and x.args[0].shape_class == "column"


def _scalable(x: MatrixExpr) -> bool:
    """A matrix whose rows read well scaled by .*: not a diagonal, not a Kronecker product (the vec
    layout's diag(vec(S))*kron(X', I) is the book's Jacobian)."""
    return x.shape_class == "matrix" and not _is_diagonal_of_column(x) and not is_call(x, "kron")


RULES: tuple[Rule, ...] = (
    Rule("row-sums", row_sums),            # X·1 = sum(X, 2)
    Rule("column-sums", column_sums),      # 1ᵀ·X = sum(X, 1)
    Rule("expansion", expansion),          # A + v·1ᵀ = A + v
    Rule("scaled-rows", scaled_rows),      # diag(v)·A = v ⊙ A
    Rule("combined-sums", combined_sums),  # sum(A, k) - sum(B, k) = sum(A - B, k)
)
