"""Matrix Cookbook identities as matdiff states them: the yardstick for printed forms.

Each entry is a derivative (expression, variable, shapes, layout) and the form the
Matrix Cookbook (Petersen & Pedersen, 2012), Magnus & Neudecker or a textbook gives
for it, written in the input language. The compactness test checks that matdiff's printed form is at
most 1.5× as many tokens as the book's; the round-trip test evaluates both;
``scripts/cookbook_table.py`` prints the ``README_ROWS`` as the README table.
Nothing here is used by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    topic: str  # the book's section, roughly
    expression: str
    wrt: str | tuple
    shapes: dict
    layout: str
    book: str  # the book's form, in the input language


_SQUARE = {"X": (3, 3)}
_AXB = {"A": (2, 3), "X": (3, 4), "B": (4, 2)}

IDENTITIES = (
    Identity("traces", "tr(A*X*B)", "X", _AXB, "gradient", "A'*B'"),
    Identity("traces", "tr(A*X)", "X", {"A": (4, 3), "X": (3, 4)}, "gradient", "A'"),
    Identity("traces", "tr(X'*A)", "X", {"X": (3, 4), "A": (3, 4)}, "gradient", "A"),
    Identity("traces", "tr(X'*A*X)", "X", {"X": (3, 2), "A": (3, 3)}, "gradient", "(A + A')*X"),
    Identity("traces", "tr(X*A*X')", "X", {"X": (2, 3), "A": (3, 3)}, "gradient", "X*(A + A')"),
    Identity("traces", "tr(X'*X)", "X", {"X": (3, 2)}, "gradient", "2*X"),
    Identity("traces", "tr(X^2)", "X", _SQUARE, "gradient", "2*X'"),
    Identity("traces", "tr(A*X*B*X')", "X", {"A": (2, 2), "X": (2, 3), "B": (3, 3)}, "gradient",
             "A*X*B + A'*X*B'"),
    Identity("traces, inverse", "tr(A*inv(X)*B)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)}, "gradient",
             "-inv(X)'*A'*B'*inv(X)'"),
    Identity("determinants", "det(X)", "X", _SQUARE, "gradient", "det(X)*inv(X)'"),
    Identity("determinants", "logdet(X)", "X", _SQUARE, "gradient", "inv(X)'"),
    Identity("determinants", "det(A*X*B)", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 3)}, "gradient",
             "det(A*X*B)*A'*inv(A*X*B)'*B'"),
    Identity("determinants", "logdet(X'*X)", "X", {"X": (4, 3)}, "gradient", "2*X*inv(X'*X)"),
    Identity("linear forms", "a'*X*b", "X", {"a": (3,), "X": (3, 4), "b": (4,)}, "gradient", "a*b'"),
    Identity("linear forms", "a'*X'*b", "X", {"a": (3,), "X": (4, 3), "b": (4,)}, "gradient", "b*a'"),
    Identity("inverses", "a'*inv(X)*b", "X", {"a": (3,), "X": (3, 3), "b": (3,)}, "gradient",
             "-inv(X)'*a*b'*inv(X)'"),
    Identity("quadratic forms", "x'*B*x", "x", {"x": (3,), "B": (3, 3)}, "gradient", "(B + B')*x"),
    Identity("quadratic forms", "x'*B*x", "x", {"x": (3,), "B": (3, 3)}, "numerator", "x'*(B + B')"),
    Identity("quadratic forms", "b'*X'*X*c", "X", {"b": (3,), "X": (4, 3), "c": (3,)}, "gradient", "X*(b*c' + c*b')"),
    Identity("quadratic forms", "(A*x + b)'*C*(D*x + e)", "x",
             {"x": (3,), "A": (4, 3), "b": (4,), "C": (4, 5), "D": (5, 3), "e": (5,)}, "gradient",
             "D'*C'*(A*x + b) + A'*C*(D*x + e)"),
    Identity("least squares", "norm2(A*x - b)^2", "x", {"A": (4, 3), "x": (3,), "b": (4,)}, "gradient",
             "2*A'*(A*x - b)"),
    Identity("least squares", "norm2(A*x - b)^2", "x", {"A": (4, 3), "x": (3,), "b": (4,)}, "numerator",
             "2*(A*x - b)'*A"),
    Identity("least squares", "norm2(A*X - B)^2", "X", {"A": (4, 3), "X": (3, 2), "B": (4, 2)}, "gradient",
             "2*A'*(A*X - B)"),
    Identity("norms", "norm2(x)", "x", {"x": (3,)}, "gradient", "x/norm2(x)"),
    Identity("quadratic forms", "x'*x", "x", {"x": (3,)}, "gradient", "2*x"),
    Identity("linear forms", "A*x", "x", {"A": (2, 3), "x": (3,)}, "numerator", "A"),
    Identity("chain rule", "W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator", "h*W2"),
    Identity("chain rule", "W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "denominator",
             "W2'*h'"),
    Identity("Kronecker (vec)", "vec(A*X*B)", "X", _AXB, "vec", "kron(B', A)"),
    Identity("Kronecker (vec)", "A*X*B", "X", _AXB, "vec", "kron(B', A)"),
    Identity("Kronecker (vec)", "inv(X)", "X", _SQUARE, "vec", "-kron(inv(X)', inv(X))"),
    Identity("Kronecker (vec)", "X^2", "X", _SQUARE, "vec", "kron(eye(3), X) + kron(X', eye(3))"),
    Identity("Hessians", "x'*B*x", ("x", "x"), {"x": (3,), "B": (3, 3)}, "gradient", "B + B'"),
    Identity("Hessians", "sum(softplus(X*w))", ("w", "w"), {"X": (5, 3), "w": (3,)}, "gradient",
             "X'*diag(sigmoid(X*w).*(1 - sigmoid(X*w)))*X"),
    Identity("networks", "sum(softplus(X*w))", "w", {"X": (5, 3), "w": (3,)}, "gradient",
             "X'*sigmoid(X*w)"),
    Identity("networks", "sum(sigmoid(A*x))", "A", {"A": (3, 4), "x": (4,)}, "gradient",
             "(sigmoid(A*x).*(1 - sigmoid(A*x)))*x'"),
    Identity("networks", "tanh(A*x)", "x", {"A": (3, 4), "x": (4,)}, "numerator", "diag(1 - tanh(A*x).^2)*A"),
    Identity("elementwise", "x.*y", "x", {"x": (3,), "y": (3,)}, "numerator", "diag(y)"),
    Identity("elementwise", "exp(x)", "x", {"x": (3,)}, "numerator", "diag(exp(x))"),
    Identity("elementwise", "sum(exp(X))", "X", {"X": (3, 2)}, "gradient", "exp(X)"),
)

# The README's 20 rows: a few of each kind, chosen for variety (indices into IDENTITIES).
README_ROWS = tuple(IDENTITIES[i] for i in (0, 3, 5, 7, 8, 9, 12, 15, 16, 17, 18, 21, 23, 26, 27, 28, 30, 32, 33, 35))
