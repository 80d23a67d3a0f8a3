"""The numerator layout and the backward pass speak of the same deltas (issue 15, item 2): a scalar's
numerator-layout derivative prints as its gradient transposed, over the deltas ``grads`` binds
(x*dz2' for dz2*x'), with a note saying so; and a claim may use the backward pass's names."""

from __future__ import annotations

import numpy as np
import pytest

from numerics import assert_close, assert_derivative, md, random_values, rng_for

NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); f = 0.5*sum((a3 - y).^2)"
NETWORK_SHAPES = {"x": (2,), "W2": (3, 2), "W3": (2, 3), "y": (2,)}
TWO_LAYERS = "a1 = tanh(W1*X); a2 = sigmoid(W2*a1); sum(sum((a2 - Y).^2))"
TWO_LAYERS_SHAPES = {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}


@pytest.mark.parametrize("expression, shapes, wrt, value", [
    (NETWORK, NETWORK_SHAPES, "W2", "x*dz2'"),
    (NETWORK, NETWORK_SHAPES, "W3", "a2*dz3'"),
    (NETWORK, NETWORK_SHAPES, "x", "dz2'*W2"),  # by a vector: a row
    (TWO_LAYERS, TWO_LAYERS_SHAPES, "W1", "2*X*dz1'"),
    (TWO_LAYERS, TWO_LAYERS_SHAPES, "W2", "2*a1*dz2'"),
])
def test_numerator_layout_prints_the_gradient_transposed_over_its_deltas(expression, shapes, wrt, value):
    numerator = md.diff(expression, wrt=wrt, shapes=shapes, layout="numerator")
    gradient = md.diff(expression, wrt=wrt, shapes=shapes, layout="gradient")
    bindings, _, last = numerator.text.rpartition("; ")
    assert last == value
    assert gradient.text.startswith(bindings + "; ")  # the same deltas, under the same names
    assert any("gradient transposed" in note and gradient.text.rpartition("; ")[2] in note
               for note in numerator.notes)
    assert_derivative(expression, wrt, shapes, layouts=["numerator"])  # the text's numbers, by differences
    values = random_values(shapes, rng_for(expression + wrt))
    transposed = np.asarray(gradient.evaluate(values)).T
    assert_close(np.asarray(md.evaluate(numerator.text, values, shapes=shapes)).reshape(transposed.shape),
                 transposed)


def test_a_derivative_without_deltas_prints_as_before_without_the_note():
    def transposed(derivative):
        return [note for note in derivative.notes if "gradient transposed" in note]

    quadratic = md.diff("x'*A*x", wrt="x")
    assert quadratic.text == "x'*(A + A')" and not transposed(quadratic)
    assert not transposed(md.diff(NETWORK, wrt="y", shapes=NETWORK_SHAPES))
    assert not transposed(md.diff(NETWORK, wrt="W2", shapes=NETWORK_SHAPES, layout="denominator"))


def test_the_cli_prints_the_note(capsys):
    from matdiff.cli import main

    shapes = [arg for name, shape in (("W2", "3x2"), ("W3", "2x3"), ("x", "2"), ("y", "2"))
              for arg in ("--shape", f"{name}={shape}")]
    assert main(["diff", NETWORK, "--wrt", "W2", *shapes]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("; x*dz2'") and out[1] == "# numerator layout, shape 2×3"
    assert out[2].startswith("# note: the numerator layout of a scalar's derivative is its gradient transposed")




@pytest.mark.parametrize("claim, layout", [
    ("x*dz2'", "numerator"),     # the backprop view's delta (`matdiff explain`)
    ("dz2*x'", "gradient"),
    ("x*dz2'", "numerator"),      # the delta as diff and grads print it
    ("dz2*x'", "gradient"),
    ("dW2'", "numerator"),       # the backprop view's gradient
    ("((W3'*dz3).*a2.*(1 - a2))*x'", "gradient"),
])
def test_claims_may_use_the_backward_pass_names(claim, layout):
    verdict = md.check(NETWORK, "W2", claim, shapes=NETWORK_SHAPES, layout=layout)
    assert verdict.correct, verdict.diagnosis  # equal to the derivative at random values
    assert "checked numerically" in verdict.diagnosis


def test_backward_pass_names_in_a_wrong_claim_are_diagnosed_too():
    """The names are bound to their numbers: the diagnoses compare them with the derivative's."""
    transposed = md.check(NETWORK, "W2", "x*dz2'", shapes=NETWORK_SHAPES, layout="gradient")
    assert transposed.kind == "other_layout"
    missing = md.check(NETWORK, "W2", "(W3'*dz3)*x'", shapes=NETWORK_SHAPES, layout="gradient")
    assert missing.kind == "missing_factor" and "a2.*(1 - a2)" in missing.diagnosis
    unknown = md.check(NETWORK, "W2", "x*dq'", shapes=NETWORK_SHAPES, layout="gradient")
    assert unknown.kind == "unknown_name" and "dq" in unknown.diagnosis and "dz2" in unknown.diagnosis


def test_cli_check_accepts_a_backprop_name(capsys):
    from matdiff.cli import main

    shapes = [arg for name, shape in (("W2", "3x2"), ("W3", "2x3"), ("x", "2"), ("y", "2"))
              for arg in ("--shape", f"{name}={shape}")]
    code = main(["check", NETWORK, "--wrt", "W2", *shapes, "--claim", "x*dz2'"])
    out = capsys.readouterr().out
    assert code == 0 and "✓ correct" in out and "dz2: ∂L/∂z2" in out
