"""check's diagnoses (matdiff.tools.diagnoses): each record of the table recognises a realistic slip,
and a repair it proposes is proven right by numbers."""

from __future__ import annotations

import numpy as np
import pytest

from numerics import assert_close, md, random_values, rng_for
from matdiff.tools import checking
from matdiff.tools.diagnoses import DIAGNOSES, TRIALS, trials

NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); f = 0.5*sum((a3 - y).^2)"
NETWORK_SHAPES = {"x": (2,), "W2": (3, 2), "W3": (2, 3), "y": (2,)}
DELTA3 = "(a3 - y).*a3.*(1 - a3)"
SQUARES = {"A": (3, 3), "B": (3, 3), "x": (3,), "b": (3,)}

# kind -> (expression, wrt, claim, shapes, layout, assume, a phrase the diagnosis must hold)
SLIPS = {
    "other_layout": ("W2*W1*h", "W1", "W2'*h'", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator", None,
                     "denominator layout"),
    "transpose": ("s*A", "s", "A'", {"s": (), "A": (2, 2)}, "numerator", None, "transpose of the derivative"),
    "convention": ("tr(A*S)", "S", "0.5*(A + A')", None, "gradient", {"S": "symmetric"}, "symmetric convention"),
    "needs_assumption": ("x'*S*x", "x", "2*S*x", None, "gradient", None, "if S is symmetric"),
    "vjp": ("A*B", "B", "A'", {"A": (1, 3), "B": (3, 2)}, "numerator", None, "∂L/∂B = A'*G"),
    "sign": (NETWORK, "W3", "((y - a3).*a3.*(1 - a3))*a2'", NETWORK_SHAPES, "gradient", None, "minus the derivative"),
    "factor_of_two": ("x'*A*x + 0.5*sum(x.^2)", "x", "A*x + x", None, "gradient", {"A": "symmetric"},
                      "2*A*x + x in place of A*x + x"),
    "missing_factor": (NETWORK, "W2", f"(W3'*({DELTA3}))*x'", NETWORK_SHAPES, "gradient", None,
                       "missing the factor a2.*(1 - a2), the derivative of sigmoid at z2"),
    "extra_factor": (NETWORK, "W3", f"({DELTA3}.*a3)*a2'", NETWORK_SHAPES, "gradient", None,
                     "the factor a3 does not belong"),
    "missing_transpose": ("0.5*sum((A*B*x - b).^2)", "x", "(A*B)*(A*B*x - b)", SQUARES, "gradient", None,
                          "a missing transpose: (A*B)' in place of A*B"),
    "reversed_order": ("tr(A*X*B)", "X", "B'*A'", {"A": (3, 3), "X": (3, 3), "B": (3, 3)}, "gradient", None,
                       "factors in reversed order: A'*B' in place of B'*A'"),
    "wrong_shape": ("W2*W1*h", "W1", "h", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator", None, "2×2"),
}


def test_every_diagnosis_in_the_table_has_a_realistic_slip_here():
    assert set(SLIPS) == {diagnosis.name for diagnosis in DIAGNOSES}
    assert all(diagnosis.slip and "\n" not in diagnosis.slip for diagnosis in DIAGNOSES)
    assert set(SLIPS) <= set(checking.KINDS)


@pytest.mark.parametrize("kind", list(SLIPS))
def test_each_diagnosis_names_its_slip(kind):
    expression, wrt, claim, shapes, layout, assume, phrase = SLIPS[kind]
    verdict = md.check(expression, wrt, claim, shapes=shapes, layout=layout, assume=assume)
    assert (verdict.correct, verdict.kind, verdict.exit_code) == (False, kind, 1), verdict.diagnosis
    assert phrase in verdict.diagnosis
    assert f"✗ wrong ({kind.replace('_', ' ')})" in str(verdict)
    if verdict.repair is not None:
        repaired_is_the_derivative(expression, wrt, verdict.repair, shapes, layout, assume)
        assert verdict.repair in str(verdict)


def repaired_is_the_derivative(expression, wrt, repair, shapes, layout, assume):
    """The proposed repair, evaluated after the program's assignments, has the derivative's numbers."""
    derivative = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout, assume=assume)
    inputs = md.infer_shapes(expression, shapes, assume=assume)
    hints = {name: structure for name, structure in (assume or {}).items()}
    values = random_values(inputs, rng_for(repair), hint=hints, expr=expression)
    assignments = expression.rsplit(";", 1)[0] + "; " if ";" in expression else ""
    got = np.asarray(md.evaluate(assignments + repair, values, shapes=inputs), dtype=float)
    expected = derivative.evaluate(values)
    assert_close(got.reshape(expected.shape), expected)


def test_the_students_forgotten_sigma_prime_is_named_and_repaired():
    """The issue's claim: ∂f/∂W2 of the 2-3-2 network without σ'(z2)."""
    claim = f"(W3'*({DELTA3}))*x'"
    verdict = md.check(NETWORK, "W2", claim, shapes=NETWORK_SHAPES, layout="gradient")
    assert verdict.kind == "missing_factor"
    assert verdict.diagnosis == "missing the factor a2.*(1 - a2), the derivative of sigmoid at z2"
    assert verdict.repair == f"((W3'*({DELTA3})).*a2.*(1 - a2))*x'"
    repaired_is_the_derivative(NETWORK, "W2", verdict.repair, NETWORK_SHAPES, "gradient", None)
    row = md.check(NETWORK, "W2", f"x*({DELTA3})'*W3", shapes=NETWORK_SHAPES)  # the numerator layout's chain
    assert row.kind == "missing_factor"
    assert row.diagnosis == "missing the factor (a2.*(1 - a2))', the derivative of sigmoid at z2"
    repaired_is_the_derivative(NETWORK, "W2", row.repair, NETWORK_SHAPES, "numerator", None)
    tanh = "z = W*x; a = tanh(z); 0.5*sum((a - y).^2)"
    forgotten = md.check(tanh, "W", "(a - y)*x'", shapes={"W": (2, 3)}, layout="gradient")
    assert forgotten.kind == "missing_factor" and "the derivative of tanh at z" in forgotten.diagnosis


def test_a_transpose_that_mends_a_shape_error_is_named_with_the_shape_error():
    verdict = md.check("sum((W*x - y).^2)", "W", "2*(W*x - y)*x", shapes={"W": (2, 3)}, layout="gradient")
    assert verdict.kind == "missing_transpose" and "x' in place of x" in verdict.diagnosis
    assert "shape error" in verdict.diagnosis and verdict.caret is not None
    repaired_is_the_derivative("sum((W*x - y).^2)", "W", verdict.repair, {"W": (2, 3)}, "gradient", None)
    network = md.check(NETWORK, "W2", f"((W3*({DELTA3})).*a2.*(1 - a2))*x'", shapes=NETWORK_SHAPES,
                       layout="gradient")
    assert network.kind == "missing_transpose" and "W3' in place of W3" in network.diagnosis
    unmendable = md.check("W2*W1*h", "W1", "W2*h'", shapes={"W2": (1, 2), "W1": (2, 2), "h": (2,)})
    assert unmendable.kind == "shape_error" and unmendable.repair is None


def test_the_search_keeps_to_its_budget(monkeypatch):
    """A long wrong claim: no more numerical comparisons than the budget allows, then plainly wrong."""
    tried = []
    agrees = checking.Check.agrees
    monkeypatch.setattr(checking, "SECONDS", 600.0)  # the count, not the backstop clock, must stop it

    def counted(self, value):
        result = agrees(self, value)
        tried.append(result)
        return result

    monkeypatch.setattr(checking.Check, "agrees", counted)
    claim = " + ".join(f"{k}*(W3'*({DELTA3}).*a2)*x'" for k in range(1, 12))
    verdict = md.check(NETWORK, "W2", claim, shapes=NETWORK_SHAPES, layout="gradient")
    assert verdict.kind == "wrong" and verdict.counterexample is not None
    compared = [result for result in tried if result is not None]
    assert len(compared) == trials(NETWORK, claim) and tried[-1] is None  # the budget stopped it, and held
    assert 0 < trials(NETWORK, claim) < TRIALS == trials(NETWORK, "x")  # fewer trials for a longer claim
    assert trials("x" * 100_000, "x") == 0


@pytest.mark.parametrize("text", ["(W3'*((a3 - y).*a3.*(1 - a3)))*x'", "a - (b + c)", "-(a + b)*c", "(A*B)'",
                                  "2*(a*b)*c", "a^-1", "(-a)^2", "tr(A*B) + 1", "1./x", "x.^2'"])
def test_repaired_claims_print_back_as_they_parse(text):
    """The repairs are shown as text: unparse gives back the same tree, parenthesized only as needed."""
    from matdiff.language.syntax import parse, unparse

    assert unparse(parse(text).statements[-1].value) == text
