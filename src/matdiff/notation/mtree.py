"""The matrix-notation tree: immutable nodes, normalising constructors, printers and cost.

:class:`MatrixExpr` is what every printed matrix form is built of. The constructors keep a
tree in a normal form a person would write (signs and numbers pulled to the front,
products flattened, transposes pushed through products); :func:`text` prints it
as re-parseable input-language text, :func:`latex` as LaTeX, and :func:`cost`
weighs the printed form in tokens straight from the tree, so searches and
rewrites can compare candidates without printing them. Nothing here knows
about the IR (the table of functions gives their LaTeX).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from matdiff.engine.ir import folds
from matdiff.engine.functions import FUNCTIONS
from matdiff.notation.numbers import format_number, fraction, number_text  # noqa: F401 (re-exported)


# ----- the matrix-notation tree ----------------------------------------------------------------


@dataclass(frozen=True)
class MatrixExpr:
    """A matrix expression: op in leaf, number, product, hadamard, sum, negate, transpose,
    call, power (elementwise .^ or scalar ^), divide (./), quotient (by a scalar, /);
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
    if is_call(x, "eye"):  # I' = I
        return x
    if is_call(x, "ones") and len(x.args) == 2:  # ones(m, n)' = ones(n, m)
        return call("ones", x.args[::-1], "matrix")
    if x.op == "call" and x.name in ("softmax", "logsumexp") and x.args[0].shape_class == "matrix":
        by_rows = x.args[-1].op == "number" and x.args[-1].value == 2  # softmax(A)' = softmax(A', 2)
        return call(x.name, (transpose(x.args[0]),) + (() if by_rows else (number(2.0),)), _FLIP[x.shape_class])
    return MatrixExpr("transpose", (x,), "", _FLIP[x.shape_class])


# ----- printing ------------------------------------------------------------------------------------

_LEVEL = {"sum": 1, "product": 2, "hadamard": 2, "divide": 2, "quotient": 2, "negate": 3, "power": 4,
          "transpose": 5}


def _level(x: MatrixExpr) -> int:
    if x.op == "number" and fraction(x.value):  # 1/6 reads as a quotient
        return 2
    if x.op == "number" and x.value < 0:
        return 3
    return _LEVEL.get(x.op, 6)


def text(x: MatrixExpr, memo: dict | None = None) -> str:
    """Re-parseable text in the input language. ``memo`` (id → text, for trees whose nodes stay
    alive) lets a caller that prints every subtree, as the rewriter does, do so in linear time."""
    return _memoised(_text, x, memo)


def _memoised(compute, x: MatrixExpr, memo: dict | None):
    """compute(x, memo), looked up in ``memo`` by id (a fresh memo when None)."""
    if memo is None:
        return compute(x, {})
    key = id(x)
    if key not in memo:
        memo[key] = compute(x, memo)
    return memo[key]


def _text(x: MatrixExpr, memo: dict) -> str:
    def show(y: MatrixExpr) -> str:
        return text(y, memo) if memo is not None else _text(y, memo)

    def wrap(y: MatrixExpr, minimum: int) -> str:
        s = show(y)
        return f"({s})" if _level(y) < minimum else s

    op = x.op
    if op == "leaf":
        return x.name
    if op == "number":
        return number_text(x.value)
    if op == "call":
        return f"{x.name}({', '.join(show(a) for a in x.args)})"
    if op == "product" and x.args[0].op == "number" and fraction(x.args[0].value) and len(x.args) > 1:
        p, q = fraction(x.args[0].value)  # type: ignore[misc]
        rest = "*".join(wrap(f, 3 if position == 0 else 4) for position, f in enumerate(x.args[1:]))
        return f"{'' if p == 1 else '-' if p == -1 else f'{p}*'}{rest}/{q}"  # Y/6, not 0.166666666666667*Y
    if op == "transpose":
        return wrap(x.args[0], 6) + "'"
    if op == "negate":
        return "-" + wrap(x.args[0], 2)
    if op == "power":
        base, exponent = x.args
        operator = "^" if base.shape_class == "scalar" else ".^"
        return f"{wrap(base, 5)}{operator}{wrap(exponent, 6)}"
    if op == "quotient":  # division by a scalar: x/norm2(x)
        return f"{wrap(x.args[0], 2)}/{wrap(x.args[1], 3)}"
    if op in ("product", "hadamard", "divide"):
        joiner = {"product": "*", "hadamard": ".*", "divide": " ./ "}[op]
        # A later factor "-a*w" would lose its sign to "a" alone: u.*-a*w reads (u.*-a)*w.
        return joiner.join(wrap(f, 3 if position == 0 else 4) for position, f in enumerate(x.args))
    if op == "sum":
        return _signed_terms(x, show, wrap)
    raise AssertionError(op)


def _signed_terms(x: MatrixExpr, show, wrap) -> str:
    """a + b - c: a sum printed with each later term's sign as its operator (text and LaTeX alike)."""
    parts = [show(x.args[0])]
    for t in x.args[1:]:
        if t.op == "number" and t.value < 0:
            parts.append(f"- {number_text(-t.value)}")
        else:
            parts.append(f"- {wrap(t.args[0], 2)}" if t.op == "negate" else f"+ {wrap(t, 2)}")
    return " ".join(parts)


_LATEX_FUNCTIONS = {"tr": r"\operatorname{tr}", "diag": r"\operatorname{diag}", "vec": r"\operatorname{vec}",
                    "sum": r"\operatorname{sum}"}


def latex_name(name: str) -> str:
    """W2 → W_{2}, x_hat → x_{hat}, alpha → \\alpha."""
    greek = {"alpha", "beta", "gamma", "delta", "epsilon", "lambda", "mu", "sigma", "theta", "tau", "phi", "omega"}
    match = re.fullmatch(r"([A-Za-z]+?)_?(\d+|_\w+)?", name)
    if not match:
        return r"\mathrm{" + name.replace("_", r"\_") + "}"
    base, subscript = match.group(1), match.group(2)
    base_tex = "\\" + base if base in greek else (base if len(base) == 1 else r"\mathrm{" + base + "}")
    if subscript:
        return f"{base_tex}_{{{subscript.lstrip('_')}}}"
    return base_tex


def function_latex(name: str, argument: str, atomic: str) -> str:
    """The LaTeX of a function of the table applied to ``argument`` (``atomic``: the argument
    parenthesised unless it is atomic already)."""
    return FUNCTIONS[name].latex.replace("{x!}", atomic).replace("{x}", argument)


def latex(x: MatrixExpr, memo: dict | None = None) -> str:
    """LaTeX of the tree; ``memo`` (id → LaTeX) prints a subtree shared n times once (a deep nest's
    shared layers made this exponential in the depth)."""
    return _memoised(_latex, x, memo)


def _latex(x: MatrixExpr, memo: dict) -> str:
    def show(y: MatrixExpr) -> str:
        return latex(y, memo)

    def wrap(y: MatrixExpr, minimum: int) -> str:
        s = show(y)
        level = 2 if is_call(y, "kron") else 6 if y.op == "number" and fraction(y.value) and y.value > 0 \
            else _level(y)  # A ⊗ B is infix here: (A ⊗ B) K, (A ⊗ B)^T; \frac{1}{3} is whole
        return f"\\left({s}\\right)" if level < minimum else s

    op = x.op
    if op == "leaf":
        return latex_name(x.name) if not x.name.replace("*", "").isdigit() else x.name
    if op == "number":
        exact = fraction(x.value)
        if exact:
            return ("-" if exact[0] < 0 else "") + rf"\frac{{{abs(exact[0])}}}{{{exact[1]}}}"
        return format_number(x.value)
    if op == "call":
        if x.name in FUNCTIONS:
            return function_latex(x.name, show(x.args[0]), wrap(x.args[0], 6))
        if x.name == "eye":
            return f"I_{{{show(x.args[0])}}}"
        if x.name == "ones":
            return r"\mathbf{1}_{" + r"\times ".join(show(a) for a in x.args) + "}"
        if x.name == "kron":
            return f"{wrap(x.args[0], 3)} \\otimes {wrap(x.args[1], 3)}"
        if x.name == COMMUTATION:
            return f"K_{{{show(x.args[0])},{show(x.args[1])}}}"
        if x.name == "norm2":
            return r"\left\|" + show(x.args[0]) + r"\right\|"
        if x.name == "sum" and len(x.args) == 2 and x.args[1].op == "number":  # row sums, column sums
            return (r"\sum_{j} " if x.args[1].value == 2 else r"\sum_{i} ") + \
                f"\\left({show(x.args[0])}\\right)" + ("_{:,j}" if x.args[1].value == 2 else "_{i,:}")
        name = _LATEX_FUNCTIONS.get(x.name, r"\operatorname{" + x.name + "}")
        return f"{name}\\left({', '.join(show(a) for a in x.args)}\\right)"
    if op == "transpose":
        return wrap(x.args[0], 6) + r"^{\top}"
    if op == "negate":
        return "-" + wrap(x.args[0], 4)
    if op == "power":
        base, exponent = x.args
        if base.shape_class != "scalar":
            return f"{wrap(base, 5)}^{{\\circ {show(exponent)}}}"
        return f"{wrap(base, 5)}^{{{show(exponent)}}}"
    if op == "product":
        return " ".join(wrap(f, 3) for f in x.args)
    if op == "hadamard":
        return r" \odot ".join(wrap(f, 3) for f in x.args)
    if op == "quotient":
        return rf"\frac{{{show(x.args[0])}}}{{{show(x.args[1])}}}"
    if op == "divide":
        return r" \oslash ".join(wrap(f, 3) for f in x.args)
    if op == "sum":
        return _signed_terms(x, show, wrap)
    raise AssertionError(op)


# ----- cost: the printed length, from the tree ------------------------------------------------------

_TOKEN = re.compile(r"[A-Za-z_][A-Za-z_0-9]*|\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+|\.\*|\./|\.\^|\S")


def tokens(source: str) -> list[str]:
    """The tokens of a formula in the input language: names, numbers, operators, brackets."""
    return _TOKEN.findall(source)


# Tokens a careful writer avoids weigh more: a transpose mark (so (A*x - b)' beats
# x'*A' - b', whose parentheses the parent would add), and diag(v), an n×n matrix
# built from a vector (so (W'*d).*v beats diag(v)*W'*d).
WEIGHT = {"'": 1.5, "diag": 4.0}


def text_cost(source: str) -> float:
    """The weighted token count of printed text (for forms written by hand, as a book's)."""
    return sum(WEIGHT.get(t, 1.0) for t in tokens(source))


def cost(x: MatrixExpr, memo: dict | None = None, weights: dict | None = None) -> float:
    """The weighted token count of ``text(x)``, computed on the tree: every node's cost is its
    children's plus its own operators and the parentheses :func:`text` would add. ``memo``
    (id → cost, for trees whose nodes stay alive) makes repeated calls on shared subtrees free."""
    if weights is not None:
        return _memoised(lambda y, m: _cost(y, m, weights), x, memo)
    return _memoised(_cost, x, memo)


def _cost(x: MatrixExpr, memo: dict, weights: dict = WEIGHT) -> float:
    def wrap(y: MatrixExpr, minimum: int) -> float:
        return cost(y, memo, weights) + (2.0 if _level(y) < minimum else 0.0)

    op = x.op
    if op == "leaf":
        return text_cost(x.name)
    if op == "number":
        return text_cost(format_number(x.value))
    if op == "call":
        return weights.get(x.name, 1.0) + 2.0 + max(len(x.args) - 1, 0) + sum(cost(a, memo, weights) for a in x.args)
    if op == "transpose":
        return wrap(x.args[0], 6) + weights["'"]
    if op == "negate":
        return 1.0 + wrap(x.args[0], 2)
    if op == "power":
        return wrap(x.args[0], 5) + 1.0 + wrap(x.args[1], 6)
    if op == "quotient":
        return wrap(x.args[0], 2) + 1.0 + wrap(x.args[1], 3)
    if op in ("product", "hadamard", "divide"):
        return len(x.args) - 1.0 + sum(wrap(f, 3 if position == 0 else 4) for position, f in enumerate(x.args))
    if op == "sum":
        total_ = cost(x.args[0], memo, weights)
        for t in x.args[1:]:
            if t.op == "number" and t.value < 0:
                total_ += 1.0 + text_cost(format_number(-t.value))
            else:
                total_ += 1.0 + (wrap(t.args[0], 2) if t.op == "negate" else wrap(t, 2))
        return total_
    raise AssertionError(op)
