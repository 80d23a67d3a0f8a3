"""Matrix Cookbook identities, checked numerically in every layout.

Each case is an expression of the SPEC §1 language with declared (mostly rectangular)
shapes. For every case and every layout of SPEC §2 the derivative from ``md.diff`` is
compared with central finite differences of ``md.evaluate`` arranged by our own
implementation of the layout table (tests/numerics.py). ``md.evaluate`` itself is first
checked against a NumPy transcription of the expression, so the finite differences are
trustworthy. Where the cookbook's closed form is simple it is checked too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest
from matdiff.engine.sampling import difference_jacobian
from numerics import (
    ALL_LAYOUTS,
    arrange,
    assert_close,
    assert_derivative,
    bind_dimensions,
    evaluate_value,
    finite_difference_jacobian,
    md,
    random_values,
    rng_for,
)

inv = np.linalg.inv
det = np.linalg.det
T = np.transpose


def sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def softplus(z):
    return np.log1p(np.exp(z))


def vec(M):
    return np.asarray(M).T.reshape(-1)


@dataclass
class Case:
    id: str
    expr: str
    wrt: str
    shapes: dict
    ref: object = None  # numpy function of the values dict: the value of expr
    hint: dict = field(default_factory=dict)
    closed: object = None  # (layout, "text in the language" | numpy function of values)
    dims: dict | None = None


C = Case
CASES = [
    # ------------------------------------------------------------------ traces
    C("tr(X)", "tr(X)", "X", {"X": (4, 4)}, lambda v: np.trace(v["X"]),
      closed=("gradient", "eye(4)")),
    C("tr(A*X)=A'", "tr(A*X)", "X", {"A": (3, 4), "X": (4, 3)}, lambda v: np.trace(v["A"] @ v["X"]),
      closed=("gradient", "A'")),
    C("tr(X*A)=A'", "tr(X*A)", "X", {"X": (3, 4), "A": (4, 3)}, lambda v: np.trace(v["X"] @ v["A"]),
      closed=("gradient", "A'")),
    C("tr(A*X*B)=A'B'", "tr(A*X*B)", "X", {"A": (2, 4), "X": (4, 5), "B": (5, 2)},
      lambda v: np.trace(v["A"] @ v["X"] @ v["B"]), closed=("gradient", "A'*B'")),
    C("tr(A*X*B)_numerator=B*A", "tr(A*X*B)", "X", {"A": (2, 4), "X": (4, 5), "B": (5, 2)},
      lambda v: np.trace(v["A"] @ v["X"] @ v["B"]), closed=("numerator", "B*A")),
    C("tr(A*X'*B)=B*A", "tr(A*X'*B)", "X", {"A": (2, 5), "X": (4, 5), "B": (4, 2)},
      lambda v: np.trace(v["A"] @ v["X"].T @ v["B"]), closed=("gradient", "B*A")),
    C("tr(X'*A)=A", "tr(X'*A)", "X", {"X": (4, 3), "A": (4, 3)}, lambda v: np.trace(v["X"].T @ v["A"]),
      closed=("gradient", "A")),
    C("tr(A*X')=A", "tr(A*X')", "X", {"A": (3, 5), "X": (3, 5)}, lambda v: np.trace(v["A"] @ v["X"].T),
      closed=("gradient", "A")),
    C("tr(X*A*X')=X(A+A')", "tr(X*A*X')", "X", {"X": (3, 4), "A": (4, 4)},
      lambda v: np.trace(v["X"] @ v["A"] @ v["X"].T), closed=("gradient", "X*(A + A')")),
    C("tr(X'*A*X)=(A+A')X", "tr(X'*A*X)", "X", {"X": (4, 3), "A": (4, 4)},
      lambda v: np.trace(v["X"].T @ v["A"] @ v["X"]), closed=("gradient", "(A + A')*X")),
    C("tr(X'*X)=2X", "tr(X'*X)", "X", {"X": (4, 3)}, lambda v: np.trace(v["X"].T @ v["X"]),
      closed=("gradient", "2*X")),
    C("tr(X*X')=2X", "tr(X*X')", "X", {"X": (2, 5)}, lambda v: np.trace(v["X"] @ v["X"].T)),
    C("tr(A*X*B*X)", "tr(A*X*B*X)", "X", {"A": (3, 3), "X": (3, 3), "B": (3, 3)},
      lambda v: np.trace(v["A"] @ v["X"] @ v["B"] @ v["X"]), closed=("gradient", "A'*X'*B' + B'*X'*A'")),
    C("tr(X'*B*X*C)=BXC+B'XC'", "tr(X'*B*X*C)", "X", {"X": (4, 3), "B": (4, 4), "C": (3, 3)},
      lambda v: np.trace(v["X"].T @ v["B"] @ v["X"] @ v["C"]), closed=("gradient", "B*X*C + B'*X*C'")),
    C("tr(A*X*B*X')=A'XB'+AXB", "tr(A*X*B*X')", "X", {"A": (3, 3), "X": (3, 4), "B": (4, 4)},
      lambda v: np.trace(v["A"] @ v["X"] @ v["B"] @ v["X"].T), closed=("gradient", "A'*X*B' + A*X*B")),
    C("tr(X^2)=2X'", "tr(X^2)", "X", {"X": (3, 3)}, lambda v: np.trace(v["X"] @ v["X"]),
      closed=("gradient", "2*X'")),
    C("tr(X^3)=3(X^2)'", "tr(X^3)", "X", {"X": (3, 3)}, lambda v: np.trace(v["X"] @ v["X"] @ v["X"]),
      closed=("gradient", "3*(X^2)'")),
    C("tr(A*X^2)", "tr(A*X^2)", "X", {"A": (3, 3), "X": (3, 3)}, lambda v: np.trace(v["A"] @ v["X"] @ v["X"]),
      closed=("gradient", "(A*X + X*A)'")),
    C("tr(kron(X,A))=tr(A)I", "tr(kron(X, A))", "X", {"X": (3, 3), "A": (2, 2)},
      lambda v: np.trace(np.kron(v["X"], v["A"])), closed=("gradient", "tr(A)*eye(3)")),
    C("tr(inv(X)*A)", "tr(inv(X)*A)", "X", {"X": (3, 3), "A": (3, 3)},
      lambda v: np.trace(inv(v["X"]) @ v["A"]), hint={"X": "invertible"},
      closed=("gradient", "-(inv(X)*A*inv(X))'")),
    C("tr(A*inv(X)*B)", "tr(A*inv(X)*B)", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)},
      lambda v: np.trace(v["A"] @ inv(v["X"]) @ v["B"]), hint={"X": "invertible", "A": "normal", "B": "normal"},
      closed=("gradient", "-(inv(X)*B*A*inv(X))'")),
    # ------------------------------------------------------------ determinants
    C("det(X)=det(X)inv(X)'", "det(X)", "X", {"X": (3, 3)}, lambda v: det(v["X"]),
      hint={"X": "invertible"}, closed=("gradient", "det(X)*inv(X)'")),
    C("det(X)_4x4", "det(X)", "X", {"X": (4, 4)}, lambda v: det(v["X"]), hint={"X": "normal"}),
    C("logdet(X)=inv(X)'", "logdet(X)", "X", {"X": (3, 3)}, lambda v: np.log(det(v["X"])),
      hint={"X": "posdet"}, closed=("gradient", "inv(X)'")),
    C("det(A*X*B)", "det(A*X*B)", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 3)},
      lambda v: det(v["A"] @ v["X"] @ v["B"]), hint={"A": "normal", "X": "normal", "B": "normal"},
      closed=("gradient", "det(A*X*B)*A'*inv(A*X*B)'*B'")),
    C("logdet(X'*X)=2X inv(X'X)", "logdet(X'*X)", "X", {"X": (5, 3)},
      lambda v: np.log(det(v["X"].T @ v["X"])), hint={"X": "normal"}, closed=("gradient", "2*X*inv(X'*X)")),
    C("det(X'*A*X)", "det(X'*A*X)", "X", {"X": (5, 3), "A": (5, 5)},
      lambda v: det(v["X"].T @ v["A"] @ v["X"]), hint={"X": "normal", "A": "spd"},
      closed=("gradient", "det(X'*A*X)*(A*X*inv(X'*A*X) + A'*X*inv(X'*A'*X))")),
    C("logdet(X*X'+I)", "logdet(X*X' + eye(3))", "X", {"X": (3, 4)},
      lambda v: np.log(det(v["X"] @ v["X"].T + np.eye(3))), hint={"X": "normal"},
      closed=("gradient", "2*inv(X*X' + eye(3))*X")),
    C("det(X^2)", "det(X^2)", "X", {"X": (3, 3)}, lambda v: det(v["X"] @ v["X"]), hint={"X": "invertible"},
      closed=("gradient", "2*det(X)^2*inv(X)'")),
    C("det(inv(X))", "det(inv(X))", "X", {"X": (3, 3)}, lambda v: det(inv(v["X"])), hint={"X": "invertible"},
      closed=("gradient", "-det(inv(X))*inv(X)'")),
    C("logdet(A*X)", "logdet(A*X)", "X", {"A": (3, 3), "X": (3, 3)}, lambda v: np.log(det(v["A"] @ v["X"])),
      hint={"A": "posdet", "X": "posdet"}, closed=("gradient", "inv(X)'")),
    # --------------------------------------------------------------- inverses
    C("inv(X)", "inv(X)", "X", {"X": (3, 3)}, lambda v: inv(v["X"]), hint={"X": "invertible"}),
    C("a'*inv(X)*b", "a'*inv(X)*b", "X", {"a": (3,), "X": (3, 3), "b": (3,)},
      lambda v: v["a"] @ inv(v["X"]) @ v["b"], hint={"X": "invertible", "a": "normal", "b": "normal"},
      closed=("gradient", "-inv(X)'*a*b'*inv(X)'")),
    C("inv(X)*A", "inv(X)*A", "X", {"X": (3, 3), "A": (3, 2)}, lambda v: inv(v["X"]) @ v["A"],
      hint={"X": "invertible", "A": "normal"}),
    C("inv(A*X*B)", "inv(A*X*B)", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 3)},
      lambda v: inv(v["A"] @ v["X"] @ v["B"]), hint={"A": "normal", "X": "normal", "B": "normal"}),
    C("x'*inv(A)*x_wrt_A", "x'*inv(A)*x", "A", {"x": (3,), "A": (3, 3)}, lambda v: v["x"] @ inv(v["A"]) @ v["x"],
      hint={"A": "invertible", "x": "normal"}, closed=("gradient", "-inv(A)'*x*x'*inv(A)'")),
    C("sum(inv(X))", "sum(inv(X))", "X", {"X": (3, 3)}, lambda v: inv(v["X"]).sum(), hint={"X": "invertible"}),
    # ------------------------------------------------ linear and quadratic forms
    C("a'*x=a", "a'*x", "x", {"a": (4,), "x": (4,)}, lambda v: v["a"] @ v["x"], closed=("gradient", "a")),
    C("x'*a=a", "x'*a", "x", {"a": (4,), "x": (4,)}, lambda v: v["a"] @ v["x"], closed=("denominator", "a")),
    C("A*x_wrt_x=A", "A*x", "x", {"A": (3, 4), "x": (4,)}, lambda v: v["A"] @ v["x"],
      closed=("numerator", "A")),
    C("A*x_wrt_A", "A*x", "A", {"A": (3, 4), "x": (4,)}, lambda v: v["A"] @ v["x"]),
    C("x'*A_wrt_x(row)", "x'*A", "x", {"x": (3,), "A": (3, 4)}, lambda v: v["x"] @ v["A"]),
    C("x'*A*x=(A+A')x", "x'*A*x", "x", {"x": (4,), "A": (4, 4)}, lambda v: v["x"] @ v["A"] @ v["x"],
      closed=("gradient", "(A + A')*x")),
    C("x'*A*x_wrt_A=xx'", "x'*A*x", "A", {"x": (4,), "A": (4, 4)}, lambda v: v["x"] @ v["A"] @ v["x"],
      closed=("gradient", "x*x'")),
    C("a'*X*b=ab'", "a'*X*b", "X", {"a": (3,), "X": (3, 4), "b": (4,)}, lambda v: v["a"] @ v["X"] @ v["b"],
      closed=("gradient", "a*b'")),
    C("a'*X'*b=ba'", "a'*X'*b", "X", {"a": (3,), "X": (4, 3), "b": (4,)},
      lambda v: v["a"] @ v["X"].T @ v["b"], closed=("gradient", "b*a'")),
    C("a'*X'*X*b=X(ab'+ba')", "a'*X'*X*b", "X", {"a": (3,), "X": (5, 3), "b": (3,)},
      lambda v: v["a"] @ v["X"].T @ v["X"] @ v["b"], closed=("gradient", "X*(a*b' + b*a')")),
    C("b'*X'*D*X*c", "b'*X'*D*X*c", "X", {"b": (3,), "X": (4, 3), "D": (4, 4), "c": (3,)},
      lambda v: v["b"] @ v["X"].T @ v["D"] @ v["X"] @ v["c"], closed=("gradient", "D'*X*b*c' + D*X*c*b'")),
    C("(Ax+b)'(Ax+b)=2A'(Ax+b)", "(A*x + b)'*(A*x + b)", "x", {"A": (3, 4), "x": (4,), "b": (3,)},
      lambda v: np.sum((v["A"] @ v["x"] + v["b"]) ** 2), closed=("gradient", "2*A'*(A*x + b)")),
    C("(Ax+b)'C(Dx+e)", "(A*x + b)'*C*(D*x + e)", "x",
      {"x": (3,), "A": (4, 3), "b": (4,), "C": (4, 5), "D": (5, 3), "e": (5,)},
      lambda v: (v["A"] @ v["x"] + v["b"]) @ v["C"] @ (v["D"] @ v["x"] + v["e"]),
      closed=("gradient", "A'*C*(D*x + e) + D'*C'*(A*x + b)")),
    C("(x-u)'W(x-u)_wrt_u", "(x - u)'*W*(x - u)", "u", {"x": (3,), "u": (3,), "W": (3, 3)},
      lambda v: (v["x"] - v["u"]) @ v["W"] @ (v["x"] - v["u"]), closed=("gradient", "-(W + W')*(x - u)")),
    C("x'*x=2x", "x'*x", "x", {"x": (5,)}, lambda v: v["x"] @ v["x"], closed=("gradient", "2*x")),
    C("x*x'_wrt_x", "x*x'", "x", {"x": (3,)}, lambda v: np.outer(v["x"], v["x"])),
    C("x'*y*a_wrt_y(scaled_dot)", "(x'*y)*a", "y", {"x": (3,), "y": (3,), "a": ()},
      lambda v: (v["x"] @ v["y"]) * v["a"], closed=("gradient", "a*x")),
    C("A*X*B_wrt_X", "A*X*B", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 2)},
      lambda v: v["A"] @ v["X"] @ v["B"], closed=("vec", lambda v: np.kron(v["B"].T, v["A"]))),
    C("X'*A*X_wrt_X", "X'*A*X", "X", {"X": (3, 2), "A": (3, 3)}, lambda v: v["X"].T @ v["A"] @ v["X"]),
    C("A*X'_wrt_X", "A*X'", "X", {"A": (2, 3), "X": (4, 3)}, lambda v: v["A"] @ v["X"].T),
    C("X*X'_wrt_X", "X*X'", "X", {"X": (2, 3)}, lambda v: v["X"] @ v["X"].T),
    # ------------------------------------------------------------------ norms
    C("norm2(x)=x/|x|", "norm2(x)", "x", {"x": (4,)}, lambda v: np.linalg.norm(v["x"]),
      closed=("gradient", "x/norm2(x)")),
    C("norm2(X)_frobenius", "norm2(X)", "X", {"X": (3, 4)}, lambda v: np.linalg.norm(v["X"]),
      closed=("gradient", "X/norm2(X)")),
    C("norm2(X)^2=2X", "norm2(X)^2", "X", {"X": (3, 4)}, lambda v: np.sum(v["X"] ** 2),
      closed=("gradient", "2*X")),
    C("norm2(Ax-b)^2_wrt_x", "norm2(A*x - b)^2", "x", {"A": (3, 4), "x": (4,), "b": (3,)},
      lambda v: np.sum((v["A"] @ v["x"] - v["b"]) ** 2), closed=("gradient", "2*A'*(A*x - b)")),
    C("norm2(Ax-b)^2_wrt_A", "norm2(A*x - b)^2", "A", {"A": (3, 4), "x": (4,), "b": (3,)},
      lambda v: np.sum((v["A"] @ v["x"] - v["b"]) ** 2), closed=("gradient", "2*(A*x - b)*x'")),
    C("norm2(AX-B)^2_wrt_X", "norm2(A*X - B)^2", "X", {"A": (3, 4), "X": (4, 2), "B": (3, 2)},
      lambda v: np.sum((v["A"] @ v["X"] - v["B"]) ** 2), closed=("gradient", "2*A'*(A*X - B)")),
    C("norm2(x)^3", "norm2(x)^3", "x", {"x": (3,)}, lambda v: np.linalg.norm(v["x"]) ** 3,
      closed=("gradient", "3*norm2(x)*x")),
    C("norm1(x)=sign(x)", "norm1(x)", "x", {"x": (5,)}, lambda v: np.sum(np.abs(v["x"])), hint={"x": "away"},
      closed=("gradient", lambda v: np.sign(v["x"]))),
    C("norm1(X)", "norm1(X)", "X", {"X": (3, 2)}, lambda v: np.sum(np.abs(v["X"])), hint={"X": "away"},
      closed=("gradient", lambda v: np.sign(v["X"]))),
    C("norm1(A*x-b)", "norm1(A*x - b)", "x", {"A": (4, 3), "x": (3,), "b": (4,)},
      lambda v: np.sum(np.abs(v["A"] @ v["x"] - v["b"]))),
    # ------------------------------------------------------------ elementwise
    C("exp(x)=diag(exp(x))", "exp(x)", "x", {"x": (4,)}, lambda v: np.exp(v["x"]),
      closed=("numerator", "diag(exp(x))")),
    C("log(x)", "log(x)", "x", {"x": (4,)}, lambda v: np.log(v["x"]), hint={"x": "positive"},
      closed=("numerator", "diag(1 ./ x)")),
    C("sin(X)", "sin(X)", "X", {"X": (2, 3)}, lambda v: np.sin(v["X"])),
    C("cos(x)", "cos(x)", "x", {"x": (3,)}, lambda v: np.cos(v["x"]), closed=("numerator", "-diag(sin(x))")),
    C("tan(x)", "tan(x)", "x", {"x": (3,)}, lambda v: np.tan(v["x"]), hint={"x": "small"}),
    C("tanh(A*x)", "tanh(A*x)", "x", {"A": (3, 4), "x": (4,)}, lambda v: np.tanh(v["A"] @ v["x"]),
      closed=("numerator", "diag(1 - tanh(A*x).^2)*A")),
    C("sigmoid(W*x+b)_wrt_W", "sigmoid(W*x + b)", "W", {"W": (3, 2), "x": (2,), "b": (3,)},
      lambda v: sig(v["W"] @ v["x"] + v["b"])),
    C("relu(A*x)", "relu(A*x)", "x", {"A": (4, 3), "x": (3,)}, lambda v: np.maximum(v["A"] @ v["x"], 0)),
    C("softplus(x)=sigmoid(x)", "softplus(x)", "x", {"x": (3,)}, lambda v: softplus(v["x"]),
      closed=("numerator", "diag(sigmoid(x))")),
    C("sqrt(x)", "sqrt(x)", "x", {"x": (3,)}, lambda v: np.sqrt(v["x"]), hint={"x": "positive"}),
    C("abs(X)", "abs(X)", "X", {"X": (2, 3)}, lambda v: np.abs(v["X"]), hint={"X": "away"}),
    C("sum(exp(X))=exp(X)", "sum(exp(X))", "X", {"X": (3, 2)}, lambda v: np.exp(v["X"]).sum(),
      closed=("gradient", "exp(X)")),
    C("sum(log(X))=1./X", "sum(log(X))", "X", {"X": (2, 3)}, lambda v: np.log(v["X"]).sum(),
      hint={"X": "positive"}, closed=("gradient", "1 ./ X")),
    C("sum(sigmoid(A*x))_wrt_A", "sum(sigmoid(A*x))", "A", {"A": (3, 4), "x": (4,)},
      lambda v: sig(v["A"] @ v["x"]).sum(), closed=("gradient", "(sigmoid(A*x).*(1 - sigmoid(A*x)))*x'")),
    C("sum(softplus(X*w))_wrt_w", "sum(softplus(X*w))", "w", {"X": (5, 3), "w": (3,)},
      lambda v: softplus(v["X"] @ v["w"]).sum(), closed=("gradient", "X'*sigmoid(X*w)")),
    C("logistic_loss", "sum(log(1 + exp(-y.*(X*w))))", "w", {"y": (5,), "X": (5, 3), "w": (3,)},
      lambda v: np.log1p(np.exp(-v["y"] * (v["X"] @ v["w"]))).sum(),
      closed=("gradient", "-X'*(y.*sigmoid(-y.*(X*w)))")),
    C("exp(-a*x)_wrt_a", "exp(-a*x)", "a", {"a": (), "x": (3,)}, lambda v: np.exp(-v["a"] * v["x"])),
    # --------------------------------------------------------------- Hadamard
    C("x.*y_wrt_x=diag(y)", "x.*y", "x", {"x": (4,), "y": (4,)}, lambda v: v["x"] * v["y"],
      closed=("numerator", "diag(y)")),
    C("X.*Y_wrt_X", "X.*Y", "X", {"X": (2, 3), "Y": (2, 3)}, lambda v: v["X"] * v["Y"]),
    C("x./y_wrt_y", "x./y", "y", {"x": (3,), "y": (3,)}, lambda v: v["x"] / v["y"], hint={"y": "positive"},
      closed=("numerator", "-diag(x./(y.*y))")),
    C("X./Y_wrt_X", "X./Y", "X", {"X": (3, 2), "Y": (3, 2)}, lambda v: v["X"] / v["Y"], hint={"Y": "positive"}),
    C("x.^2=diag(2x)", "x.^2", "x", {"x": (4,)}, lambda v: v["x"] ** 2, closed=("numerator", "diag(2*x)")),
    C("x.^3", "x.^3", "x", {"x": (3,)}, lambda v: v["x"] ** 3),
    C("X.^2", "X.^2", "X", {"X": (3, 2)}, lambda v: v["X"] ** 2),
    C("x.^a_wrt_a=x.^a.*log(x)", "x.^a", "a", {"x": (3,), "a": ()}, lambda v: v["x"] ** v["a"],
      hint={"x": "positive"}, closed=("numerator", "x.^a.*log(x)")),
    C("x.^a_wrt_x", "x.^a", "x", {"x": (3,), "a": ()}, lambda v: v["x"] ** v["a"], hint={"x": "positive"}),
    C("x.^y_wrt_y", "x.^y", "y", {"x": (3,), "y": (3,)}, lambda v: v["x"] ** v["y"], hint={"x": "positive"}),
    C("sum(x.*(A*x))=(A+A')x", "sum(x.*(A*x))", "x", {"x": (3,), "A": (3, 3)},
      lambda v: np.sum(v["x"] * (v["A"] @ v["x"])), closed=("gradient", "(A + A')*x")),
    C("u'*(x.*y)_wrt_x=u.*y", "u'*(x.*y)", "x", {"u": (3,), "x": (3,), "y": (3,)},
      lambda v: v["u"] @ (v["x"] * v["y"]), closed=("gradient", "u.*y")),
    C("tr(A'*(X.*X))", "tr(A'*(X.*X))", "X", {"A": (3, 2), "X": (3, 2)}, lambda v: np.sum(v["A"] * v["X"] ** 2),
      closed=("gradient", "2*A.*X")),
    # -------------------------------------------------------- kron, vec, diag, sum
    C("kron(X,A)_wrt_X", "kron(X, A)", "X", {"X": (2, 3), "A": (2, 2)}, lambda v: np.kron(v["X"], v["A"])),
    C("kron(A,X)_wrt_X", "kron(A, X)", "X", {"A": (2, 1), "X": (2, 3)}, lambda v: np.kron(v["A"], v["X"])),
    C("vec(X)=I", "vec(X)", "X", {"X": (3, 4)}, lambda v: vec(v["X"]),
      closed=("vec", lambda v: np.eye(12))),
    C("vec(A*X*B)=kron(B',A)", "vec(A*X*B)", "X", {"A": (3, 4), "X": (4, 5), "B": (5, 2)},
      lambda v: vec(v["A"] @ v["X"] @ v["B"]), closed=("vec", "kron(B', A)")),
    C("diag(x)_wrt_x", "diag(x)", "x", {"x": (3,)}, lambda v: np.diag(v["x"])),
    C("diag(X)_wrt_X", "diag(X)", "X", {"X": (3, 3)}, lambda v: np.diag(v["X"])),
    C("sum(X)=ones", "sum(X)", "X", {"X": (3, 4)}, lambda v: v["X"].sum(),
      closed=("gradient", lambda v: np.ones((3, 4)))),
    C("sum(A*X)", "sum(A*X)", "X", {"A": (2, 3), "X": (3, 4)}, lambda v: (v["A"] @ v["X"]).sum()),
    C("tr(diag(x)*A)=diag(A)", "tr(diag(x)*A)", "x", {"x": (3,), "A": (3, 3)},
      lambda v: np.trace(np.diag(v["x"]) @ v["A"]), closed=("gradient", "diag(A)")),
    C("x'*diag(u)*x_wrt_u=x.*x", "x'*diag(u)*x", "u", {"x": (3,), "u": (3,)},
      lambda v: v["x"] @ np.diag(v["u"]) @ v["x"], closed=("gradient", "x.*x")),
    C("sum(kron(x,y))", "sum(kron(x, y))", "x", {"x": (2,), "y": (3,)}, lambda v: np.kron(v["x"], v["y"]).sum(),
      closed=("gradient", lambda v: np.sum(v["y"]) * np.ones(2))),
    # ----------------------------------------------------------- scalar powers
    C("a^2_scalar", "a^2", "a", {"a": ()}, lambda v: v["a"] ** 2, closed=("gradient", "2*a")),
    C("(x'*y)^2", "(x'*y)^2", "x", {"x": (3,), "y": (3,)}, lambda v: (v["x"] @ v["y"]) ** 2,
      closed=("gradient", "2*(x'*y)*y")),
    C("(x'*A*x)^0.5", "(x'*A*x)^0.5", "x", {"x": (3,), "A": (3, 3)},
      lambda v: np.sqrt(v["x"] @ v["A"] @ v["x"]), hint={"A": "spd", "x": "normal"}),
    C("a*X_wrt_a", "a*X", "a", {"a": (), "X": (2, 3)}, lambda v: v["a"] * v["X"], closed=("numerator", "X")),
    C("X/a_wrt_a", "X/a", "a", {"a": (), "X": (2, 3)}, lambda v: v["X"] / v["a"], hint={"a": "positive"},
      closed=("numerator", "-X/a^2")),
    C("a*x_wrt_a", "a*x", "a", {"a": (), "x": (3,)}, lambda v: v["a"] * v["x"], closed=("numerator", "x")),
    C("exp(a)*x_wrt_a", "exp(a)*x", "a", {"a": (), "x": (4,)}, lambda v: np.exp(v["a"]) * v["x"]),
    C("sin(a)^2+cos(a)", "sin(a)^2 + cos(a)", "a", {"a": ()}, lambda v: np.sin(v["a"]) ** 2 + np.cos(v["a"]),
      closed=("gradient", "2*sin(a)*cos(a) - sin(a)")),
    C("1-a*x(scalar_minus_vector)", "1 - a*x", "x", {"a": (), "x": (3,)}, lambda v: 1 - v["a"] * v["x"]),
    # ---------------------------------------------------- matrix integer powers
    C("X^2_wrt_X", "X^2", "X", {"X": (3, 3)}, lambda v: v["X"] @ v["X"],
      closed=("vec", lambda v: np.kron(np.eye(3), v["X"]) + np.kron(v["X"].T, np.eye(3)))),
    C("X^3_wrt_X", "X^3", "X", {"X": (3, 3)}, lambda v: v["X"] @ v["X"] @ v["X"]),
    C("A*X^2*B", "A*X^2*B", "X", {"A": (2, 3), "X": (3, 3), "B": (3, 2)},
      lambda v: v["A"] @ v["X"] @ v["X"] @ v["B"]),
    # ------------------------------------------------------------ programs
    C("program_tanh_energy", "u = A*x + b; v = tanh(u); sum(v.*v)", "x", {"A": (3, 4), "x": (4,), "b": (3,)},
      lambda v: np.sum(np.tanh(v["A"] @ v["x"] + v["b"]) ** 2),
      closed=("gradient", "A'*(2*tanh(A*x + b).*(1 - tanh(A*x + b).^2))")),
    C("program_logistic_regression",
      "z = X*w; p = sigmoid(z); -sum(y.*log(p) + (1 - y).*log(1 - p))", "w",
      {"X": (5, 3), "w": (3,), "y": (5,)},
      lambda v: -np.sum(v["y"] * np.log(sig(v["X"] @ v["w"])) + (1 - v["y"]) * np.log(1 - sig(v["X"] @ v["w"]))),
      hint={"X": "normal", "w": "normal", "y": "unit"}, closed=("gradient", "X'*(sigmoid(X*w) - y)")),
    C("program_logdet_gram", "S = X'*X; logdet(S + eye(3))", "X", {"X": (4, 3)},
      lambda v: np.log(det(v["X"].T @ v["X"] + np.eye(3))), hint={"X": "normal"},
      closed=("gradient", "2*X*inv(X'*X + eye(3))")),
    C("program_residual_newlines", "r = A*x - b\nr'*r", "x", {"A": (4, 3), "x": (3,), "b": (4,)},
      lambda v: np.sum((v["A"] @ v["x"] - v["b"]) ** 2), closed=("gradient", "2*A'*(A*x - b)")),
    C("program_reused_intermediate", "H = A*X; tr(H'*H) + sum(H)", "X", {"A": (3, 2), "X": (2, 4)},
      lambda v: np.sum((v["A"] @ v["X"]) ** 2) + np.sum(v["A"] @ v["X"])),
    C("program_vector_output", "h = W1*x; sigmoid(W2*h)", "W1", {"W1": (3, 2), "x": (2,), "W2": (2, 3)},
      lambda v: sig(v["W2"] @ (v["W1"] @ v["x"]))),
    # ------------------------------------------------------ symbolic dimensions
    C("symbolic_tr(A*X*B)", "tr(A*X*B)", "X", {"A": ("p", "m"), "X": ("m", "n"), "B": ("n", "p")},
      lambda v: np.trace(v["A"] @ v["X"] @ v["B"]), closed=("gradient", "A'*B'"), dims={"p": 2, "m": 4, "n": 5}),
    C("symbolic_x'*A*x", "x'*A*x", "x", {"x": ("n",), "A": ("n", "n")}, lambda v: v["x"] @ v["A"] @ v["x"],
      closed=("gradient", "(A + A')*x"), dims={"n": 4}),
    C("symbolic_A*x", "A*x", "x", {"A": ("m", "n"), "x": ("n",)}, lambda v: v["A"] @ v["x"],
      closed=("numerator", "A"), dims={"m": 3, "n": 5}),
    C("symbolic_least_squares", "norm2(A*x - b)^2", "x", {"A": ("m", "n"), "x": ("n",), "b": ("m",)},
      lambda v: np.sum((v["A"] @ v["x"] - v["b"]) ** 2), closed=("gradient", "2*A'*(A*x - b)"),
      dims={"m": 5, "n": 3}),
    C("symbolic_A*X*B_wrt_X", "A*X*B", "X", {"A": ("m", "n"), "X": ("n", "p"), "B": ("p", "q")},
      lambda v: v["A"] @ v["X"] @ v["B"], closed=("vec", lambda v: np.kron(v["B"].T, v["A"])),
      dims={"m": 2, "n": 3, "p": 4, "q": 2}),
    C("symbolic_logdet", "logdet(X)", "X", {"X": ("n", "n")}, lambda v: np.log(det(v["X"])),
      hint={"X": "posdet"}, closed=("gradient", "inv(X)'"), dims={"n": 3}),
    C("symbolic_sigmoid_layer", "sigmoid(W*x)", "W", {"W": ("m", "n"), "x": ("n",)},
      lambda v: sig(v["W"] @ v["x"]), dims={"m": 2, "n": 3}),
]

assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def _rng(case):
    return rng_for(case.id)


def _values(case):
    return random_values(case.shapes, _rng(case), hint=case.hint, dims=case.dims, expr=case.expr)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cookbook_value_matches_numpy(case):
    """md.evaluate agrees with a NumPy transcription (so FD of md.evaluate is meaningful)."""
    values = _values(case)
    got = evaluate_value(case.expr, values, case.shapes)
    want = np.asarray(case.ref(values), dtype=np.float64)
    assert got.size == want.size, f"{case.expr}: value has shape {got.shape}, expected {want.shape}"
    assert_close(got.reshape(want.shape), want, what=f"md.evaluate({case.expr!r})")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cookbook_derivative_every_layout(case):
    values = _values(case)
    assert_derivative(case.expr, case.wrt, case.shapes, ALL_LAYOUTS, values=values, dims=case.dims)


CLOSED = [c for c in CASES if c.closed is not None]


@pytest.mark.parametrize("case", CLOSED, ids=[c.id for c in CLOSED])
def test_cookbook_closed_form(case):
    layout, form = case.closed
    values = _values(case)
    got = np.asarray(md.diff(case.expr, wrt=case.wrt, shapes=case.shapes, layout=layout).evaluate(values))
    if callable(form):
        want = np.asarray(form(values), dtype=np.float64)
    else:
        want = evaluate_value(form, values, case.shapes)
    assert got.size == want.size, f"{case.expr} [{layout}]: derivative shape {got.shape} vs closed form {want.shape}"
    assert_close(got, want.reshape(got.shape), what=f"d({case.expr})/d{case.wrt} [{layout}] vs {form}")


# ---------------------------------------------------------------------------------------
# second derivatives (SPEC §2: gradient and jacobian layouts give S_Y + S_X1 + S_X2)
# ---------------------------------------------------------------------------------------

HESSIANS = [
    ("hessian_x'*A*x=A+A'", "x'*A*x", ("x", "x"), {"x": (4,), "A": (4, 4)}, {},
     lambda v: v["A"] + v["A"].T),
    ("hessian_sum(exp(x))=diag(exp(x))", "sum(exp(x))", ("x", "x"), {"x": (3,)}, {},
     lambda v: np.diag(np.exp(v["x"]))),
    ("hessian_logistic=X'diag(p(1-p))X", "sum(softplus(X*w))", ("w", "w"), {"X": (5, 3), "w": (3,)}, {},
     lambda v: v["X"].T @ np.diag(sig(v["X"] @ v["w"]) * (1 - sig(v["X"] @ v["w"]))) @ v["X"]),
    ("hessian_mixed_x'*A*y=A", "x'*A*y", ("x", "y"), {"x": (3,), "A": (3, 4), "y": (4,)}, {},
     lambda v: v["A"]),
    ("hessian_least_squares=2A'A", "norm2(A*x - b)^2", ("x", "x"), {"A": (5, 3), "x": (3,), "b": (5,)}, {},
     lambda v: 2 * v["A"].T @ v["A"]),
    ("hessian_tr(X'*A*X)_tensor", "tr(X'*A*X)", ("X", "X"), {"X": (3, 2), "A": (3, 3)}, {},
     lambda v: np.einsum("ik,jl->ijkl", v["A"] + v["A"].T, np.eye(2))),
    ("hessian_scalar_a^3", "a^3", ("a", "a"), {"a": ()}, {}, lambda v: 6 * v["a"]),
    ("hessian_logistic_program", "z = X*w; p = sigmoid(z); -sum(y.*log(p) + (1 - y).*log(1 - p))", ("w", "w"),
     {"X": (5, 3), "w": (3,), "y": (5,)}, {"X": "normal", "w": "normal", "y": "unit"},
     lambda v: v["X"].T @ np.diag(sig(v["X"] @ v["w"]) * (1 - sig(v["X"] @ v["w"]))) @ v["X"]),
    ("hessian_mixed_matrix_vector_a'*X*b", "a'*X*b", ("X", "b"), {"a": (3,), "X": (3, 4), "b": (4,)}, {},
     lambda v: np.einsum("i,jk->ijk", v["a"], np.eye(4))),
]


@pytest.mark.parametrize("layout", ["gradient", "jacobian"])
@pytest.mark.parametrize("hid,expr,wrt,shapes,hint,closed", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_cookbook_hessian(hid, expr, wrt, shapes, hint, closed, layout):
    values = random_values(shapes, rng_for(hid), hint=hint, expr=expr)
    d = md.diff(expr, wrt=wrt, shapes=shapes, layout=layout)
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    want = np.asarray(closed(values), dtype=np.float64)
    assert got.shape == want.shape, f"{expr} wrt {wrt} [{layout}]: shape {got.shape}, expected {want.shape}"
    assert_close(got, want, what=f"second derivative of {expr} wrt {wrt} [{layout}]")
    assert tuple(d.shape) == got.shape
    # and the same as finite differences of the (independently checked) first derivative
    first = md.diff(expr, wrt=wrt[0], shapes=shapes, layout="jacobian")

    fd = difference_jacobian(first.evaluate, values, wrt[1])
    assert_close(got, fd.reshape(got.shape), rtol=1e-4, atol=1e-5,
                 what=f"second derivative of {expr} vs FD of the first [{layout}]")


# ---------------------------------------------------------------------------------------
# the helper itself: arrange() against hand-written layouts
# ---------------------------------------------------------------------------------------


def test_arrange_scalar_by_matrix_matches_wikipedia_numerator():
    G = np.arange(6.0).reshape(2, 3)  # dy/dX_ij
    assert np.array_equal(arrange(G, "numerator", (), (2, 3)), G.T)
    assert np.array_equal(arrange(G, "denominator", (), (2, 3)), G)
    assert np.array_equal(arrange(G, "gradient", (), (2, 3)), G)
    assert np.array_equal(arrange(G, "vec", (), (2, 3)), G.T.reshape(1, 6))
    assert arrange(G.reshape(1, 2, 3), "numerator", (1,), (2, 3)).shape == (3, 2)


def test_arrange_vec_of_matrix_product_is_kron():
    rng = np.random.default_rng(7)
    A, B = rng.standard_normal((3, 4)), rng.standard_normal((5, 2))
    J = np.einsum("ik,lj->ijkl", A, B)  # d(AXB)_ij / dX_kl
    assert np.allclose(arrange(J, "vec", (3, 2), (4, 5)), np.kron(B.T, A))
    assert arrange(J, "denominator", (3, 2), (4, 5)).shape == (4, 5, 3, 2)
    assert arrange(J[:, 0, :, 0], "numerator", (3,), (4,)).shape == (3, 4)
    assert arrange(J[:, 0, :, 0], "denominator", (3,), (4,)).shape == (4, 3)


def test_finite_differences_of_a_known_function():
    shapes = {"A": (2, 3), "x": (3,)}
    rng = np.random.default_rng(3)
    values = random_values(shapes, rng)
    J = finite_difference_jacobian("A*x", "A", values, shapes)
    want = np.einsum("ik,l->ikl", np.eye(2), values["x"])
    assert_close(J, want)


def test_number_before_elementwise_operator_is_elementwise_as_in_matlab():
    """`1./x` is `1 ./ x` (MATLAB lexing); matdiff's own printed forms rely on it."""
    shapes = {"x": (3,), "X": (2, 3)}
    values = {"x": np.array([2.0, 4.0, 5.0]), "X": np.array([[1.0, 2.0, 4.0], [5.0, 8.0, 10.0]])}
    assert_close(evaluate_value("1./x", values, shapes), 1.0 / values["x"])
    assert_close(evaluate_value("2.*x", values, shapes), 2.0 * values["x"])
    assert_close(evaluate_value("2.^x", values, shapes), 2.0 ** values["x"])
    assert_close(evaluate_value("1./X", values, shapes), 1.0 / values["X"])


def test_symbolic_dimensions_are_bound_consistently():
    dims = bind_dimensions({"A": ("m", "n"), "x": ("n",)}, {"m": 3})
    assert dims["m"] == 3 and dims["n"] not in (3,)


# ---------------------------------------------------------------------------------------
# undeclared names: matrixcalculus.org defaults (a–g scalars, h–z vectors, A–Z matrices),
# symbolic sizes inferred, numbers once values are given
# ---------------------------------------------------------------------------------------

DEFAULT_SHAPE_CASES = [
    ("x'*A*x", "x", {"x": (3,), "A": (3, 3)}),
    ("tr(A*X*B)", "X", {"A": (2, 4), "X": (4, 5), "B": (5, 2)}),
    ("norm2(B*y - x)^2", "B", {"B": (3, 2), "y": (2,), "x": (3,)}),
    ("A*x", "A", {"A": (3, 4), "x": (4,)}),
    ("a*sigmoid(W*x)", "W", {"a": (), "W": (2, 3), "x": (3,)}),
    ("a*sigmoid(W*x)", "a", {"a": (), "W": (2, 3), "x": (3,)}),
    ("logdet(X'*X)", "X", {"X": (4, 3)}),
    ("c*exp(-b*t)", "b", {"b": (), "c": (), "t": (4,)}),
]


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
@pytest.mark.parametrize("expr,wrt,concrete", DEFAULT_SHAPE_CASES, ids=[f"{c[0]}_wrt_{c[1]}" for c in DEFAULT_SHAPE_CASES])
def test_default_shapes_of_undeclared_names(expr, wrt, concrete, layout):
    values = random_values(concrete, rng_for(expr), expr=expr)
    y = evaluate_value(expr, values, concrete)
    if layout == "gradient" and y.size != 1:
        with pytest.raises(md.MatdiffError):
            md.diff(expr, wrt=wrt, layout=layout).evaluate(values)
        return
    d = md.diff(expr, wrt=wrt, layout=layout)  # no shapes at all
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    want = arrange(finite_difference_jacobian(expr, wrt, values, concrete), layout, y.shape, np.shape(values[wrt]))
    assert got.shape == want.shape, f"{expr} [{layout}] without shapes: {got.shape} vs {want.shape}"
    assert_close(got, want, what=f"d({expr})/d{wrt} [{layout}] with default shapes")
    assert len(tuple(d.shape)) == got.ndim


def test_variable_exponent_of_a_negative_base_with_an_integer_value():
    """x.^a is real for x < 0 when a is an integer (as in MATLAB): (-1.5).^2 = 2.25."""
    shapes = {"x": (3,), "a": ()}
    values = {"x": np.array([-1.5, 2.0, -0.5]), "a": 2.0}
    assert_close(evaluate_value("x.^a", values, shapes), values["x"] ** 2)
    d = md.diff("x.^a", wrt="x", shapes=shapes, layout="numerator")
    assert_close(np.asarray(d.evaluate(values)), np.diag(2 * values["x"]))
