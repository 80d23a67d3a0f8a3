"""Second and higher derivatives (SPEC §2: orders ≥ 2), numbers only.

Each case is checked three ways: against finite differences of the derivative one order
lower (itself checked, down to the value, by test_cookbook), against ``jax.hessian``-style
nesting of ``jax.jacfwd`` over ``jax.jacrev`` of an independent JAX transcription (when JAX
is installed), and through every installed code-generation backend.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from numerics import md, random_values, rng_for
from test_codegen import BACKENDS, assert_same, run

from matdiff.cli import main

HAVE_JAX = importlib.util.find_spec("jax") is not None


def _jnp():
    import jax.numpy as jnp

    return jnp


def sigmoid(z):
    return 1 / (1 + _jnp().exp(-z))


# id, expression, wrt, shapes, value hints, JAX transcription of the expression
CASES = [
    ("quadratic_form", "x'*A*x", ("x", "x"), {"x": (4,), "A": (4, 4)}, {},
     lambda v: v["x"] @ v["A"] @ v["x"]),
    ("logistic_regression", "sum(log(1 + exp(-y.*(X*w))))", ("w", "w"), {"X": (7, 3), "y": (7,), "w": (3,)}, {},
     lambda v: _jnp().sum(_jnp().log(1 + _jnp().exp(-v["y"] * (v["X"] @ v["w"]))))),
    ("logistic_softplus", "sum(softplus(X*w))", ("w", "w"), {"X": (6, 3), "w": (3,)}, {},
     lambda v: _jnp().sum(_jnp().logaddexp(0.0, v["X"] @ v["w"]))),
    ("matrix_factorisation", "norm2(T - U*V')^2", ("U", "U"), {"T": (5, 4), "U": (5, 2), "V": (4, 2)}, {},
     lambda v: _jnp().sum((v["T"] - v["U"] @ v["V"].T) ** 2)),
    ("factorisation_mixed_UV", "norm2(T - U*V')^2", ("U", "V"), {"T": (5, 4), "U": (5, 2), "V": (4, 2)}, {},
     lambda v: _jnp().sum((v["T"] - v["U"] @ v["V"].T) ** 2)),
    ("bilinear_mixed_xy", "x'*A*y", ("x", "y"), {"x": (3,), "A": (3, 4), "y": (4,)}, {},
     lambda v: v["x"] @ v["A"] @ v["y"]),
    ("bilinear_mixed_yx", "x'*A*y", ("y", "x"), {"x": (3,), "A": (3, 4), "y": (4,)}, {},
     lambda v: v["x"] @ v["A"] @ v["y"]),
    ("tanh_layer_by_input", "sum(tanh(W*x))", ("x", "x"), {"W": (3, 4), "x": (4,)}, {},
     lambda v: _jnp().sum(_jnp().tanh(v["W"] @ v["x"]))),
    ("tanh_layer_by_weights", "sum(tanh(W*x))", ("W", "W"), {"W": (3, 4), "x": (4,)}, {},
     lambda v: _jnp().sum(_jnp().tanh(v["W"] @ v["x"]))),
    ("sigmoid_mlp_program", "z = W1*x; a = sigmoid(z); 0.5*sum((W2*a - y).^2)", ("W1", "W1"),
     {"W1": (3, 2), "x": (2,), "W2": (2, 3), "y": (2,)}, {},
     lambda v: 0.5 * _jnp().sum((v["W2"] @ sigmoid(v["W1"] @ v["x"]) - v["y"]) ** 2)),
    ("sigmoid_mlp_mixed", "z = W1*x; a = sigmoid(z); 0.5*sum((W2*a - y).^2)", ("x", "W2"),
     {"W1": (3, 2), "x": (2,), "W2": (2, 3), "y": (2,)}, {},
     lambda v: 0.5 * _jnp().sum((v["W2"] @ sigmoid(v["W1"] @ v["x"]) - v["y"]) ** 2)),
    ("logdet", "logdet(X)", ("X", "X"), {"X": (3, 3)}, {"X": "posdet"},
     lambda v: _jnp().linalg.slogdet(v["X"])[1]),
    ("det", "det(X)", ("X", "X"), {"X": (3, 3)}, {"X": "posdet"},
     lambda v: _jnp().linalg.det(v["X"])),
    ("trace_of_inverse", "tr(A*inv(X))", ("X", "X"), {"A": (3, 3), "X": (3, 3)}, {"X": "posdet"},
     lambda v: _jnp().trace(v["A"] @ _jnp().linalg.inv(v["X"]))),
    ("euclidean_norm", "norm2(x)", ("x", "x"), {"x": (4,)}, {},
     lambda v: _jnp().sqrt(v["x"] @ v["x"])),
    ("vector_valued", "exp(A*x)", ("x", "x"), {"A": (2, 3), "x": (3,)}, {},
     lambda v: _jnp().exp(v["A"] @ v["x"])),
    ("matrix_valued", "X*X", ("X", "X"), {"X": (2, 2)}, {},
     lambda v: v["X"] @ v["X"]),
    ("third_order_exp", "sum(exp(x))", ("x", "x", "x"), {"x": (3,)}, {},
     lambda v: _jnp().sum(_jnp().exp(v["x"]))),
    ("third_order_cubic_form", "sum((A*x).^3)", ("x", "x", "x"), {"A": (2, 3), "x": (3,)}, {},
     lambda v: _jnp().sum((v["A"] @ v["x"]) ** 3)),
    ("scalar_fourth_order", "a^4 + b*a^2", ("a", "a", "a", "a"), {"a": (), "b": ()}, {},
     lambda v: v["a"] ** 4 + v["b"] * v["a"] ** 2),
    ("symbolic_least_squares", "norm2(A*x - b)^2", ("x", "x"), {"A": ("m", "n"), "x": ("n",), "b": ("m",)}, {},
     lambda v: _jnp().sum((v["A"] @ v["x"] - v["b"]) ** 2)),
]
IDS = [case[0] for case in CASES]


def values_for(case_id, shapes, hint, expr):
    return random_values(shapes, rng_for(case_id), hint=hint, expr=expr)


def finite_difference(expr, wrt, shapes, values, step=1e-6):
    """∂/∂wrt[-1] of the derivative by wrt[:-1] (jacobian layout), by central differences."""
    lower = md.diff(expr, wrt=wrt[:-1] if len(wrt) > 2 else wrt[0], shapes=shapes, layout="jacobian")
    base = np.asarray(values[wrt[-1]], dtype=np.float64)
    result = np.zeros(np.shape(lower.evaluate(values)) + base.shape)
    for index in np.ndindex(*base.shape):
        h = step * max(1.0, abs(float(base[index])))
        plus, minus = base.copy(), base.copy()
        plus[index] += h
        minus[index] -= h
        difference = (np.asarray(lower.evaluate({**values, wrt[-1]: plus}))
                      - np.asarray(lower.evaluate({**values, wrt[-1]: minus})))
        result[(Ellipsis,) + index] = difference / (2 * h)
    return result


@pytest.mark.parametrize("case_id,expr,wrt,shapes,hint,reference", CASES, ids=IDS)
def test_higher_derivative_matches_finite_differences(case_id, expr, wrt, shapes, hint, reference):
    values = values_for(case_id, shapes, hint, expr)
    d = md.diff(expr, wrt=wrt, shapes=shapes, layout="jacobian")
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    want = finite_difference(expr, wrt, shapes, values)
    assert got.shape == want.shape, f"{expr} by {wrt}: shape {got.shape}, finite differences {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=f"{expr} by {wrt}")


@pytest.mark.skipif(not HAVE_JAX, reason="jax is not installed (pip install 'matdiff[jax]')")
@pytest.mark.parametrize("case_id,expr,wrt,shapes,hint,reference", CASES, ids=IDS)
def test_higher_derivative_matches_jax(case_id, expr, wrt, shapes, hint, reference):
    import jax

    values = values_for(case_id, shapes, hint, expr)
    d = md.diff(expr, wrt=wrt, shapes=shapes, layout="jacobian")
    with jax.enable_x64(True):
        derivative = reference
        for order, name in enumerate(wrt):  # reverse first, then forward over it, as jax.hessian does
            derivative = _by(jax.jacrev if order == 0 else jax.jacfwd, derivative, name)
        want = np.asarray(jax.jit(derivative)({k: np.asarray(v, dtype=np.float64) for k, v in values.items()}))
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    np.testing.assert_allclose(got, want.reshape(got.shape), rtol=1e-7, atol=1e-9, err_msg=f"{expr} by {wrt}")


def _by(transform, function, name):
    """values ↦ ∂function(values)/∂values[name], its axes appended (jacobian layout)."""
    return lambda values: transform(lambda t: function({**values, name: t}))(values[name])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case_id,expr,wrt,shapes,hint,reference", CASES, ids=IDS)
def test_compiled_higher_derivative(case_id, expr, wrt, shapes, hint, reference, backend):
    values = values_for(case_id, shapes, hint, expr)
    layouts = ("jacobian", "vec") if _non_scalar(expr, shapes) else ("gradient", "jacobian", "vec")
    for layout in layouts if backend == "numpy" else ("jacobian",):  # jit compiles are slow: one each
        d = md.diff(expr, wrt=wrt, shapes=shapes, layout=layout)
        assert_same(run(d, backend, values), np.asarray(d.evaluate(values), dtype=np.float64),
                    f"{expr} by {wrt} [{layout}] on {backend}")


def _non_scalar(expr, shapes):
    return md.diff(expr, wrt=next(iter(shapes)), shapes=shapes, layout="jacobian").arrangement.y_shape != ()


@pytest.mark.parametrize("case_id,expr,wrt,shapes,hint,reference", CASES, ids=IDS)
def test_printed_hessian_evaluates_to_the_same_numbers(case_id, expr, wrt, shapes, hint, reference):
    """Where a matrix form is printed (A + A'), it is re-parseable and means the same."""
    values = values_for(case_id, shapes, hint, expr)
    d = md.diff(expr, wrt=wrt, shapes=shapes, layout="jacobian")
    if d.text is None:
        return
    printed = np.asarray(md.evaluate(d.text, values, shapes=shapes), dtype=np.float64)
    want = np.asarray(d.evaluate(values), dtype=np.float64)
    assert printed.size == want.size, f"{d.text}: {printed.shape} for a {want.shape} derivative"
    np.testing.assert_allclose(printed.reshape(want.shape), want, rtol=1e-8, atol=1e-10, err_msg=d.text)


# ----- the layouts of SPEC §2 for order two ------------------------------------------------


def test_hessian_shapes_in_every_layout():
    shapes = {"x": (3,), "A": (2, 3), "W": (2, 3)}
    assert md.diff("sum(exp(A*x))", wrt=("x", "x"), shapes=shapes, layout="gradient").shape == (3, 3)
    assert md.diff("sum(exp(A*x))", wrt=("x", "x"), shapes=shapes, layout="numerator").shape == (3, 3)
    assert md.diff("sum(exp(W*x))", wrt=("W", "x"), shapes=shapes, layout="jacobian").shape == (2, 3, 3)
    assert md.diff("sum(exp(W*x))", wrt=("W", "W"), shapes=shapes, layout="vec").shape == (1, 6, 6)
    assert md.diff("exp(A*x)", wrt=("x", "x"), shapes=shapes, layout="denominator").shape == (2, 3, 3)


def test_cli_accepts_repeated_wrt(capsys):
    assert main(["diff", "x'*A*x", "--wrt", "x", "--wrt", "x", "--shape", "x=3"]) == 0
    out = capsys.readouterr().out
    assert "3×3" in out, out
