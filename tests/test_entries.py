"""md.entries: the derivative entry by entry in the user's letters, checked symbolically and numerically."""

from __future__ import annotations

import numpy as np
import pytest

sympy = pytest.importorskip("sympy")

from numerics import assert_close, md, random_values  # noqa: E402

SEED1_NAMES = {"W1": "a b; c d", "W2": "e f", "h": "h1 h2"}


def S(names: str):
    return sympy.symbols(names)


def test_seed1_numerator_entries_in_the_questions_letters():
    result = md.entries("W2*W1*h", wrt="W1", names=SEED1_NAMES)
    a, b, c, d, e, f, h1, h2 = S("a b c d e f h1 h2")
    assert result.shape == (2, 2)
    assert result.matrix == sympy.Matrix([[e * h1, f * h1], [e * h2, f * h2]])  # = h*W2
    assert result.labels == [["∂y/∂a", "∂y/∂c"], ["∂y/∂b", "∂y/∂d"]]  # the question's own table
    text = str(result)
    assert "[ ∂y/∂a  ∂y/∂c ] = [ e*h1  f*h1 ]" in text


def test_seed1_denominator_is_the_transpose():
    result = md.entries("W2*W1*h", wrt="W1", names=SEED1_NAMES, layout="denominator")
    e, f, h1, h2 = S("e f h1 h2")
    assert result.matrix == sympy.Matrix([[e * h1, e * h2], [f * h1, f * h2]])
    assert result.labels == [["∂y/∂a", "∂y/∂b"], ["∂y/∂c", "∂y/∂d"]]


def test_seed2_vec_layout_is_2_by_6_and_numerator_is_fourth_order():
    names = {"A": "a1 a2 a3", "B": "b11 b12; b21 b22; b31 b32"}
    vec = md.entries("A*B", wrt="B", names=names, layout="vec")
    a1, a2, a3 = S("a1 a2 a3")
    assert vec.shape == (2, 6)
    assert vec.matrix == sympy.Matrix([[a1, a2, a3, 0, 0, 0], [0, 0, 0, a1, a2, a3]])
    assert vec.labels[0][:4] == ["∂Y[1,1]/∂b11", "∂Y[1,1]/∂b21", "∂Y[1,1]/∂b31", "∂Y[1,1]/∂b12"]
    numerator = md.entries("A*B", wrt="B", names=names)
    assert numerator.shape == (1, 2, 3, 2)
    assert numerator.values[0][1] == [[0, a1], [0, a2], [0, a3]]  # ∂C[1,2]/∂B: A' in the second column
    assert "[1, 2, :, :]" in str(numerator)
    with pytest.raises(md.MatdiffError):
        numerator.matrix


CASES = [
    ("W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator"),
    ("x'*A*x", "x", {"x": (3,), "A": (3, 3)}, "gradient"),
    ("sigmoid(W*x)", "W", {"W": (2, 2), "x": (2,)}, "numerator"),
    ("z = W1*x; a = relu(z); sum((W2*a - y).^2)", "W1", {"W1": (2, 2), "x": (2,), "W2": (1, 2), "y": (1,)},
     "denominator"),
    ("logdet(X) + tr(inv(X))", "X", {"X": (2, 2)}, "denominator"),
    ("det(X)*sqrt(x'*x)", "x", {"X": (2, 2), "x": (2,)}, "numerator"),
    ("kron(A, B)", "A", {"A": (2, 1), "B": (1, 2)}, "vec"),
    ("tanh(A)*exp(b)", "b", {"A": (2, 2), "b": ()}, "numerator"),
]


@pytest.mark.parametrize("expression,wrt,shapes,layout", CASES)
def test_entries_evaluate_to_the_derivative(expression, wrt, shapes, layout):
    result = md.entries(expression, wrt=wrt, shapes=shapes, layout=layout)
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    assert result.shape == tuple(d.shape)
    rng = np.random.default_rng(4)
    values = random_values(shapes, rng, expr=expression)
    if "X" in values:
        values["X"] = 2.0 * np.eye(2) + 0.3 * rng.standard_normal((2, 2))
    substitution = {}
    for name, rows in result.letters.items():
        flat = [letter for row in rows for letter in row]
        for letter, number in zip(flat, np.ravel(values[name])):
            substitution[sympy.Symbol(letter)] = float(number)
    functions = {"sigmoid": lambda t: 1 / (1 + sympy.exp(-t)), "relu": lambda t: sympy.Max(t, 0),
                 "step": lambda t: sympy.Heaviside(t, 0), "softplus": lambda t: sympy.log(1 + sympy.exp(t))}
    flat = np.asarray(result.values, dtype=object).reshape(-1)
    numbers = []
    for entry in flat:
        entry = sympy.sympify(entry)
        for name, function in functions.items():
            entry = entry.replace(sympy.Function(name), function)
        numbers.append(float(entry.subs(substitution).evalf()))
    assert_close(np.array(numbers).reshape(result.shape), d.evaluate(values), what=f"{expression} d/d{wrt}")


def test_default_letters_and_shapes_from_letters():
    result = md.entries("x'*A*x", wrt="x", shapes={"x": (2,)}, layout="gradient")
    assert result.letters == {"x": [["x1", "x2"]], "A": [["A11", "A12"], ["A21", "A22"]]}
    x1, x2, a11, a12, a21, a22 = S("x1 x2 A11 A12 A21 A22")
    assert sympy.expand(result.values[0] - (2 * a11 * x1 + a12 * x2 + a21 * x2)) == 0
    inferred = md.entries("W*v", wrt="v", names={"W": "p q r; s t u"})  # W 2×3 from the letters alone
    assert inferred.shape == (2, 3) and inferred.letters["v"] == [["v1", "v2", "v3"]]


def test_entries_errors():
    with pytest.raises(md.MatdiffError, match="concrete sizes"):
        md.entries("x'*A*x", wrt="x")
    with pytest.raises(md.MatdiffError, match="letters"):
        md.entries("W2*W1*h", wrt="W1", names={"W1": "a b; c"})
    with pytest.raises(md.MatdiffError, match="not an input"):
        md.entries("W2*W1*h", wrt="W1", names={**SEED1_NAMES, "Q": "q"})
    with pytest.raises(md.MatdiffError, match="vector"):
        md.entries("W2*W1*h", wrt="W1", names={**SEED1_NAMES, "h": "h1 h2; h3 h4"})


def test_entries_render_for_notebooks():
    result = md.entries("W2*W1*h", wrt="W1", names=SEED1_NAMES)
    assert result._repr_latex_().startswith("$$\\left[\\begin{matrix}e h_{1}")
    assert result.to_dict()["values"] == [["e*h1", "f*h1"], ["e*h2", "f*h2"]]


def test_latex_subscripts_of_numbered_names_are_unambiguous():
    """Entry (1,1) of W2 is (W_2)_{1,1}, not W_{2 11}; of A, A_{1,1}; of x2, (x_2)_1 (issue 16)."""
    latex = md.entries("W2*W1*h + x2'*A*x2", wrt="W1", shapes={"W2": (1, 2), "W1": (2, 2), "h": (2,),
                                                              "x2": (2,), "A": (2, 2)}).latex()
    assert r"\left(W_{2}\right)_{1,1}" in latex and "W_{2 11}" not in latex
    latex = md.entries("x2'*A*x2", wrt="x2", shapes={"x2": (2,), "A": (2, 2)}).latex()
    assert r"A_{1,2}" in latex and r"\left(x_{2}\right)_{1}" in latex
