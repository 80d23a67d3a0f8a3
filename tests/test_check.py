"""md.check: verdicts, diagnoses and the numbers behind them, on the seed questions and beyond."""

from __future__ import annotations

import numpy as np
import pytest

from numerics import assert_close, md, random_values

SEED1 = "W2*W1*h"
SEED1_SHAPES = {"W2": (1, 2), "W1": (2, 2), "h": (2,)}
SEED2_SHAPES = {"A": (1, 3), "B": (3, 2)}
NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NETWORK_SHAPES = {"x": (2,), "W2": (3, 2), "W3": (2, 3), "y": (2,)}
DELTA3 = "(a3 - y).*a3.*(1 - a3)"


def answer_is_the_derivative(verdict, expression, wrt, shapes, layout):
    """The verdict's printed answer evaluates to md.diff's numbers (when it is matrix notation)."""
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    assert tuple(verdict.answer_shape) == tuple(d.shape)
    if d.text is None:
        assert verdict.answer == d.index
        return
    values = random_values({k: v for k, v in shapes.items()}, np.random.default_rng(5), expr=expression)
    got = np.asarray(md.evaluate(verdict.answer, values, shapes=shapes), dtype=float)
    expected = d.evaluate(values)
    assert got.size == expected.size
    assert_close(got.reshape(expected.shape), expected)
    assert verdict.answer in str(verdict)


# ----- seed 1 -------------------------------------------------------------------------------------------


def test_seed1_chain_rule_answer_has_a_shape_error_and_the_tensor_hint():
    verdict = md.check(SEED1, wrt="W1", claim="W2*h'", shapes=SEED1_SHAPES)
    assert (verdict.correct, verdict.kind, verdict.exit_code) == (False, "shape_error", 1)
    assert "cannot multiply 1×2 by 1×2" in verdict.diagnosis
    assert verdict.caret == "W2*h'\n  ^"
    assert "∂u1/∂W1" in verdict.hint and "2×2×2" in verdict.hint
    answer_is_the_derivative(verdict, SEED1, "W1", SEED1_SHAPES, "numerator")
    text = str(verdict)
    assert "✗ wrong (shape error)" in text and "correct answer (numerator layout, 2×2): h*W2" in text


def test_seed1_transposed_answer_is_the_denominator_layout():
    verdict = md.check(SEED1, wrt="W1", claim="W2'*h'", shapes=SEED1_SHAPES, layout="numerator")
    assert verdict.kind == "other_layout" and verdict.layouts[0] == "denominator" and "gradient" in verdict.layouts
    assert "transposes of each other" in verdict.diagnosis
    right = md.check(SEED1, wrt="W1", claim="W2'*h'", shapes=SEED1_SHAPES, layout="denominator")
    assert right.correct and right.kind == "correct" and right.exit_code == 0


def test_seed1_right_answer_in_numerator_layout():
    verdict = md.check(SEED1, wrt="W1", claim="h*W2", shapes=SEED1_SHAPES)
    assert verdict.correct and verdict.exit_code == 0 and "✓ correct" in str(verdict)
    assert verdict.claim_shape == (2, 2)


def test_simply_wrong_claim_gets_an_integer_counterexample():
    verdict = md.check(SEED1, wrt="W1", claim="h*W2 + W2'*h'", shapes=SEED1_SHAPES)  # no one slip explains it
    assert verdict.kind == "wrong" and verdict.counterexample is not None
    example = verdict.counterexample
    values = {name: np.asarray(v, dtype=float) for name, v in example.values.items()}
    assert all(np.array_equal(v, np.round(v)) for v in values.values()), "small integers, checkable by hand"
    expected = md.diff(SEED1, wrt="W1", shapes=SEED1_SHAPES).evaluate(values)
    claimed = md.evaluate("h*W2 + W2'*h'", values, shapes=SEED1_SHAPES)
    assert_close(np.asarray(example.expected), expected)
    assert_close(np.asarray(example.claimed), claimed)
    assert not np.allclose(expected, claimed)
    assert "counterexample:" in str(verdict)


def test_wrong_shape_and_unknown_name_and_parse_error():
    shape = md.check(SEED1, wrt="W1", claim="h", shapes=SEED1_SHAPES)
    assert shape.kind == "wrong_shape" and "2×2" in shape.diagnosis and shape.claim_shape == (2,)
    unknown = md.check(SEED1, wrt="W1", claim="Q*h", shapes=SEED1_SHAPES)
    assert unknown.kind == "unknown_name" and "Q" in unknown.diagnosis
    broken = md.check(SEED1, wrt="W1", claim="h*(W2", shapes=SEED1_SHAPES)
    assert broken.kind == "parse_error" and broken.exit_code == 1 and broken.caret.endswith("^")


# ----- seed 2: ∂C/∂B is not Aᵀ --------------------------------------------------------------------------


def test_seed2_A_transpose_is_the_backprop_factor():
    verdict = md.check("A*B", wrt="B", claim="A'", shapes=SEED2_SHAPES)
    assert verdict.kind == "vjp" and not verdict.correct
    assert "∂L/∂B = A'*G" in verdict.diagnosis
    assert "order-4 tensor 1×2×3×2" in verdict.diagnosis and "kron(eye(2), A)" in verdict.diagnosis
    assert verdict.backprop_form.startswith("∂L/∂B = A'*G")
    assert tuple(verdict.answer_shape) == (1, 2, 3, 2)
    # the backprop form's numbers: ∂L/∂B for L = sum(G.*(A*B))
    rng = np.random.default_rng(0)
    values = {"A": rng.standard_normal((1, 3)), "B": rng.standard_normal((3, 2)), "G": rng.standard_normal((1, 2))}
    assert_close(md.evaluate("A'*G", values),
                 md.diff("sum(G.*(A*B))", wrt="B", layout="gradient").evaluate(values))


def test_seed2_claims_with_G_and_in_the_vec_layout():
    with_g = md.check("A*B", wrt="B", claim="A'*G", shapes=SEED2_SHAPES)
    assert with_g.kind == "vjp" and "backprop" in with_g.diagnosis
    vec = md.check("A*B", wrt="B", claim="kron(eye(2), A)", shapes=SEED2_SHAPES)
    assert vec.kind == "other_layout" and vec.layouts == ("vec",)
    right = md.check("A*B", wrt="B", claim="kron(eye(2), A)", shapes=SEED2_SHAPES, layout="vec")
    assert right.correct


def test_symbolic_sizes_dA_is_G_times_B_transpose():
    shapes = {"A": ("m", "n"), "B": ("n", "p")}
    verdict = md.check("A*B", wrt="A", claim="B'", shapes=shapes)
    assert verdict.kind == "vjp" and "G*B'" in verdict.backprop_form and "(m×p)" in verdict.backprop_form
    assert tuple(verdict.answer_shape) == ("m", "p", "m", "n")


# ----- seed 3: the network, in the denominator layout -----------------------------------------------------


def test_seed3_last_layer_gradient_is_right_in_denominator_layout():
    claim = f"({DELTA3})*a2'"
    right = md.check(NETWORK, wrt="W3", claim=claim, shapes=NETWORK_SHAPES, layout="denominator")
    assert right.correct and right.answer_shape == (2, 3)
    other = md.check(NETWORK, wrt="W3", claim=claim, shapes=NETWORK_SHAPES, layout="numerator")
    assert other.kind == "other_layout" and other.layouts[0] == "denominator"
    assert "numerator layout, 3×2" in str(other)


def test_seed3_second_layer_product_has_the_questions_shape_error():
    claim = f"({DELTA3})*W3*ones(3)*x'"  # the question's 2×1 2×3 3×1 1×2
    verdict = md.check(NETWORK, wrt="W2", claim=claim, shapes=NETWORK_SHAPES, layout="denominator")
    assert verdict.kind == "shape_error" and "2×3" in verdict.diagnosis
    fixed = f"((W3'*({DELTA3})).*a2.*(1 - a2))*x'"
    assert md.check(NETWORK, wrt="W2", claim=fixed, shapes=NETWORK_SHAPES, layout="denominator").correct
    assert md.check(NETWORK, wrt="W2", claim=fixed, shapes=NETWORK_SHAPES, layout="gradient").correct


# ----- more diagnoses --------------------------------------------------------------------------------------


def test_transpose_in_no_layout():
    verdict = md.check("s*A", wrt="s", claim="A'", shapes={"s": (), "A": (2, 2)})
    assert verdict.kind == "transpose"


def test_quadratic_form_with_symbolic_sizes():
    shapes = {"x": ("n",), "A": ("n", "n")}
    assert md.check("x'*A*x", wrt="x", claim="(A + A')*x", shapes=shapes, layout="denominator").correct
    assert md.check("x'*A*x", wrt="x", claim="x'*(A + A')", shapes=shapes, layout="numerator").correct
    wrong = md.check("x'*A*x", wrt="x", claim="2*A*x", shapes=shapes, layout="denominator")
    assert wrong.kind == "needs_assumption"  # right only for a symmetric A
    layout = md.check("x'*A*x", wrt="x", claim="(A + A')*x", shapes=shapes, layout="numerator")
    assert layout.kind == "other_layout"


def test_claims_under_log_det_and_inverse():
    shapes = {"X": (3, 3)}
    assert md.check("logdet(X)", wrt="X", claim="inv(X)'", shapes=shapes, layout="denominator").correct
    assert md.check("logdet(X)", wrt="X", claim="inv(X)", shapes=shapes, layout="numerator").correct
    assert md.check("logdet(X)", wrt="X", claim="inv(X)", shapes=shapes, layout="denominator").kind == "other_layout"


def test_hessian_claim():
    verdict = md.check("x'*A*x", wrt=("x", "x"), claim="A + A'", shapes={"x": (3,), "A": (3, 3)})
    assert verdict.correct
    assert md.check("x'*A*x", wrt=("x", "x"), claim="2*A", shapes={"x": (3,), "A": (3, 3)}).kind == "needs_assumption"  # right for a symmetric A


def test_bad_input_raises():
    with pytest.raises(md.MatdiffError):
        md.check("W2*W1*", wrt="W1", claim="h*W2")
    with pytest.raises(md.MatdiffError):
        md.check(SEED1, wrt="W1", claim="h*W2", shapes=SEED1_SHAPES, layout="diagonal")
    with pytest.raises(md.MatdiffError):
        md.check(SEED1, wrt="W1", claim="  ", shapes=SEED1_SHAPES)
    with pytest.raises(md.MatdiffError):
        md.check(SEED1, wrt="nothing", claim="h", shapes=SEED1_SHAPES)


def test_verdict_as_json_for_the_web_page():
    data = md.check(SEED1, wrt="W1", claim="h*W2", shapes=SEED1_SHAPES).to_dict()
    assert data["correct"] is True and data["kind"] == "correct" and "text" in data
    wrong = md.check(SEED1, wrt="W1", claim="h*W2 + W2'*h'", shapes=SEED1_SHAPES).to_dict()
    assert wrong["correct"] is False and wrong["counterexample"]["values"]


def test_a_check_too_large_to_draw_is_refused_at_once():
    """Issue 26: x of 10⁸ entries once took 5.5 s and 1.6 GB before failing; 10⁹ through the API, 15 GB."""
    for size in (100_000_000, 10 ** 9):
        with pytest.raises(md.LimitError, match="more than the limit"):
            md.check("x'*x", wrt="x", claim="2*x'", shapes={"x": (size,)})
