"""The matrix-notation tree: immutable nodes and normalising constructors.

:class:`MatrixExpr` is what every printed matrix form is built of. The constructors keep a
tree in a normal form a person would write (signs and numbers pulled to the front,
products flattened, transposes pushed through products). notation/printing.py prints it (text,
LaTeX) and weighs it (cost) with one walker. Nothing here knows about the IR.
"""

from __future__ import annotations

from dataclasses import dataclass

from matdiff.engine.ir import folds
from matdiff.engine.functions import COLUMNS, ENTRIES, FUNCTIONS


# ----- the matrix-notation tree ----------------------------------------------------------------


@dataclass(frozen=True)
class MatrixExpr:
    """A matrix expression: op in leaf, number, product, hadamard, sum, negate, transpose,
    call, power (elementwise .^ or scalar ^), matpow (a square matrix's integer power, ^),
    divide (./), quotient (by a scalar, /);
    ``shape_class`` is scalar, column, row or matrix; ``symmetric`` marks a leaf assumed symmetric
    (``assume={"S": "symmetric"}``), which is then its own transpose."""

    op: str
    args: tuple = ()
    name: str = ""
    shape_class: str = "matrix"
    value: float = 0.0
    symmetric: bool = False


def is_call(x: MatrixExpr, name: str) -> bool:
    """x is the function ``name`` applied (diag(v), inv(X), ones(n), …)."""
    return x.op == "call" and x.name == name


def leaf(name: str, shape_class: str, *, symmetric: bool = False) -> MatrixExpr:
    return MatrixExpr("leaf", (), name, shape_class, symmetric=symmetric)


def number(value: float) -> MatrixExpr:
    return MatrixExpr("number", (), "", "scalar", float(value))


def call(function: str, arguments: tuple, shape_class: str) -> MatrixExpr:
    return MatrixExpr("call", tuple(arguments), function, shape_class)


COMMUTATION = "K"
"""The commutation matrix K(m, n): K(m, n)*vec(A) = vec(A') for A m×n (Magnus & Neudecker). Not a
function of the input language: a form that needs it prints in LaTeX (K_{m,n}) and in the reason a
layout has no matrix form, never as ``.text``."""


def matrix_power(base: MatrixExpr, exponent: int) -> MatrixExpr:
    """A^k, the integer power of a square matrix (A^-k = inv(A)^k), as the language writes it."""
    return MatrixExpr("matpow", (base, number(float(exponent))), "^", base.shape_class)


def commutation(m: MatrixExpr, n: MatrixExpr) -> MatrixExpr:
    """K(m, n), of sizes ``m`` and ``n`` (leaves): the pq×pq permutation with vec(A') = K·vec(A)."""
    return call(COMMUTATION, (m, n), "matrix")


def in_language(x: MatrixExpr) -> bool:
    """Whether the input language can state x: it holds no commutation matrix."""
    pending = [x]
    while pending:
        y = pending.pop()
        if is_call(y, COMMUTATION):
            return False
        pending.extend(y.args)
    return True


def _product_shape_class(factors) -> str:
    shaped = [f.shape_class for f in factors if f.shape_class != "scalar"]
    if not shaped:
        return "scalar"
    first, last = shaped[0], shaped[-1]
    has_rows = first in ("matrix", "column")
    has_columns = last in ("matrix", "row")
    return {(True, True): "matrix", (True, False): "column", (False, True): "row"}.get((has_rows, has_columns),
                                                                                   "scalar")


def _is_identity(f: MatrixExpr) -> bool:
    if f.op == "transpose":
        f = f.args[0]
    if f.op != "call":
        return False
    return f.name == "eye" or (f.name == "ones" and all(a.op == "leaf" and a.name == "1" for a in f.args))


# A product nested in a product is flattened into it up to this length; a longer one stays one
# factor, lest a 10,000-factor chain, recovered a few factors at a time, be copied at each step.
MAX_FLATTENED_FACTORS = 1024


def product(*factors: MatrixExpr) -> MatrixExpr:
    """The matrix product, flattened; a scalar-valued product (x'*y) inside a product of
    matrices stays one factor, so the chain of matrices is always the non-scalar factors."""
    shaped = any(f.shape_class != "scalar" for f in factors)
    flat: list[MatrixExpr] = []
    for f in factors:
        nested = f.op == "product" and not (shaped and f.shape_class == "scalar") and len(f.args) <= MAX_FLATTENED_FACTORS
        flat.extend(f.args if nested else (f,))
    coefficient = 1.0
    rest = []
    for f in flat:
        if f.op == "number" and folds(coefficient * f.value):
            coefficient *= f.value
        else:
            rest.append(f)
    negate = False
    moved = []
    for f in rest:  # pull signs out of factors: A*(-B) = -(A*B)
        if f.op == "negate":
            negate = not negate
            f = f.args[0]
        moved.append(f)
    rest = [f for f in moved if f.shape_class == "scalar"] + [f for f in moved if f.shape_class != "scalar"]
    matrices = [f for f in rest if f.shape_class != "scalar"]
    if len(matrices) > 1:  # I·A = A, and a 1×1 ones(1) only reshapes: x*ones(1)' = x
        identities = [f for f in matrices if _is_identity(f)]
        if identities:
            keep = [f for f in matrices if not _is_identity(f)] or identities[:1]
            rest = [f for f in rest if f.shape_class == "scalar"] + keep
    if coefficient < 0:
        coefficient, negate = -coefficient, not negate
    if coefficient != 1.0 or not rest:
        rest.insert(0, number(coefficient))
    result = rest[0] if len(rest) == 1 else MatrixExpr("product", tuple(rest), "", _product_shape_class(rest))
    return negate_(result) if negate else result


def hadamard(*factors: MatrixExpr) -> MatrixExpr:
    flat: list[MatrixExpr] = []
    for f in factors:
        flat.extend(f.args if f.op == "hadamard" else (f,))
    if len(flat) == 1:
        return flat[0]
    return MatrixExpr("hadamard", tuple(flat), "", broadcast_class(flat))


def negate_(x: MatrixExpr) -> MatrixExpr:
    if x.op == "negate":
        return x.args[0]
    if x.op == "number":
        return number(-x.value)
    return MatrixExpr("negate", (x,), "", x.shape_class)


def total(*terms: MatrixExpr) -> MatrixExpr:
    flat: list[MatrixExpr] = []
    for t in terms:
        flat.extend(t.args if t.op == "sum" else (t,))
    if len(flat) == 1:
        return flat[0]
    flat.sort(key=lambda t: t.op == "negate")  # positive terms first reads better
    return MatrixExpr("sum", tuple(flat), "", broadcast_class(flat))


def broadcast_class(operands) -> str:
    """A sum's or Hadamard product's class: a column beside a row or a matrix is a matrix (expansion)."""
    shaped = {x.shape_class for x in operands} - {"scalar"}
    return shaped.pop() if len(shaped) == 1 else "matrix" if shaped else "scalar"


_FLIP = {"column": "row", "row": "column", "matrix": "matrix", "scalar": "scalar"}


def transpose(x: MatrixExpr) -> MatrixExpr:
    """(AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, Aᵀᵀ = A; scalars, the identity and assumed-symmetric
    leaves are their own transpose."""
    if x.shape_class == "scalar" or x.symmetric:
        return x
    if x.op == "transpose":
        return x.args[0]
    if x.op == "product":
        return product(*[transpose(f) for f in reversed(x.args)])
    if x.op == "negate":
        return negate_(transpose(x.args[0]))
    if x.op == "hadamard":
        return hadamard(*[transpose(f) for f in x.args])
    if x.op == "quotient":  # (A/s)' = A'/s
        return MatrixExpr("quotient", (transpose(x.args[0]), x.args[1]), "", _FLIP[x.shape_class])
    if x.op == "power" and x.args[1].shape_class == "scalar":  # (A.^c)' = A'.^c
        return MatrixExpr("power", (transpose(x.args[0]), x.args[1]), x.name, _FLIP[x.shape_class])
    if x.op == "call" and x.name in ("sum", "mean") and len(x.args) == 2 and x.args[1].op == "number":
        return call(x.name, (transpose(x.args[0]), number(3.0 - x.args[1].value)), _FLIP[x.shape_class])  # sum(X, 2)' = sum(X', 1)
    if is_call(x, "eye"):  # I' = I
        return x
    if is_call(x, "ones") and len(x.args) == 2:  # ones(m, n)' = ones(n, m)
        return call("ones", x.args[::-1], "matrix")
    if x.op == "call" and x.name in FUNCTIONS and FUNCTIONS[x.name].acts == COLUMNS and x.args[0].shape_class == "matrix":
        by_rows = x.args[-1].op == "number" and x.args[-1].value == 2  # softmax(A)' = softmax(A', 2)
        return call(x.name, (transpose(x.args[0]),) + (() if by_rows else (number(2.0),)), _FLIP[x.shape_class])
    return MatrixExpr("transpose", (x,), "", _FLIP[x.shape_class])


def pushed_transpose(x: MatrixExpr) -> MatrixExpr:
    """xᵀ with the transpose carried into sums and elementwise functions as well, as a user writes a
    row: (sqrt(mean(M'.^2, 2) + c))ᵀ = sqrt(mean(M.^2, 1) + c) (transpose does the rest)."""
    if x.op == "sum":
        return total(*(pushed_transpose(t) for t in x.args))
    if x.op == "call" and x.name in FUNCTIONS and FUNCTIONS[x.name].acts == ENTRIES:
        argument = pushed_transpose(x.args[0])
        return call(x.name, (argument,), argument.shape_class)
    return transpose(x)
