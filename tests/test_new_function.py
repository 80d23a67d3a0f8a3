"""A new function is one record (issue 23): a made-up one, registered in this process, is known to every
route — parsing, numbers, derivatives, the matrix and LaTeX printers, the backward pass, generated
code, ``check``'s diagnoses and the web reference — with nothing else written for it.

The made-up function is a leaky rectifier, ``leaky(x)`` = x for x > 0, x/10 otherwise: an activation
(so its layer is named and its delta found) that is x itself for positive x (a fact ``check`` reads
to suggest an assumption).
"""

from __future__ import annotations

import numpy as np
import pytest

from numerics import assert_close, md

from matdiff.engine.functions import ENTRIES, FUNCTIONS, Function, register, unregister
from matdiff.engine.ir import add, apply, const, scale
from matdiff.engine.lowering import FUNCTION_NAMES

LEAKY = Function(
    "leaky", ENTRIES, lambda x: np.where(x > 0, x, 0.1 * x), r"\operatorname{leaky}\left({x}\right)",
    lambda sp, d: sp.Piecewise((d, d > 0), (d / 10, True)),
    {"numpy": "np.where({x} > 0, {x}, 0.1 * {x})", "jax": "jnp.where({x} > 0, {x}, 0.1 * {x})",
     "torch": "torch.where({x} > 0, {x}, 0.1 * {x})"},
    derivative=lambda x, y: add(const(0.1, x.shape), scale(0.9, apply("step", x))),
    short="k", activation=True, when_positive="x",
    reference=("leaky(X)", "leaky rectifier: x where x > 0, else x/10", "leaky(W*x)"))

SHAPES = {"W": (2, 3), "x": (3,), "y": (2,)}
LOSS = "sum((leaky(W*x) - y).^2)"
VALUES = {"W": np.array([[0.5, -1.0, 0.3], [1.2, 0.4, -0.7]]), "x": np.array([0.9, -0.6, 1.1]),
          "y": np.array([0.2, -0.3])}


@pytest.fixture(autouse=True)
def leaky():
    register(LEAKY)
    yield LEAKY
    unregister("leaky")


def _loss(W, x, y):
    z = W @ x
    return float(np.sum((np.where(z > 0, z, 0.1 * z) - y) ** 2))


def _finite_difference(name: str) -> np.ndarray:
    gradient = np.zeros_like(VALUES[name])
    for index in np.ndindex(gradient.shape):
        step = np.zeros_like(gradient)
        step[index] = 1e-6
        plus, minus = dict(VALUES), dict(VALUES)
        plus[name], minus[name] = VALUES[name] + step, VALUES[name] - step
        gradient[index] = (_loss(**plus) - _loss(**minus)) / 2e-6
    return gradient


def test_it_is_a_name_of_the_language_and_evaluates():
    assert "leaky" in FUNCTION_NAMES and "leaky" in sorted(FUNCTION_NAMES)
    assert_close(md.evaluate("leaky(x)", {"x": np.array([-1.0, 2.0])}), np.array([-0.1, 2.0]))
    assert md.infer_shapes("leaky(W*x)", SHAPES)


def test_its_derivative_matches_finite_differences_and_prints_in_both_forms():
    d = md.diff(LOSS, wrt="W", shapes=SHAPES, layout="gradient")
    assert_close(d.evaluate(VALUES), _finite_difference("W"))
    assert "leaky(W*x)" in d.text and "step(W*x)" in d.text
    assert r"\operatorname{leaky}\left(W x\right)" in d.latex


def test_the_backward_pass_names_its_layer_and_delta():
    network = "a1 = leaky(W1*x); a2 = leaky(W2*a1); sum((a2 - y).^2)"
    shapes = {"W1": (3, 3), "W2": (2, 3), "x": (3,), "y": (2,)}
    values = {"W1": np.array([[0.5, -1.0, 0.3], [1.2, 0.4, -0.7], [-0.2, 0.8, 0.6]]), "W2": VALUES["W"],
              "x": VALUES["x"], "y": VALUES["y"]}
    g = md.gradients(network, shapes=shapes)
    assert_close(g["W1"].evaluate(values), md.diff(network, wrt="W1", shapes=shapes, layout="gradient").evaluate(values))
    assert "a1 = leaky(W1*x)" in g.text
    assert "dz1 = (W2'*" in g.text and ".*(0.9*step(W1*x) + 0.1)" in g.text  # its derivative marks the delta


@pytest.mark.parametrize("backend", ["numpy"])
def test_generated_code_computes_it(backend):
    d = md.diff(LOSS, wrt="W", shapes=SHAPES, layout="gradient")
    source = d.code(backend)
    assert "np.where(" in source
    compiled = d.compile(backend)
    assert_close(np.asarray(compiled(**VALUES)), _finite_difference("W"))


def test_check_reads_its_facts():
    """A claim right only for positive inputs: the record says leaky(x) = x there, so check suggests it."""
    verdict = md.check("sum(leaky(x))", "x", "ones(3)", shapes={"x": (3,)}, layout="gradient")
    assert verdict.kind == "needs_assumption" and "positive" in verdict.diagnosis
    assert md.check("sum(leaky(x))", "x", "0.1 + 0.9*step(x)", shapes={"x": (3,)}, layout="gradient").correct


def test_the_web_reference_lists_it():
    pytest.importorskip("starlette")
    from starlette.testclient import TestClient

    from matdiff.web.server import create_app

    with TestClient(create_app(workers=1), base_url="http://localhost") as client:
        capabilities = client.get("/api/capabilities").json()
    assert "leaky" in capabilities["functions"]
    row = next(row for row in capabilities["reference"]["functions"] if row["syntax"] == "leaky(X)")
    assert row["meaning"].startswith("leaky rectifier") and row["example"] == "leaky(W*x)"


def test_unregistered_it_is_unknown_again(leaky):
    unregister("leaky")
    assert "leaky" not in FUNCTIONS and "leaky" not in FUNCTION_NAMES
    with pytest.raises(md.MatdiffError, match="unknown function leaky"):
        md.diff("sum(leaky(x))", wrt="x", shapes={"x": (3,)})
    register(LEAKY)
