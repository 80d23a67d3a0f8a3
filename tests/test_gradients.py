"""md.gradients and `matdiff grads`: a scalar's gradient by every input from one backward pass.

Every gradient is checked against central finite differences; the printed backward pass (one
program over shared activations and deltas) is evaluated back, as a whole and gradient by gradient.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from numerics import assert_close, evaluate_value, finite_difference_jacobian, md, random_values, rng_for
from matdiff.engine import ir
from matdiff.engine.differentiate import jacobian, jacobians
from matdiff.engine.lowering import lower
from matdiff.language.syntax import parse

NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NETWORK_SHAPES = {"x": (2,), "W2": (3, 2), "W3": (2, 3), "y": (2,)}
RELU3 = "z1 = W1*x; a1 = relu(z1); z2 = W2*a1; a2 = tanh(z2); z3 = W3*a2; 0.5*sum((z3 - y).^2)"
RELU3_SHAPES = {"x": (3,), "W1": (4, 3), "W2": (5, 4), "W3": (2, 5), "y": (2,)}

PROGRAMS = [
    (NETWORK, NETWORK_SHAPES),
    (RELU3, RELU3_SHAPES),
    ("x'*A*x + u'*x", {"x": (3,), "A": (3, 3), "u": (3,)}),
    ("sum(exp(W*x)) + tr(A*B)", {"W": (2, 3), "x": (3,), "A": (2, 4), "B": (4, 2)}),
    ("p = softplus(X*w); sum(log(p)) + 0.5*c*norm2(w)^2", {"X": (4, 3), "w": (3,), "c": ()}),
]


def _values(expression, shapes):
    return random_values(shapes, rng_for(expression), expr=expression)


@pytest.mark.parametrize("expression,shapes", PROGRAMS)
def test_every_gradient_matches_finite_differences(expression, shapes):
    values = _values(expression, shapes)
    found = md.gradients(expression, shapes=shapes)
    assert list(found) == list(md.infer_shapes(expression, shapes))  # every input, in order of appearance
    for name, derivative in found.items():
        expected = finite_difference_jacobian(expression, name, values, shapes)
        got = np.asarray(derivative.evaluate(values), dtype=float)
        assert got.shape == np.shape(values[name]) == tuple(derivative.shape)
        assert_close(got, expected, what=f"∂/∂{name} of {expression}")
        assert derivative.layout == "gradient"


@pytest.mark.parametrize("expression,shapes", PROGRAMS)
def test_each_gradients_text_evaluates_to_its_numbers(expression, shapes):
    values = _values(expression, shapes)
    for name, derivative in md.gradients(expression, shapes=shapes).items():
        printed = evaluate_value(derivative.text, values, shapes)
        assert_close(printed.reshape(np.shape(values[name])), derivative.evaluate(values), what=derivative.text)


@pytest.mark.parametrize("expression,shapes", PROGRAMS)
def test_the_backward_pass_is_one_program_whose_statements_are_the_gradients(expression, shapes):
    values = _values(expression, shapes)
    found = md.gradients(expression, shapes=shapes)
    statements = [s.split(" = ", 1) for s in found.text.split("; ")]
    assigned = [name for name, _ in statements]
    assert len(assigned) == len(set(assigned)), "every name is assigned once"
    for name, derivative in found.items():
        gradient = found.names[name]
        position = assigned.index(gradient)  # each gradient is a statement of the pass ...
        prefix = "; ".join(" = ".join(s) for s in statements[:position + 1]) + f"; {gradient}"
        got = evaluate_value(prefix, values, shapes)  # ... computable from the statements before it
        assert_close(got.reshape(np.shape(values[name])), derivative.evaluate(values), what=prefix)
        # and each gradient's own text uses the same names for what it shares with the others
        for own in derivative.text.split("; ")[:-1]:
            assert own in found.text.split("; ")


def test_the_network_reads_as_the_textbook_backward_pass():
    found = md.gradients(NETWORK, shapes=NETWORK_SHAPES, wrt=["W3", "W2"])
    assert found.text == ("a2 = sigmoid(W2*x); a3 = sigmoid(W3*a2); dz3 = (a3 - y).*a3.*(1 - a3); dW3 = dz3*a2'; "
                          "dz2 = (W3'*dz3).*a2.*(1 - a2); dW2 = dz2*x'")
    assert list(found) == ["W3", "W2"]
    assert found["W2"].text.endswith("dz2*x'") and "dz3 = " in found["W2"].text
    assert r"\frac{\partial f}{\partial W_{2}} &= \mathrm{dz}_{2} x^{\top}" in found.latex


def test_gradients_agree_with_diff_in_the_gradient_layout():
    values = _values(RELU3, RELU3_SHAPES)
    for name, derivative in md.gradients(RELU3, shapes=RELU3_SHAPES).items():
        alone = md.diff(RELU3, wrt=name, shapes=RELU3_SHAPES, layout="gradient")
        assert_close(derivative.evaluate(values), alone.evaluate(values), what=name)


def test_one_reverse_pass_gives_the_same_gradients_as_one_pass_per_input():
    lowered = lower(parse(NETWORK), NETWORK_SHAPES)
    y = lowered.value.node
    inputs = tuple(v.node for v in lowered.variables.values())
    together = jacobians(y, inputs)
    assert all(t is jacobian(y, v) for t, v in zip(together, inputs))  # interned: the very same nodes
    unused = ir.var("Q", (2, 2))
    assert ir.is_zero(jacobians(y, (unused,))[0])


def test_wrt_narrows_and_orders_the_result():
    found = md.gradients(NETWORK, shapes=NETWORK_SHAPES, wrt="W2")
    assert list(found) == ["W2"] and found.text.endswith("dW2 = dz2*x'")
    assert list(md.gradients(NETWORK, shapes=NETWORK_SHAPES, wrt=("x", "W3", "x"))) == ["x", "W3"]


def test_a_gradient_name_never_takes_a_name_of_the_program():
    found = md.gradients("dW = W*x; sum(dW)", shapes={"W": (2, 3), "x": (3,)})
    assert found.names["W"] not in ("dW", "W", "x")
    values = _values("dW = W*x; sum(dW)", {"W": (2, 3), "x": (3,)})
    program = f"{found.text}; {found.names['x']}"
    assert_close(evaluate_value(program, values, {"W": (2, 3), "x": (3,)}), found["x"].evaluate(values))


@pytest.mark.parametrize("expression,wrt,message", [
    ("W*x", None, "gradients are of a scalar"),
    (NETWORK, "a2", "a2 is an intermediate"),
    (NETWORK, "Q", "Q does not occur"),
    (NETWORK, 3, "wrt must name"),
    ("x +* y", None, "unexpected"),
    ("2*3", None, "no inputs"),
])
def test_bad_requests_are_one_line_errors(expression, wrt, message):
    with pytest.raises(md.MatdiffError, match=message):
        md.gradients(expression, shapes=NETWORK_SHAPES if expression == NETWORK else None, wrt=wrt)


# ----- the command line ---------------------------------------------------------------------------------

NETWORK_ARGUMENTS = [NETWORK, "--shape", "W2=3x2", "--shape", "W3=2x3", "--shape", "x=2", "--shape", "y=2"]


def matdiff(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "matdiff.cli", *arguments], capture_output=True, text=True,
                          timeout=120)


def test_cli_grads_prints_the_backward_pass_one_statement_a_line():
    result = matdiff("grads", *NETWORK_ARGUMENTS, "--wrt", "W2", "--wrt", "W3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:6] == ["a2 = sigmoid(W2*x)", "a3 = sigmoid(W3*a2)", "dz3 = (a3 - y).*a3.*(1 - a3)",
                         "dW3 = dz3*a2'", "dz2 = (W3'*dz3).*a2.*(1 - a2)", "dW2 = dz2*x'"]
    assert lines[6] == "# gradient layout: dW2 3×2, dW3 2×3"
    values = _values(NETWORK, NETWORK_SHAPES)
    expected = md.diff(NETWORK, wrt="W2", shapes=NETWORK_SHAPES, layout="gradient").evaluate(values)
    assert_close(evaluate_value("\n".join(lines[:6] + ["dW2"]), values, NETWORK_SHAPES), expected)


def test_cli_grads_json_and_latex():
    body = json.loads(matdiff("grads", *NETWORK_ARGUMENTS, "--format", "json").stdout)
    assert set(body["gradients"]) == {"W2", "x", "W3", "y"}
    assert body["gradients"]["W3"]["shape"] == [2, 3] and body["gradients"]["W3"]["name"] == "dW3"
    assert body["text"] == md.gradients(NETWORK, shapes=NETWORK_SHAPES).text
    latex = matdiff("grads", *NETWORK_ARGUMENTS, "--format", "latex").stdout
    assert latex.startswith(r"\begin{aligned}") and r"\frac{\partial f}{\partial W_{3}}" in latex


def test_cli_grads_bad_input_exits_2():
    result = matdiff("grads", "W*x")
    assert result.returncode == 2 and result.stderr.startswith("error: gradients are of a scalar")
    assert "Traceback" not in result.stderr


# ----- the web app ---------------------------------------------------------------------------------------


def test_web_gradients_gives_one_result_per_variable():
    pytest.importorskip("starlette")
    pytest.importorskip("httpx")
    import warnings

    from starlette.testclient import TestClient

    from matdiff.web.server import create_app

    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    with TestClient(create_app(workers=1), base_url="http://localhost") as client:  # the guard wants a local Host
        body = client.post("/api/gradients", json={"expression": NETWORK, "inputs": ["W2", "W3"],
                                                   "shapes": {"W2": [3, 2], "W3": "2x3", "x": [2], "y": [2]}}).json()
        assert list(body["gradients"]) == ["W2", "W3"]
        assert re.search(r"dW2 = dz2\*x'$", body["text"])
        assert body["gradients"]["W2"]["shape"] == [3, 2]
        every = client.post("/api/gradients", json={"expression": "x'*A*x"}).json()
        assert set(every["gradients"]) == {"x", "A"}
        bad = client.post("/api/gradients", json={"expression": "W*x"})
        assert bad.status_code == 400 and "scalar" in bad.json()["error"]


def test_gradients_take_assumptions_as_diff_does():
    shapes = {"x": (3,), "S": (3, 3)}
    found = md.gradients("x'*S*x", shapes=shapes, assume={"S": "symmetric"})
    alone = md.diff("x'*S*x", wrt="x", shapes=shapes, layout="gradient", assume={"S": "symmetric"})
    assert found["x"].text == alone.text == "2*S*x"
    with pytest.raises(md.MatdiffError, match="convention"):
        md.gradients("x'*A*x", shapes={"x": (3,), "A": (3, 3)}, convention="symmetric")


def test_gradients_is_an_immutable_mapping_in_wrt_order():
    """Issue 23: a mutable dict subclass let a caller put anything in; a Mapping says what it is."""
    from collections.abc import Mapping

    g = md.gradients("sum(tanh(W*x + b))", shapes={"W": (2, 3), "x": (3,), "b": (2,)}, wrt=["b", "W"])
    assert isinstance(g, Mapping) and list(g) == ["b", "W"] and len(g) == 2
    with pytest.raises(TypeError):
        g["W"] = None  # type: ignore[index]
