"""The operator reference the web page shows (the input language): each operator and function with its meaning
and an example, one row each.

The page lists the functions the engine reports (``/api/capabilities``), so a function added to the
engine appears at once, with its name alone until it has a row here; a row for a function the
engine lacks is never shown.
"""

from __future__ import annotations

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

FUNCTIONS = {  # name: (syntax, meaning, example)
    "exp": ("exp(X)", "exponential, entry by entry", "sum(exp(W*x))"),
    "log": ("log(X)", "natural logarithm, entry by entry (entries > 0)", "sum(log(x))"),
    "log1p": ("log1p(X)", "log(1 + x), entry by entry, accurate near 0", "sum(log1p(exp(z)))"),
    "sin": ("sin(X)", "sine, entry by entry", "sum(sin(x))"),
    "cos": ("cos(X)", "cosine, entry by entry", "sum(cos(A*x))"),
    "tan": ("tan(X)", "tangent, entry by entry", "sum(tan(x))"),
    "sinh": ("sinh(X)", "hyperbolic sine, entry by entry", "sum(sinh(x))"),
    "cosh": ("cosh(X)", "hyperbolic cosine, entry by entry", "sum(cosh(x))"),
    "tanh": ("tanh(X)", "hyperbolic tangent, entry by entry", "tanh(W*x)"),
    "sigmoid": ("sigmoid(X)", "logistic function 1/(1 + e⁻ˣ), entry by entry", "sigmoid(W*x)"),
    "relu": ("relu(X)", "max(x, 0), entry by entry", "relu(W1*X)"),
    "softplus": ("softplus(X)", "log(1 + eˣ), entry by entry", "sum(softplus(-y.*(X*w)))"),
    "sqrt": ("sqrt(X)", "square root, entry by entry (entries ≥ 0)", "sum(sqrt(x))"),
    "abs": ("abs(X)", "absolute value, entry by entry", "sum(abs(x - y))"),
    "sign": ("sign(X)", "−1, 0 or 1 by the sign of each entry (the derivative of abs)", "sign(x).*x"),
    "step": ("step(X)", "1 where an entry is > 0, else 0 (the derivative of relu)", "step(W*x).*y"),
    "tr": ("tr(A)", "trace of a square matrix", "tr(W'*S*W)"),
    "det": ("det(A)", "determinant", "det(X)"),
    "logdet": ("logdet(A)", "log of the determinant (positive)", "logdet(S)"),
    "inv": ("inv(A)", "inverse of a square matrix", "x'*inv(S)*x"),
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
    "softmax": ("softmax(Z), softmax(Z, 2)", "exp(z)/sum(exp(z)); of a matrix, column by column (1, the "
                "default) or row by row (2)", "softmax(Q*K'/sqrt(8), 2)*V"),
    "logsumexp": ("logsumexp(Z), logsumexp(Z, 2)", "log(sum(exp(z))), computed stably; of a matrix, a row "
                  "(per column) or, with 2, a column (per row)", "logsumexp(W*x) - y'*W*x"),
}


def reference(function_names) -> dict:
    """The operators, and the functions named (the engine's), as rows {syntax, meaning, example}."""
    def row(syntax: str, meaning: str, example: str) -> dict:
        return {"syntax": syntax, "meaning": meaning, "example": example}

    functions = [row(*FUNCTIONS[name]) if name in FUNCTIONS else row(f"{name}(…)", "", "")
                 for name in sorted(function_names)]
    return {"operators": [row(*entry) for entry in OPERATORS], "functions": functions}
