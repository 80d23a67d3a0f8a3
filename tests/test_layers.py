"""The layers of current networks (issue 21, SPEC "Layers"): implicit expansion (a bias on a batch),
reductions by row and column, softmax and logsumexp along a dimension — each evaluated against
NumPy and differentiated against finite differences in every layout, compiled for every backend."""

from __future__ import annotations

import numpy as np
import pytest

from numerics import ALL_LAYOUTS, assert_derivative, md, random_values, rng_for

SHAPES = {"W": (3, 4), "X": (4, 5), "Y": (3, 5), "b": (3,), "c": (5,), "Z": (3, 5), "u": (3,), "v": (5,)}


def _softmax(Z, axis):
    e = np.exp(Z - Z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(Z, axis):
    top = Z.max(axis=axis, keepdims=True)
    return np.squeeze(top + np.log(np.exp(Z - top).sum(axis=axis, keepdims=True)), axis=axis)


CASES = [
    # expression, NumPy, the inputs it differentiates by
    ("W*X + b", lambda v: v["W"] @ v["X"] + v["b"][:, None], ["W", "b"]),
    ("b + W*X", lambda v: v["b"][:, None] + v["W"] @ v["X"], ["b"]),
    ("Z - c'", lambda v: v["Z"] - v["c"][None, :], ["c"]),
    ("u + v'", lambda v: v["u"][:, None] + v["v"][None, :], ["u", "v"]),
    ("Z.*u", lambda v: v["Z"] * v["u"][:, None], ["Z", "u"]),
    ("Z./(1 + u.^2)", lambda v: v["Z"] / (1 + v["u"][:, None] ** 2), ["u"]),
    ("sum(Z, 1)", lambda v: v["Z"].sum(0)[None, :], ["Z"]),
    ("sum(Z, 2)", lambda v: v["Z"].sum(1), ["Z"]),
    ("mean(Z)", lambda v: v["Z"].mean(), ["Z"]),
    ("mean(Z, 1)", lambda v: v["Z"].mean(0)[None, :], ["Z"]),
    ("mean(Z, 2)", lambda v: v["Z"].mean(1), ["Z"]),
    ("softmax(Z, 1)", lambda v: _softmax(v["Z"], 0), ["Z"]),
    ("softmax(Z, 2)", lambda v: _softmax(v["Z"], 1), ["Z"]),
    ("logsumexp(Z, 1)", lambda v: _logsumexp(v["Z"], 0)[None, :], ["Z"]),
    ("logsumexp(Z, 2)", lambda v: _logsumexp(v["Z"], 1), ["Z"]),
    ("Z - mean(Z, 1)", lambda v: v["Z"] - v["Z"].mean(0, keepdims=True), ["Z"]),
    ("0.5*sum((W*X + b - Y).^2)", lambda v: 0.5 * ((v["W"] @ v["X"] + v["b"][:, None] - v["Y"]) ** 2).sum(),
     ["W", "b"]),
    ("mean((W*X - Y).^2)", lambda v: ((v["W"] @ v["X"] - v["Y"]) ** 2).mean(), ["W"]),
    ("-sum(sum(Y.*log(softmax(W*X + b, 1))))",
     lambda v: -(v["Y"] * np.log(_softmax(v["W"] @ v["X"] + v["b"][:, None], 0))).sum(), ["W", "b"]),
    ("sum(logsumexp(Z, 2) - sum(Z.*Y, 2))", lambda v: (_logsumexp(v["Z"], 1) - (v["Z"] * v["Y"]).sum(1)).sum(),
     ["Z"]),
]


def _values(expression: str) -> dict:
    rng = rng_for(expression)
    return {name: rng.standard_normal(shape) for name, shape in SHAPES.items()}


@pytest.mark.parametrize("expression, numpy_value, wrt", CASES, ids=[c[0] for c in CASES])
def test_a_layer_evaluates_as_numpy_and_differentiates_in_every_layout(expression, numpy_value, wrt):
    values = _values(expression)
    used = {name: SHAPES[name] for name in SHAPES if name in md.infer_shapes(expression, SHAPES)}
    got = np.asarray(md.evaluate(expression, {n: values[n] for n in used}, shapes=used))
    want = np.asarray(numpy_value(values))
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-10, atol=1e-12)
    for name in wrt:
        assert_derivative(expression, name, used, layouts=ALL_LAYOUTS, values={n: values[n] for n in used})


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_a_network_with_biases_on_a_batch_compiles_its_backward_pass(backend):
    program = "A1 = tanh(W1*X + b1); 0.5*sum((W2*A1 + b2 - Y).^2)"
    shapes = {"W1": (4, 3), "b1": (4,), "W2": (2, 4), "b2": (2,), "X": (3, 6), "Y": (2, 6)}
    rng = rng_for(program)
    values = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    g = md.gradients(program, shapes=shapes, wrt=["W1", "b1", "W2", "b2"])
    loss, gradients = g.compile(backend)(**values)
    assert float(np.asarray(loss)) == pytest.approx(float(md.evaluate(program, values, shapes=shapes)), rel=1e-12)
    for name in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(np.asarray(gradients[name]), g[name].evaluate(values), rtol=1e-9, atol=1e-12)
    A1 = np.tanh(values["W1"] @ values["X"] + values["b1"][:, None])
    G = values["W2"] @ A1 + values["b2"][:, None] - values["Y"]
    np.testing.assert_allclose(np.asarray(gradients["b2"]), G.sum(axis=1), rtol=1e-9)


@pytest.mark.parametrize("expression, shapes, caret", [
    ("ones(5)'.*Y", {"Y": (5, 3)}, 8),
    ("x + A", {"x": (5,), "A": (3, 3)}, 2),
    ("W*X + b", {"W": (3, 4), "X": (4, 5), "b": (4,)}, 4),
    ("A + B", {"A": (2, 3), "B": (3, 2)}, 2),
])
def test_shapes_that_do_not_expand_are_refused_with_the_caret(expression, shapes, caret):
    with pytest.raises(md.ShapeError) as caught:
        md.diff(expression, wrt=sorted(shapes)[0], shapes=shapes)
    assert caught.value.position == caret
    assert "implicit expansion repeats only a dimension of size 1" in str(caught.value)


def test_a_symbolic_dimension_is_never_taken_to_be_one():
    with pytest.raises(md.ShapeError):
        md.diff("A + B", wrt="A", shapes={"A": ("m", "n"), "B": ("k", "n")})


@pytest.mark.parametrize("expression, message", [
    ("sum(Z, 3)", "dimension of sum(X, dimension) is 1"),
    ("mean(Z, k)", "dimension of mean(X, dimension) is 1"),
    ("softmax(Z, 1, 2)", "takes 1 or 2 arguments"),
])
def test_a_bad_dimension_argument_says_what_it_may_be(expression, message):
    with pytest.raises(md.MatdiffError, match=message.replace("(", r"\(").replace(")", r"\)")):
        md.evaluate(expression, {"Z": np.ones((2, 3))})


def test_a_batch_of_symbolic_size_works_through_every_route():
    shapes = {"W": (3, 4), "X": (4, "N"), "Y": (3, "N"), "b": (3,)}
    d = md.diff("mean((W*X + b - Y).^2)", wrt="b", shapes=shapes, layout="gradient")
    rng = rng_for("symbolic batch")
    values = {"W": rng.standard_normal((3, 4)), "X": rng.standard_normal((4, 7)), "Y": rng.standard_normal((3, 7)),
              "b": rng.standard_normal(3)}
    G = values["W"] @ values["X"] + values["b"][:, None] - values["Y"]
    want = 2 * G.sum(axis=1) / G.size
    np.testing.assert_allclose(d.evaluate(values), want, rtol=1e-10)
    np.testing.assert_allclose(d.compile("numpy")(**values), want, rtol=1e-10)
    assert d.text is not None
    np.testing.assert_allclose(np.ravel(md.evaluate(d.text, values, shapes=shapes)), want, rtol=1e-10)


@pytest.mark.parametrize("expression, wrt, printed", [
    ("0.5*sum((W*X + b - Y).^2)", "b", "sum(W*X + b - Y, 2)"),  # Goodfellow et al. §6.5: the bias sums the batch
    ("0.5*sum((W*X + b - Y).^2)", "W", "(W*X + b - Y)*X'"),
    ("0.5*sum((X'*W' + c' - Y').^2)", "c", "sum(W*X + c - Y, 2)"),
])
def test_a_bias_prints_as_the_literature_writes_it(expression, wrt, printed):
    shapes = {"W": (3, 4), "X": (4, "N"), "Y": (3, "N"), "b": (3,), "c": (3,)}
    used = {name: shape for name, shape in shapes.items() if name in md.infer_shapes(expression, shapes)}
    assert md.diff(expression, wrt=wrt, shapes=used, layout="gradient").text == printed


CROSS_ENTROPY = "-sum(sum(Y.*log(softmax(W*X))))"
CE_SHAPES = {"W": (3, 4), "X": (4, 5), "Y": (3, 5)}


def test_softmax_cross_entropy_with_one_hot_targets_is_checked_as_the_textbook_writes_it():
    """assume={"Y": "onehot"}: every column of Y sums to 1, so ∂/∂W is (softmax(W*X) - Y)*X'
    (Bishop §4.3.4); without the assumption that claim is wrong for general Y."""
    claim = "(softmax(W*X) - Y)*X'"
    assert md.check(CROSS_ENTROPY, wrt="W", claim=claim, shapes=CE_SHAPES, layout="gradient",
                    assume={"Y": "onehot"}).correct
    verdict = md.check(CROSS_ENTROPY, wrt="W", claim=claim, shapes=CE_SHAPES, layout="gradient")
    assert not verdict.correct and verdict.kind == "needs_assumption"
    assert "if Y is onehot" in verdict.diagnosis and "--assume Y=onehot" in verdict.diagnosis
    assert md.diff(CROSS_ENTROPY, wrt="W", shapes=CE_SHAPES, layout="gradient", assume={"Y": "onehot"}).text == claim
    assert md.gradients(CROSS_ENTROPY, shapes=CE_SHAPES, wrt=["W"], assume={"Y": "onehot"}).text == f"dW = {claim}"
    rows = "-sum(sum(Y.*log(softmax(X'*W', 2))))"
    assert md.check(rows, wrt="W", claim="(softmax(X'*W', 2) - Y)'*X'", shapes={"W": (3, 4), "X": (4, 5), "Y": (5, 3)},
                    layout="gradient", assume={"Y": "rows_onehot"}).correct


ROWS_SHAPES = {"W": (3, 2), "X": (5, 3), "G": (5, 2), "Y": (5, 2)}


@pytest.mark.parametrize("expression, assume, printed", [
    # Bishop §4.3.4 with the classes along rows: S' .* (1 ./ S')' cancels once the transposes are lifted
    ("-sum(sum(Y.*log(softmax(X*W, 2))))", {"Y": "rows_onehot"}, "X'*(softmax(X*W, 2) - Y)"),
    # a softmax by rows is bound by rows, as written, and used untransposed
    ("sum(sum(softmax(X*W, 2).*G))", {}, "S = softmax(X*W, 2); X'*(S.*(G - sum(G.*S, 2)))"),
    ("sum(sum(logsumexp(X*W, 2)))", {}, "X'*softmax(X*W, 2)"),
])
def test_a_softmax_by_rows_prints_by_rows(expression, assume, printed):
    d = md.diff(expression, wrt="W", shapes=ROWS_SHAPES, layout="gradient", assume=assume or None)
    assert d.text == printed
    values = random_values(ROWS_SHAPES, rng_for(expression))
    if assume:
        values["Y"] = np.eye(2)[rng_for("rows").integers(0, 2, 5)]
    np.testing.assert_allclose(np.reshape(md.evaluate(d.text, values, shapes=ROWS_SHAPES), (3, 2)),
                               d.evaluate(values), rtol=1e-10)


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_a_target_that_is_not_one_hot_is_refused_where_it_is_assumed(backend):
    rng = rng_for("onehot")
    values = {"W": rng.standard_normal((3, 4)), "X": rng.standard_normal((4, 5)), "Y": rng.uniform(0, 1, (3, 5))}
    with pytest.raises(md.ValueMismatchError, match="do not sum to 1"):
        md.evaluate(CROSS_ENTROPY, values, shapes=CE_SHAPES, assume={"Y": "onehot"})
    d = md.diff(CROSS_ENTROPY, wrt="W", shapes=CE_SHAPES, layout="gradient", assume={"Y": "onehot"})
    with pytest.raises(ValueError, match="do not sum to 1"):
        d.compile(backend)(**values)
    one_hot = np.eye(3)[:, [0, 2, 1, 1, 0]]
    got = np.asarray(d.compile(backend)(**{**values, "Y": one_hot}))
    Z = values["W"] @ values["X"]
    S = np.exp(Z - Z.max(axis=0)) / np.exp(Z - Z.max(axis=0)).sum(axis=0)
    np.testing.assert_allclose(got, (S - one_hot) @ values["X"].T, rtol=1e-9)


def test_row_and_column_sums_print_as_sums_in_latex():
    """No 𝟏 vector in the page's math: the bias's gradient is the sum over the batch's columns."""
    shapes = {"W": (2, 3), "X": (3, 4), "b": (2,), "Y": (2, 4), "c": (4,)}
    latex = md.diff("0.5*sum((W*X + b - Y).^2)", wrt="b", shapes=shapes, layout="gradient").latex
    assert latex == r"\sum_{j} \left(W X + b - Y\right)_{:,j}"
    rows = md.diff("0.5*sum((X'*W' + b' - Y').^2)", wrt="W", shapes=shapes, layout="gradient").latex
    assert r"\mathbf{1}" not in rows


def test_the_sympy_bridge_reads_expansion_and_row_sums():
    """sum(W*X + b - Y, 2) as SymPy matrix expressions: b·1ᵀ for the expansion, ·1 for the row sums."""
    sympy = pytest.importorskip("sympy")
    shapes = {"W": (2, 3), "X": (3, 4), "b": (2,), "Y": (2, 4)}
    d = md.diff("0.5*sum((W*X + b - Y).^2)", wrt="b", shapes=shapes, layout="gradient")
    rng = rng_for("sympy bias")
    values = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    symbols = {sympy.MatrixSymbol(name, shape[0], shape[1] if len(shape) == 2 else 1): sympy.Matrix(values[name])
               for name, shape in shapes.items()}
    got = np.array(d.to_sympy().subs(symbols).doit(), dtype=float).ravel()
    np.testing.assert_allclose(got, d.evaluate(values), rtol=1e-10)
    column_means = md.diff("sum(sum(mean(Z, 1).*C))", wrt="Z", shapes={"Z": (3, 4), "C": (1, 4)}, layout="gradient")
    assert column_means.to_sympy() is not None


@pytest.mark.parametrize("expression, shapes, expected", [
    ("M = Z - mean(Z, 1); S = sqrt(mean(M.^2, 1) + 0.001); N = M./S; sum(sum(N.*G))",
     {"Z": (4, 3), "G": (4, 3)}, "mean(Z, 1)"),
    ("M = Z - mean(Z, 2); S = sqrt(mean(M.^2, 2) + 0.001); N = M./S; sum(sum(N.*G))",
     {"Z": (3, 4), "G": (3, 4)}, "mean(Z, 2)"),
    ("0.5*sum((W*X + b - Y).^2)/6", {"W": (3, 4), "X": (4, 6), "Y": (3, 6), "b": (3,)}, "mean(W*X + b - Y, 2)"),
])
def test_a_sum_scaled_by_one_over_its_count_prints_as_a_mean(expression, shapes, expected):
    """0.25*sum(Z, 1) over 4 rows is mean(Z, 1), as the normalisations are written (issue 21); the
    printed form still evaluates to the derivative."""
    wrt = "b" if "b" in shapes else "Z"
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout="gradient")
    assert expected in d.text and "0.25*sum" not in d.text and "ones(4)*ones(4)'" not in d.text
    rng = np.random.default_rng(5)
    values = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    np.testing.assert_allclose(md.evaluate(d.text, values, shapes=shapes), d.evaluate(values), rtol=1e-10)
