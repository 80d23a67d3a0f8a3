"""md.explain and its backprop view: the steps, their shapes and the numbers behind every printed form.

The seeds (shared/seeds): y = W2·W1·h, where the chain rule's ∂u/∂W1 is a 2×2×2 tensor; C = A·B, whose
∂C/∂B is fourth order while backprop uses A'·G; a 2-3-2 sigmoid network whose layer gradients the textbook
writes in the denominator layout. Printed formulas are evaluated back and compared with md.diff.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from numerics import assert_close, md, random_values
from matdiff.engine import ir
from matdiff.engine.numeric import evaluate as evaluate_ir

SEED1 = "W2*W1*h"
SEED1_SHAPES = {"W2": (1, 2), "W1": (2, 2), "h": (2,)}
NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NETWORK_SHAPES = {"x": (2,), "W2": (3, 2), "W3": (2, 3), "y": (2,)}
RELU3 = ("z1 = W1*x; a1 = relu(z1); z2 = W2*a1; a2 = relu(z2); z3 = W3*a2\n"
         "0.5*sum((z3 - y).^2)")
RELU3_SHAPES = {"x": (3,), "W1": (4, 3), "W2": (5, 4), "W3": (2, 5), "y": (2,)}


def assignments(expression: str) -> list[str]:
    return [s.strip() for s in re.split(r"[;\n]", expression) if s.strip()][:-1]


def context(explanation) -> list[str]:
    """The user's assignments, then every step but the last as an assignment in the step names."""
    return assignments(explanation.expression) + [f"{s.name} = {s.formula}" for s in explanation.steps[:-1]]


def evaluate_in(explanation, text, values, shapes):
    return np.asarray(md.evaluate("; ".join(context(explanation) + [text]), values, shapes=shapes), dtype=float)


def as_matrix(array) -> np.ndarray:
    """How the language sees numbers: a scalar is 1×1, a vector a column."""
    array = np.asarray(array, dtype=float)
    return array.reshape(1, 1) if array.ndim == 0 else array.reshape(-1, 1) if array.ndim == 1 else array


def same_numbers(actual, expected, what=""):
    """Equal as the language sees them: a column n is n×1 (but never 1×n), nothing transposed."""
    actual, expected = as_matrix(actual), as_matrix(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} vs {expected.shape}"
    assert_close(actual, expected, what=what)


def intermediate_values(explanation, values, shapes) -> dict:
    """Every step's and every assignment's value, by name."""
    bound = dict(values)
    for statement in context(explanation):
        name = statement.split("=")[0].strip()
        program = "; ".join(context(explanation) + [name])
        value = np.asarray(md.evaluate(program, values, shapes=shapes), dtype=float)
        bound[name] = value
    return bound


# ----- seed 1: the chain rule through a 2×2×2 tensor --------------------------------------------------


def test_seed1_steps_are_u_then_y_with_a_third_order_local_derivative():
    e = md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES)
    assert [(s.name, s.formula, s.shape) for s in e.steps] == [("u1", "W1*h", (2,)), ("y", "W2*u1", (1,))]
    (du_dW1,) = e.steps[0].local
    assert (du_dW1.label, du_dW1.order, du_dW1.tensor_shape, du_dW1.matrix) == ("∂u1/∂W1", 3, (2, 2, 2), None)
    (dy_du,) = e.steps[1].local
    assert (dy_du.label, dy_du.shape, dy_du.matrix) == ("∂y/∂u1", (1, 2), "W2")
    assert e.steps[1].accumulated.shape == (2, 2)
    text = str(e)
    assert "order-3 tensor 2×2×2, no matrix form" in text
    assert "summing over u1's index" in str(md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES, verbose=True))
    assert "∂y/∂W1 = h*W2" in text


def test_seed1_chain_order_reverses_between_layouts():
    numerator = md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES, layout="numerator")
    denominator = md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES, layout="denominator")
    assert [f.label for f in numerator.chain] == ["∂y/∂u1", "∂u1/∂W1"]
    assert [f.label for f in denominator.chain] == ["∂u1/∂W1", "∂y/∂u1"]
    assert not numerator.chain_is_matrix_product and not denominator.chain_is_matrix_product
    assert [f.shape for f in denominator.chain] == [(2, 2, 2), (2, 1)]
    assert "left to right" in numerator.why_order and "(AB)' = B'A'" in numerator.why_order
    assert "right to left" in denominator.why_order and "(AB)' = B'A'" in denominator.why_order
    assert "shapes: 1×2 · (2×2×2 tensor)" in str(numerator)
    assert "shapes: (2×2×2 tensor) · 2×1" in str(denominator)


@pytest.mark.parametrize("layout", ["numerator", "denominator", "gradient"])
def test_seed1_result_numbers_match_diff(layout):
    e = md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES, layout=layout)
    values = random_values(SEED1_SHAPES, np.random.default_rng(1))
    d = md.diff(SEED1, wrt="W1", shapes=SEED1_SHAPES, layout=layout)
    got = d.evaluate(values)
    assert e.result == d.text and tuple(e.result_shape) == got.shape
    same_numbers(evaluate_in(e, e.result_named, values, SEED1_SHAPES), got, "result in the step names")
    expected = np.outer(values["h"], values["W2"][0]) if layout == "numerator" else np.outer(values["W2"][0],
                                                                                          values["h"])
    assert_close(got, expected)


# ----- every printed form evaluates to its numbers --------------------------------------------------------

CASES = [
    (SEED1, "W1", SEED1_SHAPES, "numerator"),
    (SEED1, "h", SEED1_SHAPES, "numerator"),
    (SEED1, "h", SEED1_SHAPES, "denominator"),
    (NETWORK, "W2", NETWORK_SHAPES, "numerator"),
    (NETWORK, "W2", NETWORK_SHAPES, "denominator"),
    (NETWORK, "W3", NETWORK_SHAPES, "gradient"),
    (NETWORK, "x", NETWORK_SHAPES, "numerator"),
    (NETWORK, "x", NETWORK_SHAPES, "denominator"),
    (RELU3, "W1", RELU3_SHAPES, "denominator"),
    (RELU3, "x", RELU3_SHAPES, "numerator"),
    ("x'*A*x", "x", {"x": (3,), "A": (3, 3)}, "numerator"),
    ("sum(exp(W*x)) + tr(W*W')", "W", {"W": (2, 3), "x": (3,)}, "denominator"),
    ("logdet(X) - tr(inv(X)*B)", "X", {"X": (3, 3), "B": (3, 3)}, "denominator"),
]


def _values(expression, shapes, seed=7):
    rng = np.random.default_rng(seed)
    values = random_values(shapes, rng, expr=expression)
    if "logdet" in expression:
        values["X"] = 3.0 * np.eye(3) + 0.3 * rng.standard_normal((3, 3))
    return values


@pytest.mark.parametrize("expression,wrt,shapes,layout", CASES)
def test_result_in_step_names_equals_diff(expression, wrt, shapes, layout):
    e = md.explain(expression, wrt=wrt, shapes=shapes, layout=layout)
    values = _values(expression, shapes)
    expected = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout).evaluate(values)
    assert e.result_named is not None
    same_numbers(evaluate_in(e, e.result_named, values, shapes), expected, f"{expression} d/d{wrt} {layout}")
    last = e.steps[-1].accumulated
    assert tuple(last.shape) == expected.shape


@pytest.mark.parametrize("expression,wrt,shapes,layout", CASES)
def test_every_local_and_accumulated_matrix_form_evaluates_to_its_tensor(expression, wrt, shapes, layout):
    e = md.explain(expression, wrt=wrt, shapes=shapes, layout=layout)
    values = _values(expression, shapes)
    bound = intermediate_values(e, values, shapes)
    for step in e.steps:
        for factor in step.local + (step.accumulated,):
            numbers = evaluate_ir(factor.arranged, bound, variables=ir.variables(factor.arranged))
            assert numbers.shape == tuple(factor.shape), factor
            if factor.matrix is not None:
                same_numbers(evaluate_in(e, factor.matrix, values, shapes), numbers,
                             f"{factor.label} = {factor.matrix} ({factor.layout})")


def test_engine_prints_denominator_scalar_by_vector_with_its_transpose():
    """∂(W2*u)/∂u in the denominator layout is the column W2' (a regression: it once printed the row W2)."""
    d = md.diff("W2*u", wrt="u", shapes={"W2": (1, 2), "u": (2,)}, layout="denominator")
    values = {"W2": np.array([[1.0, 2.0]]), "u": np.array([3.0, 4.0])}
    printed = np.asarray(md.evaluate(d.text, values))
    assert printed.size == 2 and printed.shape in ((2,), (2, 1)), f"{d.text!r} evaluates to {printed.shape}"
    assert_close(printed.reshape(2, 1), d.evaluate(values))


# ----- elementwise functions: diagonal Jacobians, Hadamard products ------------------------------------


def test_network_sigmoid_steps_are_diagonal_and_the_chain_is_a_matrix_product_for_a_vector():
    e = md.explain(NETWORK, wrt="x", shapes=NETWORK_SHAPES, layout="numerator")
    names = [s.name for s in e.steps]
    assert names[:4] == ["z2", "a2", "z3", "a3"]
    a2 = e.steps[1]
    assert a2.local[0].diagonal and a2.local[0].matrix.replace(" ", "") == "diag(a2.*(1-a2))"
    assert a2.local[0].shape == (3, 3)
    assert e.chain_is_matrix_product
    assert [f.label for f in e.chain][-2:] == ["∂a2/∂z2", "∂z2/∂x"]
    denominator = md.explain(NETWORK, wrt="x", shapes=NETWORK_SHAPES, layout="denominator")
    assert [f.label for f in denominator.chain][:2] == ["∂z2/∂x", "∂a2/∂z2"]
    assert "Hadamard product" in str(e)


def test_products_are_regrouped_so_the_variable_meets_its_neighbours_first():
    shapes = {"W3": (2, 3), "W2": (3, 4), "W1": (4, 5), "x": (5,)}
    e = md.explain("W3*W2*W1*x", wrt="W1", shapes=shapes)
    assert [s.formula for s in e.steps] == ["W1*x", "W3*W2*u1"]
    assert e.steps[0].local[0].tensor_shape == (4, 4, 5)


def test_intermediate_as_variable_gives_the_layer_delta():
    e = md.explain(NETWORK, wrt="z3", shapes=NETWORK_SHAPES, layout="denominator")
    assert e.steps[0].name == "a3" and e.variable_shape == (2,)
    values = _values(NETWORK, NETWORK_SHAPES)
    expected = md.diff(NETWORK, wrt="z3", shapes=NETWORK_SHAPES, layout="denominator").evaluate(values)
    assert expected.shape == (2, 1) and tuple(e.result_shape) == (2, 1)
    assert e.result_named is not None
    same_numbers(evaluate_in(e, e.result_named, values, NETWORK_SHAPES), expected, "the delta ∂L/∂z3")


# ----- backprop ---------------------------------------------------------------------------------------------


def backprop_program(view) -> str:
    return "; ".join(f"{g.symbol} = {g.formula}" for g in view.order)


def test_matrix_product_backprop_is_A_transpose_G_and_G_B_transpose():
    shapes = {"A": ("m", "n"), "B": ("n", "p")}
    view = md.explain("A*B", wrt="B", shapes=shapes).backprop
    assert view.seed is not None and view.seed.symbol == "G" and view.seed.shape == "m×p"
    assert view.gradient("B").formula == "A'*G" and view.gradient("B").shape == "n×p"
    assert view.gradient("A").formula == "G*B'" and view.gradient("A").shape == "m×n"
    (term,) = view.gradient("B").terms
    assert term.order == 4 and term.jacobian_shape == ("m", "p", "n", "p")
    rng = np.random.default_rng(3)
    values = {"A": rng.standard_normal((2, 3)), "B": rng.standard_normal((3, 4)), "G": rng.standard_normal((2, 4))}
    for name, formula in (("B", "A'*G"), ("A", "G*B'")):  # ∂L/∂X for L = sum(G.*(A*B)), so ∂L/∂(A*B) = G
        loss = md.diff("sum(G.*(A*B))", wrt=name, layout="gradient").evaluate(values)
        assert_close(md.evaluate(formula, values), loss)
    assert "order 4" in str(md.explain("A*B", wrt="B", shapes=shapes, verbose=True).backprop)
    assert "dA" not in str(view)  # the view shows the way back to B only


@pytest.mark.parametrize("expression,shapes,weights", [
    (NETWORK, NETWORK_SHAPES, ["W2", "W3"]),
    (RELU3, RELU3_SHAPES, ["W1", "W2", "W3"]),
])
def test_network_deltas_and_weight_gradients_match_diff(expression, shapes, weights):
    e = md.explain(expression, wrt=weights[0], shapes=shapes, layout="denominator")
    view = e.backprop
    assert view.seed is None
    values = _values(expression, shapes, seed=11)
    if "relu" in expression:  # away from the kinks
        values = {k: v + 0.1 * np.sign(v) for k, v in values.items()}
    program = "; ".join(assignments(expression) + [backprop_program(view)])
    for entry in view.order:
        got = np.asarray(md.evaluate(program + f"; {entry.symbol}", values, shapes=shapes), dtype=float)
        expected = md.diff(expression, wrt=entry.name, shapes=shapes, layout="gradient").evaluate(values)
        same_numbers(got, expected, f"{entry.symbol} = {entry.formula}")
    for weight in weights:
        gradient = view.gradient(weight)
        assert gradient.kind == "gradient"
        assert gradient.shape == "×".join(map(str, shapes[weight]))
        shown = f"d{weight} = ∂f/∂{weight}   {gradient.shape}" in str(view)
        assert shown == (weight == weights[0]), f"d{weight} is shown only when differentiated by"
    assert "dy =" not in str(view) and "dx =" not in str(view), "data has no gradient in the view"


def test_network_backprop_reads_as_the_textbook():
    view = md.explain(NETWORK, wrt="W2", shapes=NETWORK_SHAPES).backprop
    formulas = {g.symbol: (g.formula.replace(" ", ""), g.shape) for g in view.order}  # spacing is the printer's
    assert formulas["dz3"] == ("da3.*a3.*(1-a3)", "2×1")
    assert formulas["dW3"] == ("dz3*a2'", "2×3")
    assert formulas["da2"] == ("W3'*dz3", "3×1")
    assert formulas["dz2"] == ("da2.*a2.*(1-a2)", "3×1")
    assert formulas["dW2"] == ("dz2*x'", "3×2")
    delta_terms = view.gradient("z3").terms
    assert delta_terms[0].diagonal


# ----- the contract ---------------------------------------------------------------------------------------


def test_explain_errors_are_matdiff_errors():
    with pytest.raises(md.MatdiffError):
        md.explain("W2*W1*", wrt="W1")
    with pytest.raises(md.MatdiffError):
        md.explain(SEED1, wrt="Q", shapes=SEED1_SHAPES)
    with pytest.raises(md.MatdiffError):
        md.explain(SEED1, wrt=("W1", "W1"), shapes=SEED1_SHAPES)
    with pytest.raises(md.MatdiffError):
        md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES, layout="sideways")


def test_explanation_renders_for_terminal_and_notebook():
    from rich.console import Console

    e = md.explain(SEED1, wrt="W1", shapes=SEED1_SHAPES)
    console = Console(record=True, width=200)
    console.print(e)
    assert "order-3 tensor 2×2×2" in console.export_text()
    html = e._repr_html_()
    assert html.startswith("<pre") and "2×2×2" in html
    data = e.to_dict()
    assert data["steps"][0]["local"][0]["tensor_shape"] == [2, 2, 2]
    assert data["backprop"]["gradients"][0]["symbol"].startswith("d")


def test_the_explanation_as_json_holds_data_only():
    """A step's on-demand printer (a functools.partial) leaked into the web API's JSON with its
    memory address: output that differed on every run."""
    import json

    from matdiff.web import jobs

    status, body = jobs.run("section", {"expression": "W2*W1*h", "wrt": ["W1"], "layout": "numerator",
                                        "shapes": {"W1": [2, 2], "W2": [1, 2], "h": [2]}, "name": "explain"})
    text = json.dumps(body)
    assert status == 200 and "partial" not in text and " at 0x" not in text
