"""Functions spelled out by hand (matdiff.engine.spelled): exp(z)./sum(exp(z)) is softmax(z) and
log(sum(exp(z))) is logsumexp(z), so their derivatives come out as the primitives' do.

Each rule is checked by number against NumPy's reading of the expression as written (not against
matdiff's own softmax), its derivatives against finite differences, and what it must leave alone
(a matrix, whose sum adds every entry; a different exponent) by number too."""

import numpy as np
import pytest

import matdiff as md
from matdiff.engine.spelled import RULES
from numerics import assert_close, assert_derivative

Z = np.array([0.3, -1.2, 2.0, 0.5])
W = np.arange(12.0).reshape(3, 4) / 10 - 0.5
X = np.array([0.2, -0.4, 1.0, 0.7])


def _softmax(t):
    e = np.exp(t - np.max(t))
    return e / e.sum()


# spelled form, the primitive it is, and what NumPy makes of the spelled form
SPELLED = [
    ("exp(z)./sum(exp(z))", "softmax(z)", lambda: np.exp(Z) / np.exp(Z).sum()),
    ("exp(z)/sum(exp(z))", "softmax(z)", lambda: np.exp(Z) / np.exp(Z).sum()),
    ("3*exp(z)/sum(exp(z))", "3*softmax(z)", lambda: 3 * np.exp(Z) / np.exp(Z).sum()),
    ("exp(W*x)/sum(exp(W*x))", "softmax(W*x)", lambda: np.exp(W @ X) / np.exp(W @ X).sum()),
    ("log(sum(exp(z)))", "logsumexp(z)", lambda: np.log(np.exp(Z).sum())),
    ("log(sum(exp(W*x)))", "logsumexp(W*x)", lambda: np.log(np.exp(W @ X).sum())),
]
SHAPES = {"z": (4,), "W": (3, 4), "x": (4,), "y": (3,)}
VALUES = {"z": Z, "W": W, "x": X, "y": np.array([0.2, 0.5, 0.3])}


def _used(expression: str) -> dict:
    return {name: shape for name, shape in SHAPES.items() if name in expression.replace("exp", "")}


def test_every_rule_is_named_and_stated():
    assert [rule.name for rule in RULES] == ["softmax-of-exp", "logsumexp-of-exp"]
    assert all("=" in (rule.apply.__doc__ or "") for rule in RULES)


@pytest.mark.parametrize("spelled, primitive, numpy_value", SPELLED, ids=[s for s, _, _ in SPELLED])
def test_spelled_value_is_the_expression_as_written(spelled, primitive, numpy_value):
    shapes = _used(spelled)
    values = {name: VALUES[name] for name in shapes}
    assert_close(md.evaluate(spelled, values, shapes=shapes), numpy_value(), what=spelled)


@pytest.mark.parametrize("spelled, primitive, numpy_value", SPELLED, ids=[s for s, _, _ in SPELLED])
@pytest.mark.parametrize("order", [1, 2])
def test_spelled_derivatives_are_the_primitives(spelled, primitive, numpy_value, order):
    shapes = _used(spelled)
    wrt = "x" if "x" in shapes else "z"
    if order == 2 and not spelled.startswith("log"):
        return  # a vector's second derivative has no matrix form in any layout
    wrts = wrt if order == 1 else (wrt, wrt)
    layout = "numerator" if order == 1 else "gradient"
    assert md.diff(spelled, wrt=wrts, shapes=shapes, layout=layout).text == \
        md.diff(primitive, wrt=wrts, shapes=shapes, layout=layout).text
    if order == 1:
        assert_derivative(spelled, wrt, shapes, layouts=("numerator", "vec"))


@pytest.mark.parametrize("loss", ["-y'*log(exp(W*x)/sum(exp(W*x)))", "-sum(y.*log(exp(W*x)./sum(exp(W*x))))",
                                  "log(sum(exp(W*x))) - y'*W*x"])
def test_cross_entropy_written_out(loss):
    shapes = _used(loss)
    d = md.diff(loss, wrt="W", shapes=shapes, layout="gradient")
    assert d.text in ("(sum(y)*softmax(W*x) - y)*x'", "(softmax(W*x) - y)*x'")
    assert_derivative(loss, "W", shapes, layouts=("gradient",))
    y = VALUES["y"]
    want = np.outer(y.sum() * _softmax(W @ X) - y, X)
    assert_close(d.evaluate(VALUES), want, what=loss)


def test_large_entries_do_not_overflow():
    """The primitive is computed the stable way: exp(1000) alone overflows, the quotient does not."""
    assert_close(md.evaluate("exp(z)./sum(exp(z))", {"z": [1000.0, 0.0]}, shapes={"z": (2,)}), [1.0, 0.0])
    assert_close(md.evaluate("log(sum(exp(z)))", {"z": [1000.0, 0.0]}, shapes={"z": (2,)}), 1000.0)


@pytest.mark.parametrize("expression, numpy_value", [
    ("exp(Z)./sum(exp(Z))", lambda z, y: np.exp(z) / np.exp(z).sum()),  # every entry, not column by column
    ("log(sum(exp(Z)))", lambda z, y: np.log(np.exp(z).sum())),
    ("exp(z)./sum(exp(y))", lambda z, y: np.exp(z) / np.exp(y).sum()),
    ("exp(2*z)./sum(exp(z))", lambda z, y: np.exp(2 * z) / np.exp(z).sum()),
])
def test_what_is_not_softmax_is_left_as_written(expression, numpy_value):
    z2 = np.arange(6.0).reshape(3, 2) / 4
    values = {"Z": z2, "z": Z[:3], "y": VALUES["y"]}
    shapes = {"Z": (3, 2), "z": (3,), "y": (3,)}
    used = {name: shapes[name] for name in shapes if name in expression.replace("exp", "")}
    value = md.evaluate(expression, {name: values[name] for name in used}, shapes=used)
    assert_close(np.ravel(value), np.ravel(numpy_value(values["Z"] if "Z" in used else values["z"], values["y"])))
    assert "softmax" not in (md.diff(expression, wrt=next(iter(used)), shapes=used).text or "")
    assert "logsumexp" not in (md.diff(expression, wrt=next(iter(used)), shapes=used).text or "")
