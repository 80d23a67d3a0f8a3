"""Matrix Cookbook identities as matdiff states them: the yardstick for printed forms.

Each entry is a derivative (expression, variable, shapes, layout) and the form the
Matrix Cookbook (Petersen & Pedersen, 2012), Magnus & Neudecker or a textbook gives
for it, written in the input language. The compactness test checks that matdiff's printed form is at
most 1.5× as many tokens as the book's; the round-trip test evaluates both;
``scripts/cookbook_table.py`` prints the ``README_ROWS`` as the README table, then the
``README_SECTIONS`` (networks on a batch, Kronecker Jacobians).
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

_BOOK: tuple[Identity, ...] = (
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

_BATCH = {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}
_BIASED = {"W": (2, 3), "X": (3, 5), "b": (2,), "Y": (2, 5)}
_DEEP = {"W1": (4, 3), "X": (3, 5), "W2": (3, 4), "W3": (2, 3), "Y": (2, 5)}

# Networks on a batch X (one example per column): Goodfellow et al. 6.5, Bishop PRML 5.3.
BATCH_NETWORKS = (
    Identity("networks on a batch", "0.5*sum((W2*tanh(W1*X) - Y).^2)", "W1", _BATCH, "gradient",
             "H = tanh(W1*X); ((W2'*(W2*H - Y)).*(1 - H.^2))*X'"),
    Identity("networks on a batch", "0.5*sum((W2*tanh(W1*X) - Y).^2)", "W2", _BATCH, "gradient",
             "H = tanh(W1*X); (W2*H - Y)*H'"),
    Identity("networks on a batch", "0.5*sum((W3*sigmoid(W2*sigmoid(W1*X)) - Y).^2)", "W1", _DEEP, "gradient",
             "H1 = sigmoid(W1*X); H2 = sigmoid(W2*H1); D2 = (W3'*(W3*H2 - Y)).*H2.*(1 - H2); "
             "((W2'*D2).*H1.*(1 - H1))*X'"),
    Identity("networks on a batch", "0.5*sum((W*X + b - Y).^2)", "b", _BIASED, "gradient",
             "sum(W*X + b - Y, 2)"),
    Identity("networks on a batch", "-sum(Y.*log(sigmoid(W*X)) + (1 - Y).*log(1 - sigmoid(W*X)))", "W",
             {"W": (1, 3), "X": (3, 5), "Y": (1, 5)}, "gradient", "(sigmoid(W*X) - Y)*X'"),
    Identity("networks on a batch", "0.5*sum((W'*relu(W*X) - X).^2)", "W", {"W": (4, 3), "X": (3, 5)}, "gradient",
             "H = relu(W*X); R = W'*H - X; H*R' + ((W*R).*step(W*X))*X'"),
)

# Jacobians of matrices in the vec layout, as Kronecker products: Magnus & Neudecker ch. 9.
KRONECKER_JACOBIANS = (
    Identity("Kronecker Jacobians", "A*X", "X", {"A": (2, 3), "X": (3, 4)}, "vec", "kron(eye(4), A)"),
    Identity("Kronecker Jacobians", "tanh(X)", "X", {"X": (3, 4)}, "vec", "diag(vec(1 - tanh(X).^2))"),
    Identity("Kronecker Jacobians", "sigmoid(W*X)", "W", {"W": (2, 3), "X": (3, 4)}, "vec",
             "S = sigmoid(W*X); diag(vec(S.*(1 - S)))*kron(X', eye(2))"),
    Identity("Kronecker Jacobians", "x*x'", "x", {"x": (3,)}, "vec", "kron(x, eye(3)) + kron(eye(3), x)"),
    Identity("Kronecker Jacobians", "kron(x, y)", "x", {"x": (3,), "y": (2,)}, "vec", "kron(eye(3), y)"),
    Identity("Kronecker Jacobians", "(x'*y)*A", "x", {"x": (3,), "y": (3,), "A": (2, 4)}, "vec", "vec(A)*y'"),
    Identity("Kronecker Jacobians", "tr(X'*A*X)", ("X", "X"), {"X": (3, 2), "A": (3, 3)}, "vec",
             "kron(eye(2), A + A')"),
    Identity("Kronecker Jacobians", "0.5*sum((W*X - Y).^2)", ("W", "W"), {"W": (2, 3), "X": (3, 4), "Y": (2, 4)},
             "vec", "kron(X*X', eye(2))"),
    Identity("Kronecker Jacobians", "sum(softplus(W*X))", ("W", "W"), {"W": (2, 3), "X": (3, 4)}, "vec",
             "S = sigmoid(W*X); kron(X, eye(2))*diag(vec(S.*(1 - S)))*kron(X', eye(2))"),
    Identity("Kronecker Jacobians", "0.5*sum((W2*tanh(W1*X) - Y).^2)", ("W1", "W1"),
             {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}, "vec",
             "H = tanh(W1*X); D = 1 - H.^2; kron(X, eye(4))*(diag(vec(D))*kron(eye(5), W2'*W2)*diag(vec(D)) "
             "- 2*diag(vec(D.*H.*(W2'*(W2*H - Y)))))*kron(X', eye(4))"),
)

IDENTITIES: tuple[Identity, ...] = _BOOK + BATCH_NETWORKS + KRONECKER_JACOBIANS

# The README's 20 rows: a few of each kind, chosen for variety (indices into IDENTITIES).
README_ROWS = tuple(IDENTITIES[i] for i in (0, 3, 5, 7, 8, 9, 12, 15, 16, 17, 18, 21, 23, 26, 27, 28, 30, 32, 33, 35))

# The README's further sections, each a table of its own.
README_SECTIONS = (("Networks on a batch", BATCH_NETWORKS), ("Kronecker Jacobians", KRONECKER_JACOBIANS))
