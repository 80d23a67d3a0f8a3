"""Kronecker forms that need the commutation matrix: products of a matrix variable with its own
transpose (X'*X, X*X'), and X' itself, in the vec layout (Magnus & Neudecker, ch. 9).

K(p, q) is the pq×pq permutation with K(p, q)*vec(A) = vec(A') for A p×q. It is not in the input
language, so such a form has no ``.text``; it is printed in ``.latex`` as K_{p,q} and named in the
reason. Each form is checked by number: its text, with K(p, q) bound to the matrix built here from
its definition, evaluates to the derivative, which is itself checked against finite differences.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import matdiff as md
from numerics import assert_close, assert_derivative, random_values, rng_for

K_CALL = re.compile(r"K\((\d+), (\d+)\)")


def commutation(p: int, q: int) -> np.ndarray:
    """K with K·vec(A) = vec(A') for A p×q (vec stacks columns)."""
    K = np.zeros((p * q, p * q))
    for k in range(p):
        for l in range(q):
            K[k * q + l, l * p + k] = 1.0  # vec(A)[l*p + k] = A[k, l] = A'[l, k] = vec(A')[k*q + l]
    return K


def _vec(A: np.ndarray) -> np.ndarray:
    return A.reshape(-1, order="F")


def test_the_commutation_matrix_here_is_the_one_defined():
    A = np.arange(12.0).reshape(3, 4)
    assert_close(commutation(3, 4) @ _vec(A), _vec(A.T))


CASES = [  # expression, shapes, the printed vec form (Magnus & Neudecker's)
    ("X'", {"X": (3, 4)}, "K(3, 4)"),
    ("X'*X", {"X": (3, 4)}, "kron(eye(4), X') + kron(X', eye(4))*K(3, 4)"),
    ("X*X'", {"X": (3, 4)}, "kron(X, eye(3)) + kron(eye(3), X)*K(3, 4)"),
    ("X'*A*X", {"X": (3, 4), "A": (3, 3)}, "kron(eye(4), X'*A) + kron(X'*A', eye(4))*K(3, 4)"),
    ("B*X'", {"X": (3, 4), "B": (2, 4)}, "kron(eye(3), B)*K(3, 4)"),
]


@pytest.mark.parametrize("expression, shapes, form", CASES, ids=[c[0] for c in CASES])
def test_kronecker_form_with_the_commutation_matrix(expression, shapes, form):
    d = md.diff(expression, wrt="X", shapes=shapes, layout="vec")
    assert d.text is None and d.vec_text is None  # K is not in the language
    printed = d.matrix_program.text
    assert printed == form
    assert "K(m, n), the commutation matrix" in d.reason and form in d.reason
    assert r"K_{3,4}" in d.latex
    values, results = assert_derivative(expression, "X", shapes, layouts=("vec",))
    bound = {f"K_{p}_{q}": commutation(int(p), int(q)) for p, q in K_CALL.findall(printed)}
    program = K_CALL.sub(lambda m: f"K_{m.group(1)}_{m.group(2)}", printed)
    got = md.evaluate(program, {**values, **bound},
                      shapes={**shapes, **{name: K.shape for name, K in bound.items()}})
    assert_close(got, results["vec"], what=f"{printed} with K bound")


def test_other_layouts_point_to_the_kronecker_form():
    d = md.diff("X'*X", wrt="X", shapes={"X": (3, 4)}, layout="numerator")
    assert d.text is None
    assert "nor in the vec layout" in d.reason and "kron(X', eye(4))*K(3, 4)" in d.reason
    assert r"\left(X^{\top} \otimes I_{4}\right) K_{3,4}" in d.latex


def test_forms_without_a_commutation_stay_text():
    """X^2 and A*X*B need no K: their Kronecker forms are plain text, as before."""
    assert md.diff("X^2", wrt="X", shapes={"X": (3, 3)}, layout="vec").text == "kron(X', eye(3)) + kron(eye(3), X)"
    d = md.diff("A*X*B", wrt="X", shapes={"A": (2, 3), "X": (3, 4), "B": (4, 2)}, layout="vec")
    assert d.text == "kron(B', A)"


def test_a_vector_needs_no_commutation():
    """For x*x' the commutation matrix of a vector is the identity: the form is text."""
    d = md.diff("x*x'", wrt="x", shapes={"x": (3,)}, layout="vec")
    assert d.text is not None and "K" not in d.text
    values = random_values({"x": (3,)}, rng_for("x*x' by x"))
    assert_derivative("x*x'", "x", {"x": (3,)}, layouts=("vec",), values=values)


def test_the_explanation_shows_the_form_with_k():
    shown = str(md.explain("X'*X", wrt="X", shapes={"X": (3, 4)}, layout="numerator"))
    assert "kron(eye(4), X') + kron(X', eye(4))*K(3, 4), 16×12, with K(m, n) the commutation matrix" in shown


@pytest.mark.parametrize("expression, shapes, form", [
    ("sum(softplus(W*X))", {"W": (2, 3), "X": (3, 4)},
     "S = sigmoid(W*X); kron(X, eye(2))*diag(vec(S.*(1 - S)))*kron(X', eye(2))"),
    ("sum(exp(A*W*X))", {"A": (4, 2), "W": (2, 3), "X": (3, 5)}, "kron(X, A')*diag(vec(exp(A*W*X)))*kron(X', A)"),
])
def test_hessian_of_a_layer_on_a_batch_is_a_kronecker_sandwich(expression, shapes, form):
    """∂²Σf(A*W*X)/∂W∂W = kron(X, A')*diag(vec(f''(A*W*X)))*kron(X', A) (Magnus & Neudecker ch. 10);
    tests/test_literature.py checks more of these by number, here the printed form itself."""
    d = md.diff(expression, wrt=("W", "W"), shapes=shapes, layout="vec")
    assert d.text == form
    values = random_values(shapes, rng_for(expression))
    got = np.asarray(d.evaluate(values))
    assert_close(md.evaluate(form, values, shapes=shapes), got.reshape(got.shape[-2:]), what=form)
