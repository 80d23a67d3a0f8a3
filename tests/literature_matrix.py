"""The literature suite, part 2: matrix identities with the books' closed forms.

Petersen & Pedersen, *The Matrix Cookbook* (2012; equation numbers in the comments), Magnus &
Neudecker, *Matrix Differential Calculus* (ch. 9-10: Jacobians as Kronecker products in the vec
layout, Hessians of matrix functions), Bishop's PRML §2.3 (Gaussian likelihoods), Boyd &
Vandenberghe, *Convex Optimization* App. A.4 (gradients and Hessians of standard functions).
Each entry: expression, variable, shapes, layout, the book's form in the input language.
"""

from __future__ import annotations

from literature_networks import Case

CB = "Matrix Cookbook"
MN = "Magnus & Neudecker"
BV = "Boyd & Vandenberghe A.4"
BISHOP = "Bishop PRML 2.3"
PARR_HOWARD = "Parr & Howard 2018"

SQ = {"X": (3, 3)}
SQA = {"X": (3, 3), "A": (3, 3)}
AXB = {"A": (2, 3), "X": (3, 4), "B": (4, 2)}
VEC = {"x": (3,), "a": (3,), "A": (3, 3)}
LS = {"A": (4, 3), "x": (3,), "b": (4,)}
GAUSS = {"x": (3,), "m": (3,), "S": (3, 3)}
BATCH_GAUSS = {"X": (3, 5), "m": (3,), "S": (3, 3)}
PRECISION = {"x": (3,), "m": (3,), "P": (3, 3), "C": (3, 3)}
LOGISTIC = {"X": (5, 3), "w": (3,), "y": (5,)}


def C(source, expr, wrt, shapes, layout, closed, **hint) -> Case:
    return Case(source, expr, wrt, shapes, layout, closed, hint)


TRACES = [
    C(CB + " (100)", "tr(X)", "X", SQ, "gradient", "eye(3)"),
    C(CB + " (100)", "tr(A*X)", "X", {"A": (4, 3), "X": (3, 4)}, "gradient", "A'"),
    C(CB + " (101)", "tr(X*A)", "X", {"X": (3, 4), "A": (4, 3)}, "gradient", "A'"),
    C(CB + " (102)", "tr(A*X*B)", "X", AXB, "gradient", "A'*B'"),
    C(CB + " (102)", "tr(A*X*B)", "X", AXB, "numerator", "B*A"),
    C(CB + " (103)", "tr(A*X'*B)", "X", {"A": (2, 4), "X": (3, 4), "B": (3, 2)}, "gradient", "B*A"),
    C(CB + " (104)", "tr(X'*A)", "X", {"X": (3, 4), "A": (3, 4)}, "gradient", "A"),
    C(CB + " (105)", "tr(A*X')", "X", {"A": (3, 4), "X": (3, 4)}, "gradient", "A"),
    C(CB + " (108)", "tr(X'*X)", "X", {"X": (3, 2)}, "gradient", "2*X"),
    C(CB + " (108)", "tr(X*X')", "X", {"X": (2, 3)}, "gradient", "2*X"),
    C(CB + " (109)", "tr(X'*A*X)", "X", {"X": (3, 2), "A": (3, 3)}, "gradient", "(A + A')*X"),
    C(CB + " (110)", "tr(X*A*X')", "X", {"X": (2, 3), "A": (3, 3)}, "gradient", "X*(A + A')"),
    C(CB + " (111)", "tr(A*X*B*X')", "X", {"A": (2, 2), "X": (2, 3), "B": (3, 3)}, "gradient",
      "A*X*B + A'*X*B'"),
    C(CB + " (113)", "tr(X'*B*X*C)", "X", {"X": (3, 2), "B": (3, 3), "C": (2, 2)}, "gradient",
      "B*X*C + B'*X*C'"),
    C(CB + " (114)", "tr(A*X*B*X*C)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 3), "C": (3, 2)}, "gradient",
      "A'*C'*X'*B' + B'*X'*A'*C'"),
    C(CB + " (106)", "tr(X^2)", "X", SQ, "gradient", "2*X'"),
    C(CB + " (107)", "tr(X^3)", "X", SQ, "gradient", "3*(X^2)'"),
    C(CB + " (121)", "tr(inv(X))", "X", SQ, "gradient", "-inv(X)'*inv(X)'"),
    C(CB + " (124)", "tr(A*inv(X)*B)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)}, "gradient",
      "-inv(X)'*A'*B'*inv(X)'"),
    C(CB + " (124)", "tr(inv(X)*A)", "X", SQA, "gradient", "-inv(X)'*A'*inv(X)'"),
    C(CB + " (100)", "tr(A*inv(inv(X)))", "X", SQA, "gradient", "A'"),
    C(CB + " (107)", "tr(A*X^2)", "X", SQA, "gradient", "A'*X' + X'*A'"),
]

DETERMINANTS = [
    C(CB + " (49)", "det(X)", "X", SQ, "gradient", "det(X)*inv(X)'"),
    C(CB + " (57)", "logdet(X)", "X", SQ, "gradient", "inv(X)'"),
    C(CB + " (51)", "det(A*X*B)", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 3)}, "gradient",
      "det(A*X*B)*A'*inv(A*X*B)'*B'"),
    C(CB + " (55)", "logdet(X'*X)", "X", {"X": (4, 3)}, "gradient", "2*X*inv(X'*X)"),
    C(CB + " (55)", "logdet(X*X')", "X", {"X": (3, 4)}, "gradient", "2*inv(X*X')*X"),
    C(CB + " (53)", "det(X^3)", "X", SQ, "gradient", "3*det(X)^3*inv(X)'"),
    C(CB + " (49)", "det(inv(X))", "X", SQ, "gradient", "-det(inv(X))*inv(X)'"),
    C(CB + " (57)", "logdet(inv(X))", "X", SQ, "gradient", "-inv(X)'"),
    C(CB + " (49)", "det(X')", "X", SQ, "gradient", "det(X)*inv(X)'"),
    C(CB + " (51)", "logdet(A*X*B)", "X", {"A": (3, 3), "X": (3, 3), "B": (3, 3)}, "gradient", "inv(X)'"),
    C(CB + " (54)", "det(X'*X)", "X", {"X": (4, 3)}, "gradient", "2*det(X'*X)*X*inv(X'*X)"),
    C(CB + " (57)", "logdet(A*X)", "X", {"A": (3, 3), "X": (3, 3)}, "gradient", "inv(X)'"),
    C(CB + " (57)", "2*logdet(X) - tr(X)", "X", SQ, "gradient", "2*inv(X)' - eye(3)"),
]

FORMS = [
    C(CB + " (70)", "a'*X*b", "X", {"a": (3,), "X": (3, 4), "b": (4,)}, "gradient", "a*b'"),
    C(CB + " (71)", "a'*X'*b", "X", {"a": (3,), "X": (4, 3), "b": (4,)}, "gradient", "b*a'"),
    C(CB + " (72)", "a'*X*a", "X", {"a": (3,), "X": (3, 3)}, "gradient", "a*a'"),
    C(CB + " (77)", "b'*X'*X*c", "X", {"b": (3,), "X": (4, 3), "c": (3,)}, "gradient", "X*(b*c' + c*b')"),
    C(CB + " (78)", "(X*b + c)'*D*(X*b + c)", "X", {"X": (3, 4), "b": (4,), "c": (3,), "D": (3, 3)}, "gradient",
      "(D + D')*(X*b + c)*b'"),
    C(CB + " (61)", "a'*inv(X)*b", "X", {"a": (3,), "X": (3, 3), "b": (3,)}, "gradient", "-inv(X)'*a*b'*inv(X)'"),
    C(CB + " (81)", "x'*A*x", "x", VEC, "gradient", "(A + A')*x"),
    C(CB + " (81)", "x'*A*x", "x", VEC, "numerator", "x'*(A + A')"),
    C(CB + " (81)", "x'*A*x", "x", VEC, "denominator", "(A + A')*x"),
    C(CB + " (84)", "(A*x + b)'*C*(D*x + e)", "x",
      {"x": (3,), "A": (4, 3), "b": (4,), "C": (4, 5), "D": (5, 3), "e": (5,)}, "gradient",
      "D'*C'*(A*x + b) + A'*C*(D*x + e)"),
    C(CB + " (85)", "(A*x + b)'*(A*x + b)", "x", LS, "gradient", "2*A'*(A*x + b)"),
    C(CB + " (69)", "a'*x", "x", VEC, "gradient", "a"),
    C(CB + " (69)", "x'*a", "x", VEC, "numerator", "a'"),
    C(CB + " (69)", "x'*x", "x", VEC, "gradient", "2*x"),
    C(CB + " (73)", "A*x", "x", {"A": (2, 3), "x": (3,)}, "numerator", "A"),
    C(CB + " (73)", "A*x", "x", {"A": (2, 3), "x": (3,)}, "denominator", "A'"),
    C(CB + " (73)", "W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator", "h*W2"),
    C(CB + " (73)", "W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "denominator", "W2'*h'"),
    C(CB + " (73)", "A*B", "A", {"A": (1, 3), "B": (3, 2)}, "numerator", "B'"),
    C(CB + " (73)", "A*B", "A", {"A": (1, 3), "B": (3, 2)}, "denominator", "B"),
    C(CB + " (88)", "norm2(A*x - b)^2", "x", LS, "gradient", "2*A'*(A*x - b)"),
    C(CB + " (88)", "norm2(A*x - b)^2", "x", LS, "numerator", "2*(A*x - b)'*A"),
    C(CB + " (88)", "norm2(A*X - B)^2", "X", {"A": (4, 3), "X": (3, 2), "B": (4, 2)}, "gradient", "2*A'*(A*X - B)"),
    C(CB + " (129)", "norm2(x)", "x", VEC, "gradient", "x/norm2(x)"),
    C(CB + " (129)", "norm2(x - a)", "x", VEC, "gradient", "(x - a)/norm2(x - a)"),
    C(CB + " (130)", "norm2(X)", "X", {"X": (3, 2)}, "gradient", "X/norm2(X)"),
    C(CB + " (131)", "norm2(X)^2", "X", {"X": (3, 2)}, "gradient", "2*X"),
    C(CB + " (130)", "x/norm2(x)", "x", VEC, "numerator", "(eye(3) - x*x'/norm2(x)^2)/norm2(x)"),
    C(CB + " (75)", "x'*diag(a)*diag(b)*x", "x", {"x": (3,), "a": (3,), "b": (3,)}, "gradient", "2*a.*b.*x"),
    C(CB + " (84)", "(x - a)'*A*(x - a)", "x", VEC, "gradient", "(A + A')*(x - a)"),
]

ELEMENTWISE = [
    C(CB + " (126)", "sum(X.*A)", "X", {"X": (3, 4), "A": (3, 4)}, "gradient", "A"),
    C(CB + " (126)", "sum(exp(X))", "X", {"X": (3, 2)}, "gradient", "exp(X)"),
    C(CB + " (126)", "sum(log(X))", "X", {"X": (3, 2)}, "gradient", "1 ./ X"),
    C(CB + " (126)", "sum(X.^2)", "X", {"X": (3, 2)}, "gradient", "2*X"),
    C(CB + " (126)", "sum(X.^3)", "X", {"X": (3, 2)}, "gradient", "3*X.^2"),
    C(CB + " (126)", "sum(sqrt(X))", "X", {"X": (3, 2)}, "gradient", "0.5 ./ sqrt(X)"),
    C(CB + " (126)", "sum(sin(X))", "X", {"X": (3, 2)}, "gradient", "cos(X)"),
    C(CB + " (126)", "sum(ones(3,4).*X)", "X", {"X": (3, 4)}, "gradient", "ones(3,4)"),
    C(CB + " (126)", "sum(X - 1)", "X", {"X": (3, 4)}, "gradient", "ones(3,4)"),
    C(PARR_HOWARD, "x.*y", "x", {"x": (3,), "y": (3,)}, "numerator", "diag(y)"),
    C(PARR_HOWARD, "exp(x)", "x", {"x": (3,)}, "numerator", "diag(exp(x))"),
    C(PARR_HOWARD, "sigmoid(x)", "x", {"x": (3,)}, "numerator", "diag(sigmoid(x).*(1 - sigmoid(x)))"),
    C(PARR_HOWARD, "tanh(A*x)", "x", {"A": (3, 4), "x": (4,)}, "numerator", "diag(1 - tanh(A*x).^2)*A"),
    C(PARR_HOWARD, "softplus(x)", "x", {"x": (3,)}, "numerator", "diag(sigmoid(x))"),
    C(PARR_HOWARD, "x + y", "x", {"x": (3,), "y": (3,)}, "numerator", "eye(3)"),
    C(PARR_HOWARD, "sum(x)", "x", {"x": (3,)}, "gradient", "ones(3)"),
    C(PARR_HOWARD, "sum(sigmoid(A*x))", "A", {"A": (3, 4), "x": (4,)}, "gradient",
      "s = sigmoid(A*x); (s.*(1 - s))*x'"),
    C(BV + ", logistic", "sum(softplus(X*w))", "w", LOGISTIC, "gradient", "X'*sigmoid(X*w)"),
    C(BV + ", logistic", "sum(log(1 + exp(X*w)))", "w", LOGISTIC, "gradient", "X'*sigmoid(X*w)"),
    C("Bishop 4.3.2 (4.91)", "-sum(y.*log(sigmoid(X*w)) + (1 - y).*log(1 - sigmoid(X*w)))", "w", LOGISTIC,
      "gradient", "X'*(sigmoid(X*w) - y)", y="unit"),
    C("Bishop 4.3.2 (4.91)", "-sum(y.*log(1 ./ (1 + exp(-X*w))) + (1 - y).*log(1 - 1 ./ (1 + exp(-X*w))))",
      "w", LOGISTIC, "gradient", "X'*(sigmoid(X*w) - y)", y="unit"),
    C("Bishop 4.3.2 (4.88)", "sum(1 ./ (1 + exp(-X*w)))", "w", LOGISTIC, "gradient",
      "s = sigmoid(X*w); X'*(s.*(1 - s))"),
    C("Bishop 4.3.2 (4.88)", "1 ./ (1 + exp(-x))", "x", {"x": (3,)}, "numerator",
      "diag(sigmoid(x).*(1 - sigmoid(x)))"),
    C(BV + ", log barrier", "-sum(log(b - A*x))", "x", {"A": (4, 2), "x": (2,), "b": (4,)}, "gradient",
      "A'*(1 ./ (b - A*x))", A="small", x="small", b="positive"),
    C(BV + ", log-sum-exp", "log(sum(exp(x)))", "x", {"x": (3,)}, "gradient", "softmax(x)"),
    C(BV + ", quadratic", "0.5*x'*P*x + q'*x", "x", {"x": (3,), "P": (3, 3), "q": (3,)}, "gradient",
      "0.5*(P + P')*x + q"),
    C(BV + ", log-sum-exp", "logsumexp(x)", "x", {"x": (3,)}, "gradient", "softmax(x)"),
    C("Goodfellow 6.2.2.3, softmax Jacobian", "softmax(z)", "z", {"z": (3,)}, "numerator",
      "s = softmax(z); diag(s) - s*s'"),
    C("Goodfellow 6.2.2.3, softmax Jacobian", "exp(z)./sum(exp(z))", "z", {"z": (3,)}, "numerator",
      "s = softmax(z); diag(s) - s*s'"),
    C("Goodfellow 6.2.2.3, softmax Jacobian", "exp(z)/sum(exp(z))", "z", {"z": (3,)}, "numerator",
      "s = softmax(z); diag(s) - s*s'"),
    C("Goodfellow 6.2.2.3, softmax Jacobian", "exp(W*x)/sum(exp(W*x))", "x", {"W": (3, 4), "x": (4,)}, "numerator",
      "s = softmax(W*x); (diag(s) - s*s')*W"),
]

GAUSSIAN = [
    C(BISHOP + " (2.43)", "(x - m)'*inv(S)*(x - m)", "m", GAUSS, "gradient", "-(inv(S) + inv(S)')*(x - m)",
      S="posdet"),
    C(BISHOP + " (2.43)", "(x - m)'*inv(S)*(x - m)", "x", GAUSS, "gradient", "(inv(S) + inv(S)')*(x - m)",
      S="posdet"),
    C(CB + " (61)", "(x - m)'*inv(S)*(x - m)", "S", GAUSS, "gradient", "-inv(S)'*(x - m)*(x - m)'*inv(S)'",
      S="posdet"),
    C(BISHOP + " (2.118)", "logdet(S) + (x - m)'*inv(S)*(x - m)", "S", GAUSS, "gradient",
      "inv(S)' - inv(S)'*(x - m)*(x - m)'*inv(S)'", S="posdet"),
    C(BISHOP + " (2.118)", "0.5*logdet(S) + 0.5*(x - m)'*inv(S)*(x - m)", "m", GAUSS, "gradient",
      "-0.5*(inv(S) + inv(S)')*(x - m)", S="posdet"),
    C(BISHOP + " (2.122)", "0.5*tr(inv(S)*(X - m*ones(1,5))*(X - m*ones(1,5))')", "m", BATCH_GAUSS, "gradient",
      "-0.5*(inv(S) + inv(S)')*(X - m*ones(1,5))*ones(5)", S="posdet"),
    C(BISHOP + " (2.122)", "0.5*tr(inv(S)*(X - m*ones(1,5))*(X - m*ones(1,5))')", "S", BATCH_GAUSS, "gradient",
      "-0.5*inv(S)'*(X - m*ones(1,5))*(X - m*ones(1,5))'*inv(S)'", S="posdet"),
    C(BISHOP + " (2.122)", "2.5*logdet(S) + 0.5*tr(inv(S)*(X - m*ones(1,5))*(X - m*ones(1,5))')", "S",
      BATCH_GAUSS, "gradient",
      "2.5*inv(S)' - 0.5*inv(S)'*(X - m*ones(1,5))*(X - m*ones(1,5))'*inv(S)'", S="posdet"),
    C(BISHOP + " (2.43)", "(x - m)'*P*(x - m)", "P", PRECISION, "gradient", "(x - m)*(x - m)'"),
    C(BISHOP + " (2.43)", "(x - m)'*P*(x - m)", "m", PRECISION, "gradient", "-(P + P')*(x - m)"),
    C(BV + ", log det", "tr(P*C) - logdet(P)", "P", PRECISION, "gradient", "C' - inv(P)'", P="posdet"),
    C(BISHOP + " (2.122)", "tr(P*(X - m*ones(1,5))*(X - m*ones(1,5))')", "P", {**BATCH_GAUSS, "P": (3, 3)},
      "gradient", "(X - m*ones(1,5))*(X - m*ones(1,5))'"),
    C(BISHOP + " (2.43)", "0.5*norm2(x - m)^2/c", "m", {"x": (3,), "m": (3,), "c": ()}, "gradient",
      "(m - x)/c", c="positive"),
]

KRONECKER = [
    C(MN + " 9.2", "A*X*B", "X", AXB, "vec", "kron(B', A)"),
    C(MN + " 9.2", "vec(A*X*B)", "X", AXB, "vec", "kron(B', A)"),
    C(MN + " 9.2", "A*X", "X", {"A": (2, 3), "X": (3, 4)}, "vec", "kron(eye(4), A)"),
    C(MN + " 9.2", "X*B", "X", {"X": (3, 4), "B": (4, 2)}, "vec", "kron(B', eye(3))"),
    C(MN + " 9.2", "2*A*X", "X", {"A": (2, 3), "X": (3, 4)}, "vec", "2*kron(eye(4), A)"),
    C(MN + " 9.2", "A*X*B + C*X*D", "X", {**AXB, "C": (2, 3), "D": (4, 2)}, "vec", "kron(B', A) + kron(D', C)"),
    C(MN + " 9.6", "X.*A", "X", {"X": (3, 4), "A": (3, 4)}, "vec", "diag(vec(A))"),
    C(MN + " 9.6", "exp(X)", "X", {"X": (3, 4)}, "vec", "diag(vec(exp(X)))"),
    C(MN + " 9.6", "tanh(X)", "X", {"X": (3, 4)}, "vec", "diag(vec(1 - tanh(X).^2))"),
    C(MN + " 9.6", "sigmoid(X)", "X", {"X": (3, 4)}, "vec", "diag(vec(sigmoid(X).*(1 - sigmoid(X))))"),
    C(MN + " 9.6", "exp(A*X)", "X", {"A": (2, 3), "X": (3, 4)}, "vec", "diag(vec(exp(A*X)))*kron(eye(4), A)"),
    C(MN + " 9.6", "sigmoid(W*X)", "W", {"W": (2, 3), "X": (3, 4)}, "vec",
      "S = sigmoid(W*X); diag(vec(S.*(1 - S)))*kron(X', eye(2))"),
    C(MN + " 9.6", "tanh(W*x)", "W", {"W": (2, 3), "x": (3,)}, "vec", "diag(1 - tanh(W*x).^2)*kron(x', eye(2))"),
    C(MN + " 9.3", "X^2", "X", SQ, "vec", "kron(eye(3), X) + kron(X', eye(3))"),
    C(MN + " 9.3", "X^3", "X", SQ, "vec", "kron(eye(3), X^2) + kron(X', X) + kron((X^2)', eye(3))"),
    C(MN + " 9.3", "X*A*X", "X", SQA, "vec", "kron((A*X)', eye(3)) + kron(eye(3), X*A)"),
    C(MN + " 9.4", "x*x'", "x", {"x": (3,)}, "vec", "kron(x, eye(3)) + kron(eye(3), x)"),
    C(MN + " 9.4", "kron(x, y)", "x", {"x": (3,), "y": (2,)}, "vec", "kron(eye(3), y)"),
    C(MN + " 9.4", "kron(x, y)", "y", {"x": (3,), "y": (2,)}, "vec", "kron(x, eye(2))"),
    C(MN + " 9.4", "vec(x*y')", "x", {"x": (3,), "y": (2,)}, "vec", "kron(y, eye(3))"),
    C(MN + " 9.4", "vec(x*y')", "y", {"x": (3,), "y": (2,)}, "vec", "kron(eye(2), x)"),
    C(MN + " 9.5", "(x'*y)*A", "x", {"x": (3,), "y": (3,), "A": (2, 4)}, "vec", "vec(A)*y'"),
    C(MN + " 9.5", "(x'*x)*A", "x", {"x": (3,), "A": (2, 4)}, "vec", "2*vec(A)*x'"),
    C(MN + " 9.7", "inv(X)", "X", SQ, "vec", "-kron(inv(X)', inv(X))"),
    C(MN + " 9.7", "A*inv(X)*B", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)}, "vec",
      "-kron(B'*inv(X)', A*inv(X))"),
    C(MN + " 9.2", "W*x", "W", {"W": (2, 3), "x": (3,)}, "vec", "kron(x', eye(2))"),
    C(MN + " 9.2", "A*x", "x", {"A": (2, 3), "x": (3,)}, "vec", "A"),
    C(MN + " 9.6", "x.*y", "x", {"x": (3,), "y": (3,)}, "vec", "diag(y)"),
    C(MN + " 9.2", "vec(X)", "X", {"X": (3, 2)}, "vec", "eye(6)"),
    C(MN + " 9.1", "tr(A*X)", "X", {"A": (4, 3), "X": (3, 4)}, "vec", "vec(A')'"),
    C(MN + " 9.1", "a'*X*b", "X", {"a": (3,), "X": (3, 4), "b": (4,)}, "vec", "kron(b, a)'"),
    C(MN + " 9.2", "A*B", "B", {"A": (1, 3), "B": (3, 2)}, "vec", "kron(eye(2), A)"),
    C(MN + " 9.2", "A*B", "A", {"A": (1, 3), "B": (3, 2)}, "vec", "B'"),
    # scalar functions of kron and vec of the variable, back to plain matrices (M&N 2.4, 9.1)
    C(MN + " 2.4", "tr(kron(A, X))", "X", {"A": (2, 2), "X": (3, 3)}, "gradient", "tr(A)*eye(3)"),
    C(MN + " 2.4", "tr(kron(X, X))", "X", {"X": (3, 3)}, "gradient", "2*tr(X)*eye(3)"),
    C(MN + " 2.4", "vec(X)'*kron(B, A)*vec(X)", "X", {"A": (3, 3), "X": (3, 2), "B": (2, 2)}, "gradient",
      "A*X*B' + A'*X*B"),
    C(MN + " 2.4", "vec(X)'*vec(X)", "X", {"X": (3, 2)}, "gradient", "2*X"),
    C(MN + " 2.4", "vec(A*X)'*vec(B)", "X", {"A": (2, 3), "X": (3, 4), "B": (2, 4)}, "gradient", "A'*B"),
]

HESSIANS = [
    C(MN + " 10.3", "tr(X'*A*X)", ("X", "X"), {"X": (3, 2), "A": (3, 3)}, "vec", "kron(eye(2), A + A')"),
    C(MN + " 10.3", "tr(X*A*X')", ("X", "X"), {"X": (2, 3), "A": (3, 3)}, "vec", "kron(A + A', eye(2))"),
    C(MN + " 10.3", "0.5*sum((W*X - Y).^2)", ("W", "W"), {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "vec",
      "kron(X*X', eye(2))"),
    C(MN + " 10.3", "0.5*norm2(W*X - Y)^2", ("W", "W"), {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "vec",
      "kron(X*X', eye(2))"),
    C(MN + " 10.3", "norm2(A*X - B)^2", ("X", "X"), {"A": (4, 3), "X": (3, 2), "B": (4, 2)}, "vec",
      "2*kron(eye(2), A'*A)"),
    C(MN + " 10.3", "tr(A*X*B*X')", ("X", "X"), {"A": (2, 2), "X": (2, 3), "B": (3, 3)}, "vec",
      "kron(B', A) + kron(B, A')"),
    C(MN + " 10.3", "tr(X'*X)", ("X", "X"), {"X": (3, 2)}, "vec", "2*eye(6)"),
    C(MN + " 10.3", "a'*X*X'*b", ("X", "X"), {"a": (3,), "X": (3, 2), "b": (3,)}, "vec",
      "kron(eye(2), a*b' + b*a')"),
    C("Goodfellow 6.5, last layer", "H = tanh(W1*X); 0.5*sum((W2*H - Y).^2)", ("W2", "W2"),
      {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}, "vec", "H = tanh(W1*X); kron(H*H', eye(2))"),
    C(MN + " 10.3, f(W*X)", "sum(softplus(W*X))", ("W", "W"), {"W": (2, 3), "X": (3, 4)}, "vec",
      "S = sigmoid(W*X); kron(X, eye(2))*diag(vec(S.*(1 - S)))*kron(X', eye(2))"),
    C(MN + " 10.3, f(A*W*X)", "sum(softplus(A*W*X))", ("W", "W"), {"A": (4, 2), "W": (2, 3), "X": (3, 5)}, "vec",
      "S = sigmoid(A*W*X); kron(X, A')*diag(vec(S.*(1 - S)))*kron(X', A)"),
    C("Bishop 4.3.3, logistic on a batch", "-sum(Y.*log(sigmoid(W*X)) + (1 - Y).*log(1 - sigmoid(W*X)))", ("W", "W"),
      {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "vec",
      "S = sigmoid(W*X); kron(X, eye(2))*diag(vec(S.*(1 - S)))*kron(X', eye(2))", Y="unit"),
    C("Goodfellow 6.2.2.2, sigmoid output", "0.5*sum((sigmoid(W*X) - Y).^2)", ("W", "W"),
      {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "vec",
      "S = sigmoid(W*X); kron(X, eye(2))*diag(vec(S.^2.*(1 - S).^2 + (S - Y).*S.*(1 - S).*(1 - 2*S)))*kron(X', eye(2))"),
    C("Goodfellow 6.2.2.2, tanh output", "0.5*sum((tanh(W*X) - Y).^2)", ("W", "W"),
      {"W": (2, 3), "X": (3, 4), "Y": (2, 4)}, "vec",
      "T = tanh(W*X); kron(X, eye(2))*diag(vec((1 - T.^2).^2 - 2*(T - Y).*T.*(1 - T.^2)))*kron(X', eye(2))"),
    C("Goodfellow 8.2, a hidden layer's Hessian", "0.5*sum((W2*tanh(W1*X) - Y).^2)", ("W1", "W1"),
      {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}, "vec",
      "H = tanh(W1*X); D = 1 - H.^2; kron(X, eye(4))*(diag(vec(D))*kron(eye(5), W2'*W2)*diag(vec(D)) "
      "- 2*diag(vec(D.*H.*(W2'*(W2*H - Y)))))*kron(X', eye(4))"),
    C("Goodfellow 8.2, a hidden layer's Hessian", "0.5*sum((sigmoid(W2*sigmoid(W1*X)) - Y).^2)", ("W1", "W1"),
      {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}, "vec",
      "A = sigmoid(W1*X); S = sigmoid(W2*A); G = W2'*((S - Y).*S.*(1 - S)); "
      "kron(X, eye(4))*(diag(vec(A.*(1 - A).*(1 - 2*A).*G)) + diag(vec(A.*(1 - A)))*kron(eye(5), W2')"
      "*diag(vec(S.^2.*(1 - S).^2 + (S - Y).*S.*(1 - S).*(1 - 2*S)))*kron(eye(5), W2)*diag(vec(A.*(1 - A))))"
      "*kron(X', eye(4))"),
    C("Goodfellow 6.5, last layer", "0.5*sum((sigmoid(W2*tanh(W1*X)) - Y).^2)", ("W2", "W2"),
      {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}, "vec",
      "H = tanh(W1*X); S = sigmoid(W2*H); "
      "kron(H, eye(2))*diag(vec(S.^2.*(1 - S).^2 + (S - Y).*S.*(1 - S).*(1 - 2*S)))*kron(H', eye(2))"),
    C(CB + " (81)", "x'*A*x", ("x", "x"), VEC, "gradient", "A + A'"),
    C(BV + ", least squares", "0.5*norm2(A*x - b)^2", ("x", "x"), LS, "gradient", "A'*A"),
    C(BV + ", least squares", "norm2(A*x - b)^2", ("x", "x"), LS, "gradient", "2*A'*A"),
    C(BV + ", quadratic", "0.5*x'*P*x + q'*x", ("x", "x"), {"x": (3,), "P": (3, 3), "q": (3,)}, "gradient",
      "0.5*(P + P')"),
    C(BV + ", logistic", "sum(softplus(X*w))", ("w", "w"), LOGISTIC, "gradient",
      "s = sigmoid(X*w); X'*diag(s.*(1 - s))*X"),
    C("Bishop 4.3.3 (4.97)", "-sum(y.*log(sigmoid(X*w)) + (1 - y).*log(1 - sigmoid(X*w)))", ("w", "w"), LOGISTIC,
      "gradient", "s = sigmoid(X*w); X'*diag(s.*(1 - s))*X", y="unit"),
    C(BV + ", log barrier", "-sum(log(b - A*x))", ("x", "x"), {"A": (4, 2), "x": (2,), "b": (4,)}, "gradient",
      "A'*diag(1 ./ (b - A*x).^2)*A", A="small", x="small", b="positive"),
    C(BV + ", log-sum-exp", "log(sum(exp(x)))", ("x", "x"), {"x": (3,)}, "gradient",
      "s = softmax(x); diag(s) - s*s'"),
    C(BV + ", log-sum-exp", "log(sum(exp(A*x)))", ("x", "x"), {"A": (4, 3), "x": (3,)}, "gradient",
      "s = softmax(A*x); A'*(diag(s) - s*s')*A"),
    C(CB + " (81)", "x'*A*x", ("x", "x"), VEC, "vec", "A + A'"),
    C(BV + ", log-sum-exp", "logsumexp(x)", ("x", "x"), {"x": (3,)}, "gradient", "s = softmax(x); diag(s) - s*s'"),
]

# The table of issue 24: inputs a new user tries, with the form the textbooks print (each held to 1.2× its
# tokens by tests/test_literature.py, beside the suite's 1.5×).
TEXTBOOK_ELSEWHERE = [  # in the networks' and layers' suites too, with these forms
    C("Bishop 4.3.2, logistic Hessian", "sum(log(1 + exp(-y.*(X*w))))", ("w", "w"), LOGISTIC, "gradient",
      "s = sigmoid(y.*(X*w)); X'*diag(y.^2.*s.*(1 - s))*X"),
    C("Vaswani et al. 2017, attention", "P = softmax(Q*K'/sqrt(3), 2); sum(sum((P*V).*G))", "Q",
      {name: (4, 3) for name in "QKVG"}, "gradient",
      "P = softmax(Q*K'/sqrt(3), 2); (P.*(G*V' - sum((G*V').*P, 2)))*K/sqrt(3)"),
]
TEXTBOOK_HERE = [
    C("Bishop 4.3.4, softmax cross-entropy Hessian", "-y'*log(softmax(z))", ("z", "z"), {"y": (4,), "z": (4,)},
      "gradient", "s = softmax(z); sum(y)*(diag(s) - s*s')"),
    C("Bishop 4.3.2, logistic regression", "-(t*log(sigmoid(w'*x + b)) + (1 - t)*log(1 - sigmoid(w'*x + b)))", "w",
      {"w": (3,), "x": (3,), "t": (), "b": ()}, "gradient", "(sigmoid(w'*x + b) - t)*x", t="unit"),
    C(CB + " (129)", "(x'*x)^0.5", "x", {"x": (3,)}, "gradient", "x/norm2(x)"),
    C("ridge regression, by the penalty", "w = inv(X'*X + lam*eye(3))*X'*y; w'*w", "lam",
      {"X": (5, 3), "y": (5,), "lam": ()}, "gradient",
      "w = inv(X'*X + lam*eye(3))*X'*y; -2*w'*inv(X'*X + lam*eye(3))*w", lam="positive"),
    C("a batch loss, averaged", "sum((W*X - Y).^2)/6", "W", {"W": (2, 3), "X": (3, 6), "Y": (2, 6)}, "gradient",
      "(W*X - Y)*X'/3"),
    C(CB + " (42)", "det(a*X)", "a", {"X": (3, 3), "a": ()}, "gradient", "3*a^2*det(X)"),
    C(CB + " (124)", "tr(X^-2)", "X", {"X": (3, 3)}, "gradient", "-2*(X^-3)'"),
    C("a quadratic form of diagonals", "sum(diag(x)*A*diag(x))", "x", {"x": (3,), "A": (3, 3)}, "gradient",
      "(A + A')*x"),
    C(MN + " 9.4", "kron(x, y)", "x", {"x": (3,), "y": (2,)}, "numerator", "kron(eye(3), y)"),
    C(MN + " 9.4", "kron(x, y)", "y", {"x": (3,), "y": (2,)}, "numerator", "kron(x, eye(2))"),
    C(MN + " 9.4", "vec(x*y')", "x", {"x": (3,), "y": (2,)}, "numerator", "kron(y, eye(3))"),
    C(MN + " 9.4", "sum(kron(A, X))", "X", {"A": (2, 2), "X": (3, 3)}, "gradient", "sum(A)*ones(3, 3)"),
]
TEXTBOOK = TEXTBOOK_ELSEWHERE + TEXTBOOK_HERE

CASES: tuple[Case, ...] = tuple(TRACES + DETERMINANTS + FORMS + ELEMENTWISE + GAUSSIAN + KRONECKER + HESSIANS
                                + TEXTBOOK_HERE)
