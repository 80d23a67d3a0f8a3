"""Matrix Cookbook identities as matdiff states them: the yardstick for printed forms.

Each entry is a derivative (expression, variable, shapes, layout) and the form the
Matrix Cookbook (Petersen & Pedersen, 2012) or a textbook gives for it, written in
the input language. The compactness test checks that matdiff's printed form is at
most 1.5× as many tokens as the book's; the round-trip test evaluates both;
``scripts/cookbook_table.py`` prints the first ``README_ROWS`` as the README table.
Nothing here is used by the engine.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    reference: str  # where the book states it
    expression: str
    wrt: str | tuple
    shapes: dict
    layout: str
    book: str  # the book's form, in the input language


_SQUARE = {"X": (3, 3)}
_AXB = {"A": (2, 3), "X": (3, 4), "B": (4, 2)}

IDENTITIES = (
    Identity("(100)", "tr(A*X*B)", "X", _AXB, "gradient", "A'*B'"),
    Identity("(101)", "tr(A*X)", "X", {"A": (4, 3), "X": (3, 4)}, "gradient", "A'"),
    Identity("(103)", "tr(X'*A)", "X", {"X": (3, 4), "A": (3, 4)}, "gradient", "A"),
    Identity("(108)", "tr(X'*A*X)", "X", {"X": (3, 2), "A": (3, 3)}, "gradient", "(A + A')*X"),
    Identity("(117)", "tr(X*A*X')", "X", {"X": (2, 3), "A": (3, 3)}, "gradient", "X*(A + A')"),
    Identity("(113)", "tr(X'*X)", "X", {"X": (3, 2)}, "gradient", "2*X"),
    Identity("(106)", "tr(X^2)", "X", _SQUARE, "gradient", "2*X'"),
    Identity("(116)", "tr(A*X*B*X')", "X", {"A": (2, 2), "X": (2, 3), "B": (3, 3)}, "gradient",
             "A*X*B + A'*X*B'"),
    Identity("(124)", "tr(A*inv(X)*B)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)}, "gradient",
             "-inv(X)'*A'*B'*inv(X)'"),
    Identity("(49)", "det(X)", "X", _SQUARE, "gradient", "det(X)*inv(X)'"),
    Identity("(57)", "logdet(X)", "X", _SQUARE, "gradient", "inv(X)'"),
    Identity("(51)", "det(A*X*B)", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 3)}, "gradient",
             "det(A*X*B)*A'*inv(A*X*B)'*B'"),
    Identity("(55)", "logdet(X'*X)", "X", {"X": (4, 3)}, "gradient", "2*X*inv(X'*X)"),
    Identity("(70)", "a'*X*b", "X", {"a": (3,), "X": (3, 4), "b": (4,)}, "gradient", "a*b'"),
    Identity("(71)", "a'*X'*b", "X", {"a": (3,), "X": (4, 3), "b": (4,)}, "gradient", "b*a'"),
    Identity("(61)", "a'*inv(X)*b", "X", {"a": (3,), "X": (3, 3), "b": (3,)}, "gradient",
             "-inv(X)'*a*b'*inv(X)'"),
    Identity("(81)", "x'*B*x", "x", {"x": (3,), "B": (3, 3)}, "gradient", "(B + B')*x"),
    Identity("(81) numerator", "x'*B*x", "x", {"x": (3,), "B": (3, 3)}, "numerator", "x'*(B + B')"),
    Identity("(77)", "b'*X'*X*c", "X", {"b": (3,), "X": (4, 3), "c": (3,)}, "gradient", "X*(b*c' + c*b')"),
    Identity("(84)", "(A*x + b)'*C*(D*x + e)", "x",
             {"x": (3,), "A": (4, 3), "b": (4,), "C": (4, 5), "D": (5, 3), "e": (5,)}, "gradient",
             "D'*C'*(A*x + b) + A'*C*(D*x + e)"),
    Identity("(84) least squares", "norm2(A*x - b)^2", "x", {"A": (4, 3), "x": (3,), "b": (4,)}, "gradient",
             "2*A'*(A*x - b)"),
    Identity("(84) numerator", "norm2(A*x - b)^2", "x", {"A": (4, 3), "x": (3,), "b": (4,)}, "numerator",
             "2*(A*x - b)'*A"),
    Identity("(131)", "norm2(A*X - B)^2", "X", {"A": (4, 3), "X": (3, 2), "B": (4, 2)}, "gradient",
             "2*A'*(A*X - B)"),
    Identity("(129)", "norm2(x)", "x", {"x": (3,)}, "gradient", "x/norm2(x)"),
    Identity("(75)", "x'*x", "x", {"x": (3,)}, "gradient", "2*x"),
    Identity("(69)", "A*x", "x", {"A": (2, 3), "x": (3,)}, "numerator", "A"),
    Identity("chain rule", "W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator", "h*W2"),
    Identity("chain rule, denominator", "W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "denominator",
             "W2'*h'"),
    Identity("(520)", "vec(A*X*B)", "X", _AXB, "vec", "kron(B', A)"),
    Identity("(520) matrix", "A*X*B", "X", _AXB, "vec", "kron(B', A)"),
    Identity("Magnus–Neudecker", "inv(X)", "X", _SQUARE, "vec", "-kron(inv(X)', inv(X))"),
    Identity("Magnus–Neudecker, X^2", "X^2", "X", _SQUARE, "vec", "kron(eye(3), X) + kron(X', eye(3))"),
    Identity("Hessian (81)", "x'*B*x", ("x", "x"), {"x": (3,), "B": (3, 3)}, "gradient", "B + B'"),
    Identity("logistic Hessian", "sum(softplus(X*w))", ("w", "w"), {"X": (5, 3), "w": (3,)}, "gradient",
             "X'*diag(sigmoid(X*w).*(1 - sigmoid(X*w)))*X"),
    Identity("logistic gradient", "sum(softplus(X*w))", "w", {"X": (5, 3), "w": (3,)}, "gradient",
             "X'*sigmoid(X*w)"),
    Identity("sigmoid layer", "sum(sigmoid(A*x))", "A", {"A": (3, 4), "x": (4,)}, "gradient",
             "(sigmoid(A*x).*(1 - sigmoid(A*x)))*x'"),
    Identity("tanh layer", "tanh(A*x)", "x", {"A": (3, 4), "x": (4,)}, "numerator", "diag(1 - tanh(A*x).^2)*A"),
    Identity("Hadamard", "x.*y", "x", {"x": (3,), "y": (3,)}, "numerator", "diag(y)"),
    Identity("exp", "exp(x)", "x", {"x": (3,)}, "numerator", "diag(exp(x))"),
    Identity("sum(exp(X))", "sum(exp(X))", "X", {"X": (3, 2)}, "gradient", "exp(X)"),
)

README_ROWS = 20
