"""The operator reference the web page shows (the input language): each operator and function with its meaning
and an example, one row each.

The page lists the functions the engine reports (``/api/capabilities``), so a function added to the
engine appears at once: an IR op with the row its record states (``Function.reference``), any other
with the row here, or its name alone; a row for a function the engine lacks is never shown.
"""

from __future__ import annotations

from matdiff.engine.functions import FUNCTIONS as PRIMITIVES

OPERATORS = [  # syntax, meaning, example
    ("A*B", "matrix product; scaling when one side is a scalar", "W2*W1*h"),
    ("A + B, A - B", "sum and difference; a scalar adds to every entry, and a column (m×1) or row (1×n) "
                     "is repeated along the other dimension (implicit expansion)", "W*X + b"),
    ("A/s", "division by a scalar", "x/norm2(x)"),
    ("A'", "transpose", "x'*A*x"),
    ("A.*B, A./B", "elementwise product and quotient", "a.*(1 - a)"),
    ("A.^p", "elementwise power", "(a3 - y).^2"),
    ("s^p, A^k", "power of a scalar; integer power of a square matrix", "A^2"),
    ("-A", "negation", "-y.*(X*w)"),
    ("name = …", "an intermediate, on its own line or before ';'; the last line is the value "
                 "(or the last name assigned)", "z = W*x; sum(sigmoid(z))"),
]

_NOTATION = {  # name: (syntax, meaning, example), for the functions that are not IR ops (the others' rows are
    # in their records, engine/functions.py)
    "tr": ("tr(A)", "trace of a square matrix", "tr(W'*S*W)"),
    "diag": ("diag(v), diag(A)", "a vector as a diagonal matrix; a matrix's diagonal as a vector", "diag(x)*y"),
    "sum": ("sum(X), sum(X, 1), sum(X, 2)", "the sum of all entries; of each column (a row); of each row "
            "(a column)", "sum(W*X + b - Y, 2)"),
    "mean": ("mean(X), mean(X, 1), mean(X, 2)", "the mean of all entries; of each column; of each row",
             "mean((W*X - Y).^2)"),
    "norm2": ("norm2(X)", "Euclidean norm of a vector, Frobenius norm of a matrix", "norm2(A*x - y)^2"),
    "norm1": ("norm1(X)", "sum of absolute values", "norm1(w)"),
    "kron": ("kron(A, B)", "Kronecker product", "kron(eye(2), A)"),
    "vec": ("vec(A)", "the columns of A stacked into one vector", "vec(X)'*vec(X)"),
    "eye": ("eye(n)", "the n×n identity", "x'*(A + eye(3))*x"),
    "ones": ("ones(n), ones(m, n)", "a vector or matrix of ones (shown 𝟏)", "ones(3)'*x"),
}


def row_of(name: str) -> tuple[str, str, str] | None:
    """A function's reference row (syntax, meaning, example): its record's, read when asked."""
    return PRIMITIVES[name].reference if name in PRIMITIVES else _NOTATION.get(name)


def reference(function_names) -> dict:
    """The operators, and the functions named (the engine's), as rows {syntax, meaning, example}."""
    def row(syntax: str, meaning: str, example: str) -> dict:
        return {"syntax": syntax, "meaning": meaning, "example": example}

    functions = [row(*(row_of(name) or (f"{name}(…)", "", ""))) for name in sorted(function_names)]
    return {"operators": [row(*entry) for entry in OPERATORS], "functions": functions}
