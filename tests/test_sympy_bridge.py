"""SymPy interop: ``md.from_sympy`` and ``Derivative.to_sympy``, checked by numbers.

Every conversion is checked by evaluating both sides at random points: the SymPy side with
explicit matrices substituted for the MatrixSymbols, the matdiff side with ``md.evaluate``.
The last tests pin down the documented comparison (docs/sympy.md): what SymPy 1.14 answers
for ∂ log det(X)/∂X and for a 2-layer sigmoid network, and that matdiff's answers are right.
"""

from __future__ import annotations

import numpy as np
import pytest

sp = pytest.importorskip("sympy")

import matdiff as md  # noqa: E402
from numerics import ALL_LAYOUTS, assert_derivative  # noqa: E402

n = 3
X = sp.MatrixSymbol("X", n, n)
A = sp.MatrixSymbol("A", n, n)
B = sp.MatrixSymbol("B", n, 2)
x = sp.MatrixSymbol("x", n, 1)
y = sp.MatrixSymbol("y", n, 1)
a = sp.Symbol("a")
_d = sp.Dummy("d")
SIGMOID = sp.Lambda(_d, 1 / (1 + sp.exp(-_d)))


def _values(shapes: dict, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in shapes.items():
        if len(shape) == 2 and shape[0] == shape[1]:
            values[name] = 2 * np.eye(shape[0]) + 0.3 * rng.standard_normal(shape)  # invertible, det > 0
        else:
            values[name] = 0.5 + rng.random(shape) if shape else float(0.5 + rng.random())
    return values


def _sympy_number(expression, values: dict):
    """A SymPy (matrix) expression at explicit values, as a float array (a column as a vector)."""
    replacements = {}
    for symbol in expression.free_symbols:
        value = values[symbol.name]
        if isinstance(symbol, sp.MatrixSymbol):
            replacements[symbol] = sp.ImmutableMatrix(np.asarray(value).reshape(symbol.shape))
        else:
            replacements[symbol] = sp.Float(value)
    result = expression.xreplace(replacements)
    if getattr(result, "is_Matrix", False):
        array = np.array(sp.N(result.as_explicit().doit()).tolist(), dtype=float)
    else:
        array = np.array(float(sp.N(result.doit())), dtype=float)
    if array.ndim == 2 and array.shape[1] == 1:
        return array[:, 0]
    return array


# ----- from_sympy ----------------------------------------------------------------------------------

FROM_SYMPY = {
    "quadratic form": x.T * A * x,
    "least squares": (B.T * x - sp.MatrixSymbol("c", 2, 1)).T * (B.T * x - sp.MatrixSymbol("c", 2, 1)),
    "log det": sp.log(sp.Determinant(X)),
    "trace": sp.Trace(A * X.T * X),
    "inverse": sp.Inverse(X) * x,
    "power": sp.MatPow(X, 3),
    "hadamard": sp.HadamardProduct(x, y),
    "hadamard power": sp.HadamardPower(x, 3),
    "kronecker": sp.KroneckerProduct(A, X),
    "scalar mix": 2 * a * x + sp.Rational(1, 2) * A * x - y,
    "identity": X + sp.Identity(n),
    "ones": sp.OneMatrix(n, n) * x,
    "exp entrywise": x.applyfunc(sp.exp),
    "sigmoid network": (sp.MatrixSymbol("W", 2, n) * (A * x).applyfunc(SIGMOID)).applyfunc(SIGMOID),
    "lambda body": (A * x).applyfunc(sp.Lambda(_d, _d**2 + 3 * _d)),
    "scalar functions": sp.exp(a) * sp.sin(a) + sp.sqrt(a),
    "determinant": sp.Determinant(X) * sp.Trace(X),
}


@pytest.mark.parametrize("name", FROM_SYMPY)
def test_from_sympy_text_evaluates_like_sympy(name):
    expression = FROM_SYMPY[name]
    text, shapes = md.from_sympy(expression)
    values = _values(shapes)
    ours = np.asarray(md.evaluate(text, values, shapes=shapes), dtype=float)
    theirs = _sympy_number(expression, values)
    np.testing.assert_allclose(ours.reshape(theirs.shape), theirs, rtol=1e-10, err_msg=text)


def test_from_sympy_gives_shapes_md_diff_takes():
    pair = md.from_sympy(x.T * A * x)
    assert pair.text == "((x)'*A*x)" and pair.shapes == {"x": (3,), "A": (3, 3)}
    assert md.diff(pair.text, wrt="x", shapes=pair.shapes, layout="gradient").text == "(A + A')*x"


def test_from_sympy_keeps_symbolic_dimensions():
    m = sp.Symbol("m")
    text, shapes = md.from_sympy(sp.MatrixSymbol("W", m, 2) * sp.MatrixSymbol("h", 2, 1))
    assert shapes == {"W": ("m", 2), "h": (2,)}
    assert md.diff(text, wrt="h", shapes=shapes).shape == ("m", 2)


@pytest.mark.parametrize("expression", [sp.Matrix([[1, 2]]), X[0, 1] * a, sp.MatrixSymbol("X{1}", 2, 2),
                                        sp.MatrixSymbol("Z", sp.Symbol("k") + 1, 2), sp.Sum(a, (a, 1, 3))])
def test_from_sympy_refuses_what_the_language_cannot_say(expression):
    with pytest.raises(md.MatdiffError):
        md.from_sympy(expression)


def test_from_sympy_refuses_non_sympy_input():
    with pytest.raises(md.MatdiffError):
        md.from_sympy("x'*A*x")


def test_from_sympy_refuses_a_symbol_used_with_two_shapes():
    with pytest.raises(md.MatdiffError):
        md.from_sympy(sp.Trace(sp.MatrixSymbol("V", 2, 2)) + sp.Trace(sp.MatrixSymbol("V", 3, 3)))


# ----- to_sympy ------------------------------------------------------------------------------------------

TO_SYMPY = [
    ("x'*A*x", "x", {"x": (3,), "A": (3, 3)}, "gradient"),
    ("x'*A*x", "A", {"x": (3,), "A": (3, 3)}, "denominator"),
    ("W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator"),
    ("logdet(X)", "X", {"X": (3, 3)}, "denominator"),
    ("tr(inv(X)*A)", "X", {"X": (3, 3), "A": (3, 3)}, "denominator"),
    ("sum(sigmoid(W*x))", "W", {"W": (2, 3), "x": (3,)}, "gradient"),
    ("0.5*sum((sigmoid(W2*sigmoid(W1*x)) - y).^2)", "W1",
     {"W2": (1, 2), "W1": (2, 2), "x": (2,), "y": (1,)}, "gradient"),
    ("A*B", "B", {"A": (2, 3), "B": (3, 2)}, "vec"),
    ("exp(x).*x", "x", {"x": (3,)}, "numerator"),
    ("norm2(A*x - y)", "x", {"A": (2, 3), "x": (3,), "y": (2,)}, "gradient"),
    ("det(X)*a", "X", {"X": (2, 2), "a": ()}, "denominator"),
]


@pytest.mark.parametrize("expression, wrt, shapes, layout", TO_SYMPY)
def test_to_sympy_evaluates_to_the_derivative(expression, wrt, shapes, layout):
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    values = _values(shapes, seed=1)
    converted = d.to_sympy()
    theirs = _sympy_number(converted, values)
    ours = np.asarray(d.evaluate(values), dtype=float)
    np.testing.assert_allclose(theirs.reshape(ours.shape), ours, rtol=1e-9, atol=1e-12, err_msg=str(converted))


def test_to_sympy_uses_matrix_symbols_with_symbolic_sizes():
    d = md.diff("x'*A*x", wrt="x", shapes={"x": ("n",), "A": ("n", "n")}, layout="gradient")
    converted = d.to_sympy()
    names = {s.name: s for s in converted.free_symbols}
    assert isinstance(names["A"], sp.MatrixSymbol) and str(names["A"].shape) == "(n, n)"
    assert converted.shape[1] == 1


def test_to_sympy_of_a_tensor_derivative_is_a_matdiff_error():
    d = md.diff("A*B", wrt="B", shapes={"A": (2, 3), "B": (3, 2)}, layout="jacobian")
    with pytest.raises(md.MatdiffError, match="vec"):
        d.to_sympy()


def test_round_trip_sympy_matdiff_sympy():
    expression = sp.Trace(A * sp.Inverse(X))
    text, shapes = md.from_sympy(expression)
    d = md.diff(text, wrt="X", shapes=shapes, layout="denominator")
    back = d.to_sympy()
    values = _values(shapes, seed=2)
    expected = -np.linalg.inv(values["X"]).T @ values["A"].T @ np.linalg.inv(values["X"]).T  # Cookbook (63)
    np.testing.assert_allclose(_sympy_number(back, values), expected, rtol=1e-9)


# ----- the documented comparison (docs/sympy.md) ----------------------------------------------------------

NETWORK_SHAPES = {"W2": (2, 4), "W1": (4, 3), "x": (3,), "y": (2,)}
NETWORK = "0.5*sum((sigmoid(W2*sigmoid(W1*x)) - y).^2)"


def test_matdiff_log_det_gradient_is_inverse_transpose():
    d = md.diff("logdet(X)", wrt="X", shapes={"X": (3, 3)}, layout="denominator")
    assert d.text == "inv(X)'"
    assert_derivative("logdet(X)", "X", {"X": (3, 3)}, ALL_LAYOUTS, hint={"X": "posdet"})


def test_matdiff_differentiates_the_two_layer_sigmoid_network():
    d = md.diff(NETWORK, wrt="W1", shapes=NETWORK_SHAPES, layout="gradient")
    assert d.text is not None and "sigmoid" in d.text
    assert_derivative(NETWORK, "W1", NETWORK_SHAPES, ("gradient", "denominator"))


@pytest.mark.skipif(sp.__version__ != "1.14.0", reason="documents SymPy 1.14.0's answers")
def test_sympy_1_14_says_the_log_det_gradient_is_zero():
    answer = sp.log(sp.Determinant(X)).diff(X)
    assert answer == 0 or isinstance(answer, sp.ZeroMatrix), answer


@pytest.mark.skipif(sp.__version__ != "1.14.0", reason="documents SymPy 1.14.0's answers")
def test_sympy_1_14_cannot_differentiate_the_two_layer_sigmoid_network():
    W1, W2 = sp.MatrixSymbol("W1", 4, 3), sp.MatrixSymbol("W2", 2, 4)
    xs, ys = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
    residual = (W2 * (W1 * xs).applyfunc(SIGMOID)).applyfunc(SIGMOID) - ys
    loss = sp.Rational(1, 2) * (residual.T * residual)
    with pytest.raises(ValueError):
        loss.diff(W1)
    # the same network, converted: matdiff differentiates what SymPy cannot
    text, shapes = md.from_sympy(loss)
    assert md.diff(text, wrt="W1", shapes=shapes, layout="gradient").text is not None


def test_from_sympy_pulls_transposes_out_so_the_network_shares_its_layers():
    """SymPy writes (f(W2*f(W1*x)))' as f(f(x'*W1')*W2'); converted as is, r'*r would name two
    different subexpressions and the derivative would hold every layer twice."""
    W1, W2 = sp.MatrixSymbol("W1", 4, 3), sp.MatrixSymbol("W2", 2, 4)
    xs, ys = sp.MatrixSymbol("x", 3, 1), sp.MatrixSymbol("y", 2, 1)
    residual = (W2 * (W1 * xs).applyfunc(SIGMOID)).applyfunc(SIGMOID) - ys
    text, shapes = md.from_sympy(residual.T * residual / 2)
    converted = md.diff(text, wrt="W1", shapes=shapes, layout="gradient")
    typed = md.diff(NETWORK, wrt="W1", shapes=NETWORK_SHAPES, layout="gradient")
    assert converted.text == typed.text and converted.text.count("sigmoid(W1*x)") == 1
    values = _values(shapes, seed=3)
    np.testing.assert_allclose(converted.evaluate(values), typed.evaluate(values), rtol=1e-10)
