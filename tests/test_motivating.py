"""The three seed questions (shared/seeds), answered with numbers.

1. y = W2*W1*h with W2 1×2, W1 2×2, h 2: dy/dW1 is h*W2 in numerator layout (not W2*h').
2. C = A*B: dC/dA and dC/dB are 4th-order tensors; their vec forms are Kronecker products.
3. A 2-3-2 sigmoid network with MSE loss: backprop gradients and the layer deltas.
"""

from __future__ import annotations

import numpy as np
import pytest
from numerics import (
    ALL_LAYOUTS,
    arrange,
    assert_close,
    assert_derivative,
    evaluate_value,
    finite_difference_jacobian,
    md,
    random_values,
)

# ---------------------------------------------------------------------------------------
# seed 1: y = W2*W1*h
# ---------------------------------------------------------------------------------------

SEED1_SHAPES = {"W2": (1, 2), "W1": (2, 2), "h": (2,)}


@pytest.fixture
def seed1_values():
    return random_values(SEED1_SHAPES, np.random.default_rng(2024))


def test_seed1_value_is_a_scalar_for_layout_purposes(seed1_values):
    v = seed1_values
    y = evaluate_value("W2*W1*h", v, SEED1_SHAPES)
    assert y.size == 1
    assert_close(y.reshape(()), (v["W2"] @ v["W1"] @ v["h"]).item())


def test_seed1_numerator_layout_is_h_times_W2(seed1_values):
    v = seed1_values
    d = md.diff("W2*W1*h", wrt="W1", shapes=SEED1_SHAPES, layout="numerator")
    got = np.asarray(d.evaluate(v))
    assert got.shape == (2, 2)
    # numerator layout: [j, i] = dy/dW1_ij = W2_i h_j, i.e. the matrix h*W2
    assert_close(got, np.outer(v["h"], v["W2"][0]), what="numerator dy/dW1 vs h*W2")
    # ... and NOT the (ill-shaped) W2*h' the chain rule naively suggests: that is the denominator
    assert not np.allclose(got, np.outer(v["W2"][0], v["h"]))
    assert tuple(d.shape) == (2, 2)


def test_seed1_numerator_text_evaluates_to_h_times_W2(seed1_values):
    v = seed1_values
    d = md.diff("W2*W1*h", wrt="W1", shapes=SEED1_SHAPES, layout="numerator")
    assert d.text is not None, "a scalar-by-matrix derivative has a matrix form"
    assert_close(evaluate_value(d.text, v, SEED1_SHAPES).reshape(2, 2), evaluate_value("h*W2", v, SEED1_SHAPES),
                 what=f"text {d.text!r}")


def test_seed1_denominator_layout_is_W2_transpose_h_transpose(seed1_values):
    v = seed1_values
    d = md.diff("W2*W1*h", wrt="W1", shapes=SEED1_SHAPES, layout="denominator")
    got = np.asarray(d.evaluate(v))
    assert_close(got, evaluate_value("W2'*h'", v, SEED1_SHAPES), what="denominator dy/dW1 vs W2'*h'")
    assert_close(got, np.outer(v["W2"][0], v["h"]))


def test_seed1_gradient_allowed_because_result_is_1x1(seed1_values):
    v = seed1_values
    got = np.asarray(md.diff("W2*W1*h", wrt="W1", shapes=SEED1_SHAPES, layout="gradient").evaluate(v))
    assert_close(got, np.outer(v["W2"][0], v["h"]))


@pytest.mark.parametrize("wrt", ["W1", "W2", "h"])
def test_seed1_every_layout_against_finite_differences(seed1_values, wrt):
    assert_derivative("W2*W1*h", wrt, SEED1_SHAPES, ALL_LAYOUTS, values=seed1_values)


def test_seed1_chain_rule_pieces_have_the_shapes_the_answer_explains(seed1_values):
    """du/dW1 for u = W1*h is a 2×2×2 tensor, not h' (the answer in the seed)."""
    v = seed1_values
    d = md.diff("W1*h", wrt="W1", shapes=SEED1_SHAPES, layout="jacobian")
    got = np.asarray(d.evaluate(v))
    assert got.shape == (2, 2, 2)
    assert_close(got, np.einsum("ik,l->ikl", np.eye(2), v["h"]))


# ---------------------------------------------------------------------------------------
# seed 2: C = A*B
# ---------------------------------------------------------------------------------------


def _product_values(m, n, p, seed=11):
    rng = np.random.default_rng(seed)
    return {"A": rng.standard_normal((m, n)), "B": rng.standard_normal((n, p))}


SEED2_SHAPES = [
    pytest.param({"A": (1, 3), "B": (3, 2)}, (1, 3, 2), id="A1x3_B3x2"),
    pytest.param({"A": ("m", "n"), "B": ("n", "p")}, (2, 3, 4), id="symbolic_m2_n3_p4"),
    pytest.param({"A": ("m", "n"), "B": ("n", "p")}, (4, 2, 3), id="symbolic_m4_n2_p3"),
]


@pytest.mark.parametrize("shapes,mnp", SEED2_SHAPES)
def test_seed2_dC_dA_jacobian_is_delta_ik_B_lj(shapes, mnp):
    m, n, p = mnp
    v = _product_values(m, n, p)
    got = np.asarray(md.diff("A*B", wrt="A", shapes=shapes, layout="jacobian").evaluate(v))
    assert got.shape == (m, p, m, n)
    want = np.zeros((m, p, m, n))
    for i in range(m):
        for j in range(p):
            for k in range(m):
                for l in range(n):
                    want[i, j, k, l] = (i == k) * v["B"][l, j]
    assert_close(got, want, what="dC_ij/dA_kl = delta_ik B_lj")


@pytest.mark.parametrize("shapes,mnp", SEED2_SHAPES)
def test_seed2_dC_dB_jacobian_is_A_ik_delta_lj(shapes, mnp):
    m, n, p = mnp
    v = _product_values(m, n, p)
    got = np.asarray(md.diff("A*B", wrt="B", shapes=shapes, layout="jacobian").evaluate(v))
    assert got.shape == (m, p, n, p)
    want = np.zeros((m, p, n, p))
    for i in range(m):
        for j in range(p):
            for k in range(n):
                for l in range(p):
                    want[i, j, k, l] = v["A"][i, k] * (j == l)
    assert_close(got, want, what="dC_ij/dB_kl = A_ik delta_jl")


@pytest.mark.parametrize("shapes,mnp", SEED2_SHAPES)
def test_seed2_vec_layout_is_kron(shapes, mnp):
    m, n, p = mnp
    v = _product_values(m, n, p)
    dA = np.asarray(md.diff("A*B", wrt="A", shapes=shapes, layout="vec").evaluate(v))
    dB = np.asarray(md.diff("A*B", wrt="B", shapes=shapes, layout="vec").evaluate(v))
    assert_close(dA, np.kron(v["B"].T, np.eye(m)), what="dvec(AB)/dvec(A) = kron(B', I_m)")
    assert_close(dB, np.kron(np.eye(p), v["A"]), what="dvec(AB)/dvec(B) = kron(I_p, A)")


def test_seed2_dC_dB_for_the_1x3_by_3x2_example_is_not_A_transpose():
    """The seed's own 2×6 matrix: rows are dC_1/dB and dC_2/dB with B read row by row."""
    v = _product_values(1, 3, 2)
    a = v["A"][0]
    J = np.asarray(md.diff("A*B", wrt="B", shapes={"A": (1, 3), "B": (3, 2)}, layout="jacobian").evaluate(v))
    by_rows = J.reshape(2, 6)  # C as its 2 entries, B entries row-major: b11 b12 b21 b22 b31 b32
    want = np.array([[a[0], 0, a[1], 0, a[2], 0], [0, a[0], 0, a[1], 0, a[2]]])
    assert_close(by_rows, want)


@pytest.mark.parametrize("shapes,mnp", SEED2_SHAPES)
@pytest.mark.parametrize("wrt", ["A", "B"])
def test_seed2_every_layout_against_finite_differences(shapes, mnp, wrt):
    m, n, p = mnp
    assert_derivative("A*B", wrt, shapes, ALL_LAYOUTS, values=_product_values(m, n, p),
                      dims={"m": m, "n": n, "p": p})


@pytest.mark.parametrize("shapes,mnp", SEED2_SHAPES)
def test_seed2_denominator_layout_shapes(shapes, mnp):
    m, n, p = mnp
    v = _product_values(m, n, p)
    got = np.asarray(md.diff("A*B", wrt="A", shapes=shapes, layout="denominator").evaluate(v))
    assert got.shape == (m, n, m, p)


def test_seed2_backprop_vjp_is_A_transpose_times_upstream():
    """dL/dB = A' * dL/dC for L = sum(G.*(A*B)): the ML formula is a VJP, not dC/dB."""
    shapes = {"A": (1, 3), "B": (3, 2), "G": (1, 2)}
    v = random_values(shapes, np.random.default_rng(5))
    got = np.asarray(md.diff("sum(G.*(A*B))", wrt="B", shapes=shapes, layout="gradient").evaluate(v))
    assert_close(got, v["A"].T @ v["G"])


# ---------------------------------------------------------------------------------------
# seed 3: 2-3-2 network with sigmoid activations and MSE loss
# ---------------------------------------------------------------------------------------

NET = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NET_SHAPES = {"x": (2,), "W2": (3, 2), "W3": (2, 3), "y": (2,)}


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


def _backprop(v):
    x, W2, W3, y = v["x"], v["W2"], v["W3"], v["y"]
    z2 = W2 @ x
    a2 = _sig(z2)
    z3 = W3 @ a2
    a3 = _sig(z3)
    loss = 0.5 * np.sum((a3 - y) ** 2)
    delta3 = (a3 - y) * a3 * (1 - a3)
    dW3 = np.outer(delta3, a2)
    delta2 = (W3.T @ delta3) * a2 * (1 - a2)
    dW2 = np.outer(delta2, x)
    return {"loss": loss, "z3": z3, "a2": a2, "delta3": delta3, "delta2": delta2, "dW3": dW3, "dW2": dW2}


@pytest.fixture
def net_values():
    return random_values(NET_SHAPES, np.random.default_rng(99))


def test_network_loss_value(net_values):
    assert_close(evaluate_value(NET, net_values, NET_SHAPES), _backprop(net_values)["loss"])


@pytest.mark.parametrize("wrt,key", [("W3", "dW3"), ("W2", "dW2")])
def test_network_gradient_matches_handwritten_backprop(net_values, wrt, key):
    got = np.asarray(md.diff(NET, wrt=wrt, shapes=NET_SHAPES, layout="gradient").evaluate(net_values))
    assert got.shape == NET_SHAPES[wrt]
    assert_close(got, _backprop(net_values)[key], what=f"dL/d{wrt} vs backprop")


@pytest.mark.parametrize("wrt,key", [("W3", "dW3"), ("W2", "dW2")])
def test_network_denominator_is_backprop_numerator_is_its_transpose(net_values, wrt, key):
    want = _backprop(net_values)[key]
    den = np.asarray(md.diff(NET, wrt=wrt, shapes=NET_SHAPES, layout="denominator").evaluate(net_values))
    num = np.asarray(md.diff(NET, wrt=wrt, shapes=NET_SHAPES, layout="numerator").evaluate(net_values))
    assert_close(den, want)
    assert_close(num, want.T)


@pytest.mark.parametrize("wrt", ["W2", "W3", "x", "y"])
def test_network_every_layout_against_finite_differences(net_values, wrt):
    assert_derivative(NET, wrt, NET_SHAPES, ALL_LAYOUTS, values=net_values)


def test_network_gradient_wrt_W3_text_has_the_delta_times_a2_transpose_form(net_values):
    d = md.diff(NET, wrt="W3", shapes=NET_SHAPES, layout="gradient")
    assert d.text is not None
    assert_close(evaluate_value(d.text, net_values, NET_SHAPES), _backprop(net_values)["dW3"])
    # the seed's own answer, (a3 - y) .* a3 .* (1 - a3) * a2', written in the language
    seed_answer = ("a2 = sigmoid(W2*x); a3 = sigmoid(W3*a2); ((a3 - y).*a3.*(1 - a3))*a2'")
    assert_close(evaluate_value(d.text, net_values, NET_SHAPES),
                 evaluate_value(seed_answer, net_values, NET_SHAPES))


# the tail of the program, with z3 as an input: for finite differences in z3
NET_TAIL = "a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NET_TAIL_SHAPES = {"z3": (2,), "y": (2,)}


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
def test_network_delta_wrt_intermediate_z3(net_values, layout):
    bp = _backprop(net_values)
    d = md.diff(NET, wrt="z3", shapes=NET_SHAPES, layout=layout)
    got = np.asarray(d.evaluate(net_values), dtype=np.float64)
    # finite differences of the tail of the program, at z3 = W3*a2
    tail_values = {"z3": bp["z3"], "y": net_values["y"]}
    J = finite_difference_jacobian(NET_TAIL, "z3", tail_values, NET_TAIL_SHAPES)
    want = arrange(J, layout, (), (2,))
    assert got.shape == want.shape, f"[{layout}] shape {got.shape} vs {want.shape}"
    assert_close(got, want, what=f"dL/dz3 [{layout}] vs FD")
    # the delta of the output layer: (a3 - y) .* a3 .* (1 - a3)
    assert_close(got.reshape(-1), bp["delta3"], what=f"dL/dz3 [{layout}] vs backprop delta3")


def test_network_delta_wrt_intermediate_z2(net_values):
    d = md.diff(NET, wrt="z2", shapes=NET_SHAPES, layout="gradient")
    assert_close(np.asarray(d.evaluate(net_values)), _backprop(net_values)["delta2"],
                 what="dL/dz2 vs backprop delta2")


def test_network_delta_wrt_intermediate_a2_is_W3_transpose_delta3(net_values):
    bp = _backprop(net_values)
    d = md.diff(NET, wrt="a2", shapes=NET_SHAPES, layout="gradient")
    assert_close(np.asarray(d.evaluate(net_values)), net_values["W3"].T @ bp["delta3"])


def test_network_vector_output_derivative_dimensions(net_values):
    """The seed's 2×1 2×3 3×1 1×2 confusion: d a3 / d a2 is 2×3 in numerator, 3×2 in denominator."""
    prog = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; sigmoid(z3)"
    num = md.diff(prog, wrt="a2", shapes=NET_SHAPES, layout="numerator")
    den = md.diff(prog, wrt="a2", shapes=NET_SHAPES, layout="denominator")
    bp = _backprop(net_values)
    a3 = _sig(bp["z3"])
    want_num = np.diag(a3 * (1 - a3)) @ net_values["W3"]
    assert_close(np.asarray(num.evaluate(net_values)), want_num)
    assert_close(np.asarray(den.evaluate(net_values)), want_num.T)
