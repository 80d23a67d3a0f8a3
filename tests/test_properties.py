"""Property-based tests: random well-shaped expressions, differentiated and checked by FD.

Expressions are generated *by target shape*, so every one is shape-correct by
construction, over a fixed set of variables with concrete shapes. Domains are kept safe
by construction (log/sqrt/./ of positive forms, inv/det/logdet of X*X' + eye(n)), and
arguments of kinked functions (relu, abs, norm1, norm2) are checked to be away from
their kinks at the random point before comparing. Each example picks a variable that
occurs, a layout, and compares ``md.diff(...).evaluate`` with central finite differences
arranged by the independent layout table of tests/numerics.py.
"""

from __future__ import annotations

import re

import numpy as np
from hypothesis import HealthCheck, assume, example, given, note, settings
from hypothesis import strategies as st
from numerics import (
    ALL_LAYOUTS,
    arrange,
    evaluate_value,
    finite_difference_jacobian,
    is_scalar_shape,
    md,
    resolve_shape,
)

VARIABLES = {
    "a": (),
    "b": (),
    "x": (3,),
    "y": (3,),
    "z": (2,),
    "w": (6,),
    "A": (3, 3),
    "B": (3, 2),
    "C": (2, 3),
    "D": (2, 2),
}
ROWS = [(1, 3), (1, 2)]  # row vectors: no variable has this shape, they come from transposes
SHAPES = [(), (3,), (2,), (6,), (3, 3), (2, 2), (3, 2), (2, 3)] + ROWS
NUMBERS = ["2", "3", "0.5", "1.5", "0.25", "1e-1", "2.5e0"]
ELEMENTWISE_FREE = ["sin", "cos", "tanh", "sigmoid", "softplus"]  # safe on any real argument
MAX_DEPTH = 5


def _vars_of_shape(shape, extra):
    table = dict(VARIABLES)
    table.update(extra)
    return [n for n, s in table.items() if tuple(s) == tuple(shape)]


def _transposed(shape):
    return (shape[1], shape[0])


class Gen:
    """Builds an expression string of a given shape; records kinked arguments."""

    def __init__(self, draw, extra=None):
        self.draw = draw
        self.extra = dict(extra or {})
        # (kind, text): 'entries' (all entries away from 0: relu, abs, norm1), 'whole' (norm2's
        # argument not 0) or 'bounded' (exp's argument within ±50: no overflow or underflow inside)
        self.kinks = []

    # -- leaves ------------------------------------------------------------------------
    def leaf(self, shape):
        if shape in ROWS:  # the transpose of a column vector variable
            return self.draw(st.sampled_from(_vars_of_shape((shape[1],), self.extra))) + "'"
        names = _vars_of_shape(shape, self.extra)
        options = ["var"] * 4
        if shape == ():
            options.append("num")
        elif len(shape) == 2 and shape[0] == shape[1]:
            options.append("eye")
        if not names:
            options = [o for o in options if o != "var"]
        if not options:
            raise AssertionError(f"the generator reached shape {shape}, which has no variable")
        choice = self.draw(st.sampled_from(options))
        if choice == "var":
            return self.draw(st.sampled_from(names))
        if choice == "num":
            return self.draw(st.sampled_from(NUMBERS))
        return f"eye({shape[0]})"

    def positive(self, shape, depth):
        """An expression of ``shape`` with all entries > 0 (>= 1 for most forms)."""
        e = self.expr(shape, depth)
        kind = self.draw(st.sampled_from(["exp", "sq", "sig"]))
        if kind == "exp":
            self.kinks.append(("bounded", e))
            return f"exp({e})"
        if kind == "sig":
            return f"(sigmoid({e}) + 0.5)"
        if shape == ():
            return f"({e}^2 + 1)"
        return f"({e}.*{e} + 1)"

    def spd(self, n, depth):
        k = self.draw(st.sampled_from([2, 3]))
        e = self.expr((n, k), depth)
        return f"({e}*({e})' + eye({n}))"

    def scalar_for(self, depth):
        return self.expr((), depth)

    # -- composite -----------------------------------------------------------------------
    def expr(self, shape, depth):
        shape = tuple(shape)
        if depth <= 0 or self.draw(st.integers(0, 9)) < 2:
            return self.leaf(shape)
        d = depth - 1
        rules = ["unary_minus", "add", "sub", "scale", "elementwise_fn", "hadamard", "divide_elementwise",
                 "power_elementwise", "transpose"]
        if shape == ():
            rules += ["tr", "sum", "norm2", "norm1", "det", "logdet", "scalar_power", "divide_scalar",
                      "log", "sqrt", "exp", "relu", "abs", "tan", "sum_kron", "tr_kron", "dot"]
        else:
            rules += ["scalar_plus", "divide_scalar", "log", "sqrt", "exp", "relu", "abs", "tan"]
        if len(shape) == 2 or shape in ((3,), (2,)):
            rules += ["matmul"]
        if len(shape) == 2 and shape[0] == shape[1]:
            rules += ["inv", "matrix_power", "diag_of_vector"]
        if shape in ((3,), (2,)):
            rules += ["diag_of_matrix", "matvec"]
        if shape == (6,):
            rules += ["vec"]
        rule = self.draw(st.sampled_from(sorted(set(rules))))
        def E(s=shape):
            return self.expr(s, d)

        if rule == "unary_minus":
            return f"(-{E()})"
        if rule == "add":
            return f"({E()} + {E()})"
        if rule == "sub":
            return f"({E()} - {E()})"
        if rule == "scale":
            if self.draw(st.booleans()):
                return f"({self.scalar_for(d)}*{E()})"
            return f"({E()}*{self.scalar_for(d)})"
        if rule == "scalar_plus":
            s = self.scalar_for(d)
            return self.draw(st.sampled_from([f"({s} + {E()})", f"({E()} - {s})", f"({s} - {E()})"]))
        if rule == "elementwise_fn":
            f = self.draw(st.sampled_from(ELEMENTWISE_FREE))
            return f"{f}({E()})"
        if rule == "exp":
            arg = E()
            self.kinks.append(("bounded", arg))
            return f"exp({arg})"
        if rule == "tan":
            inner = self.draw(st.sampled_from(["sin", "tanh", "cos"]))
            return f"tan({inner}({E()}))"
        if rule in ("log", "sqrt"):
            return f"{rule}({self.positive(shape, d)})"
        if rule in ("relu", "abs"):
            arg = E()
            self.kinks.append(("entries", arg))
            return f"{rule}({arg})"
        if rule == "hadamard":
            return f"({E()} .* {E()})"
        if rule == "divide_elementwise":
            return f"({E()} ./ {self.positive(shape, d)})"
        if rule == "divide_scalar":
            return f"({E()} / {self.positive((), d)})"
        if rule == "power_elementwise":
            kind = self.draw(st.sampled_from(["int", "scalar_exp", "same_shape_exp"]))
            if kind == "int":
                return f"({E()} .^ {self.draw(st.sampled_from(['2', '3']))})"
            if kind == "scalar_exp":
                return f"({self.positive(shape, d)} .^ {self.scalar_for(d)})"
            return f"({self.positive(shape, d)} .^ {E()})"
        if rule == "transpose":
            if shape in ROWS:
                return f"({self.expr((shape[1],), d)})'"
            if len(shape) == 2:
                return f"({self.expr(_transposed(shape), d)})'"
            if shape == ():
                return f"({E()})'"
            return f"(({E()})')'"  # vector: transpose twice
        if rule == "matmul":
            inner = self.draw(st.sampled_from([2, 3]))
            if len(shape) == 2:
                return f"({self.expr((shape[0], inner), d)} * {self.expr((inner, shape[1]), d)})"
            # vector result
            return f"({self.expr((shape[0], inner), d)} * {self.expr((inner,), d)})"
        if rule == "matvec":
            n = shape[0]
            return f"({self.expr((n, n), d)} * {E()})"
        if rule == "tr":
            n = self.draw(st.sampled_from([2, 3]))
            return f"tr({self.expr((n, n), d)})"
        if rule == "sum":
            s = self.draw(st.sampled_from([x for x in SHAPES if x != ()]))
            return f"sum({self.expr(s, d)})"
        if rule in ("norm2", "norm1"):
            s = self.draw(st.sampled_from([x for x in SHAPES if x != ()]))
            arg = self.expr(s, d)
            self.kinks.append(("whole" if rule == "norm2" else "entries", arg))
            return f"{rule}({arg})"
        if rule in ("det", "logdet"):
            n = self.draw(st.sampled_from([2, 3]))
            return f"{rule}({self.spd(n, d)})"
        if rule == "inv":
            return f"inv({self.spd(shape[0], d)})"
        if rule == "scalar_power":
            kind = self.draw(st.sampled_from(["int", "real"]))
            if kind == "int":
                return f"({E()} ^ {self.draw(st.sampled_from(['2', '3']))})"
            return f"({self.positive((), d)} ^ {self.draw(st.sampled_from(['0.5', '1.5', '-1']))})"
        if rule == "matrix_power":
            return f"({E()} ^ {self.draw(st.sampled_from(['2', '3']))})"
        if rule == "diag_of_vector":
            return f"diag({self.expr((shape[0],), d)})"
        if rule == "diag_of_matrix":
            return f"diag({self.expr((shape[0], shape[0]), d)})"
        if rule == "vec":
            s = self.draw(st.sampled_from([(3, 2), (2, 3), (6,)]))
            return f"vec({self.expr(s, d)})"
        if rule == "sum_kron":
            s1 = self.draw(st.sampled_from([x for x in SHAPES if x != ()]))
            s2 = self.draw(st.sampled_from([x for x in SHAPES if len(x) == len(s1)]))
            return f"sum(kron({self.expr(s1, d)}, {self.expr(s2, d)}))"
        if rule == "tr_kron":
            return f"tr(kron({self.expr((2, 2), d)}, {self.expr((3, 3), d)}))"
        if rule == "dot":  # v'*u: a 1×1 product, a scalar for every purpose of the language
            n = self.draw(st.sampled_from([2, 3, 6]))
            if n in (2, 3) and self.draw(st.booleans()):
                return f"({self.expr((1, n), d)} * {self.expr((n,), d)})"
            return f"({self.expr((n,), d)}' * {self.expr((n,), d)})"
        raise AssertionError(rule)


@st.composite
def programs(draw):
    """(program text, kinked argument texts, (statements, final expression)).

    Up to two assignments come first (``t = S1; u = S2(t); E(t, u)``); statements is a
    list of (name, shape, text). Each assignment may use the earlier ones.
    """
    out_shape = draw(st.sampled_from(SHAPES))
    depth = draw(st.integers(1, MAX_DEPTH))
    count = draw(st.sampled_from([0, 0, 1, 2]))
    statements, extra, kinks = [], {}, []
    for name in ("t", "u")[:count]:
        shape = draw(st.sampled_from(SHAPES))
        g = Gen(draw, extra=extra)
        text = g.expr(shape, draw(st.integers(1, 3)))
        prefix = "".join(f"{n} = {x}; " for n, _, x in statements)
        kinks += [(kind, prefix + k) for kind, k in g.kinks]
        statements.append((name, shape, text))
        extra = dict(extra, **{name: shape})
    g = Gen(draw, extra=extra)
    final = g.expr(out_shape, depth)
    prefix = "".join(f"{n} = {x}; " for n, _, x in statements)
    kinks += [(kind, prefix + k) for kind, k in g.kinks]
    return prefix + final, kinks, (statements, final)


def _uses(name, text):
    return re.search(rf"(?<![A-Za-z_0-9]){name}(?![A-Za-z_0-9(])", text) is not None


def _intermediate_problem(statements, final, name, values, shapes):
    """The program as a function of the intermediate ``name``: (text, values, shapes, shape).

    The statements before ``name`` only use inputs; the ones after it (and the final
    expression) see ``name`` as an input whose value is what the program assigns.
    """
    index = [n for n, _, _ in statements].index(name)
    before = "".join(f"{n} = {x}; " for n, _, x in statements[:index])
    _, shape, text = statements[index]
    value = evaluate_value(before + text, values, shapes)
    rest = "".join(f"{n} = {x}; " for n, _, x in statements if n != name)
    new_values = dict(values, **{name: float(value) if shape == () else value.reshape(shape)})
    new_shapes = dict(shapes, **{name: shape})
    return rest + final, new_values, new_shapes, shape


def _value_at_safe_point(text, kinks, values, shapes):
    """The program's value, rejecting points that overflow or sit on a kink."""
    with np.errstate(all="ignore"):
        for kind, ktext in kinks:  # innermost first: each is checked before anything containing it
            kv = evaluate_value(ktext, values, shapes)
            if kind == "entries":
                assume(np.min(np.abs(kv), initial=1.0) > 1e-3)
            elif kind == "whole":
                assume(np.linalg.norm(kv) > 1e-3)
            else:
                assume(np.all(np.isfinite(kv)) and np.max(np.abs(kv), initial=0.0) < 50)
        y0 = evaluate_value(text, values, shapes)
        assume(np.all(np.isfinite(y0)) and np.max(np.abs(y0), initial=0.0) < 1e5)
    return y0


def _names(text):
    return set(re.findall(r"(?<![A-Za-z_0-9.])([A-Za-z_][A-Za-z_0-9]*)(?![A-Za-z_0-9]*\()", text))


def _compare(got, want, fd_again, ctx, rtol=1e-4, atol=1e-5):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{ctx}: shape {got.shape}, the layout table says {want.shape}"
    scale = max(1.0, float(np.max(np.abs(want))) if want.size else 1.0)
    if np.allclose(got, want, rtol=rtol, atol=atol * scale):
        return
    # before blaming the engine, make sure the finite differences themselves are stable
    want2 = np.asarray(fd_again(), dtype=np.float64)
    assume(np.allclose(want, want2, rtol=rtol / 10, atol=atol * scale / 10))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * scale, err_msg=ctx)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs(), seed=st.integers(0, 2**32 - 1), data=st.data())
@example(prog=("(x' * (A * x))", [], ([], "(x' * (A * x))")), seed=1, data=None)
@example(prog=("sum(sigmoid((C * x)) .* z)", [], ([], "sum(sigmoid((C * x)) .* z)")), seed=2, data=None)
@example(prog=("t = (B * z); u = sigmoid(t); norm2(t + u)", [("whole", "t = (B * z); u = sigmoid(t); t + u")],
               ([("t", (3,), "(B * z)"), ("u", (3,), "sigmoid(t)")], "norm2(t + u)")), seed=3, data=None)
def test_random_expression_derivative_matches_finite_differences(prog, seed, data):
    text, kinks, structure = prog
    rng = np.random.default_rng(seed)
    values = {n: (float(rng.standard_normal()) if s == () else rng.standard_normal(s)) for n, s in VARIABLES.items()}
    shapes = dict(VARIABLES)
    note(f"program: {text}")

    y0 = _value_at_safe_point(text, kinks, values, shapes)

    statements, final = structure
    candidates = sorted(n for n in _names(text) if n in VARIABLES)
    for i, (name, _, _) in enumerate(statements):  # intermediates that something after them uses
        if any(_uses(name, x) for x in [x for _, _, x in statements[i + 1:]] + [final]):
            candidates.append(name)
    assume(candidates)
    pick = data.draw(st.sampled_from(candidates), label="wrt") if data is not None else candidates[0]
    layouts = list(ALL_LAYOUTS) if is_scalar_shape(y0.shape) else [lay for lay in ALL_LAYOUTS if lay != "gradient"]
    layout = data.draw(st.sampled_from(layouts), label="layout") if data is not None else "jacobian"

    if pick in VARIABLES:
        fd_values, fd_shapes, fd_expr, x_shape = values, shapes, text, VARIABLES[pick]
    else:  # derivative w.r.t. an intermediate: FD of the rest of the program with it as an input
        fd_expr, fd_values, fd_shapes, x_shape = _intermediate_problem(statements, final, pick, values, shapes)

    with np.errstate(all="ignore"):
        J = finite_difference_jacobian(fd_expr, pick, fd_values, fd_shapes)
    assume(np.all(np.isfinite(J)) and np.max(np.abs(J), initial=0.0) < 1e5)
    want = arrange(J, layout, y0.shape, x_shape)

    d = md.diff(text, wrt=pick, shapes=shapes, layout=layout)
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    ctx = f"d({text})/d{pick} [{layout}] seed={seed}"
    assert resolve_shape(d.shape, {}) == got.shape, f"{ctx}: d.shape {d.shape} vs evaluate {got.shape}"
    _compare(got, want,
             lambda: arrange(finite_difference_jacobian(fd_expr, pick, fd_values, fd_shapes, step=3e-6),
                             layout, y0.shape, x_shape),
             ctx)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs(), seed=st.integers(0, 2**32 - 1))
def test_random_expression_text_form_evaluates_to_the_derivative(prog, seed):
    """d.text, when present, is re-parseable and evaluates to the same numbers (gradient/numerator)."""
    text, kinks, _ = prog
    rng = np.random.default_rng(seed)
    values = {n: (float(rng.standard_normal()) if s == () else rng.standard_normal(s)) for n, s in VARIABLES.items()}
    y0 = _value_at_safe_point(text, kinks, values, VARIABLES)
    candidates = sorted(n for n in _names(text) if n in VARIABLES)
    assume(candidates)
    layout = "gradient" if is_scalar_shape(y0.shape) else "numerator"
    d = md.diff(text, wrt=candidates[0], shapes=VARIABLES, layout=layout)
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    assume(np.all(np.isfinite(got)))
    if d.text is None:
        return
    with np.errstate(all="ignore"):
        txt = evaluate_value(d.text, values, VARIABLES)
    assert txt.size == got.size, f"d.text {d.text!r}: shape {txt.shape} vs {got.shape}"
    scale = max(1.0, float(np.max(np.abs(got), initial=0.0)))
    np.testing.assert_allclose(txt.reshape(got.shape), got, rtol=1e-8, atol=1e-9 * scale,
                               err_msg=f"d({text})/d{candidates[0]} [{layout}] text={d.text!r}")


# ---------------------------------------------------------------------------------------
# robustness: whatever the text, only MatdiffError
# ---------------------------------------------------------------------------------------

LANGUAGE_ALPHABET = "abxyzAWhX12()+-*/^'.;=\n ,e0tr sqinvdgklumopc_"
FRAGMENTS = ["tr(", "det(", "logdet(", "inv(", "diag(", "sum(", "norm2(", "norm1(", "kron(", "vec(",
             "eye(", "ones(", "exp(", "log(", "sigmoid(", "relu(", ".*", "./", ".^", "'", "^", "*", "+", "-",
             "/", "(", ")", ",", ";", "=", "\n", "x", "A", "W1", "h", "a", "2", "0.5", "1e-3", "1e999", " "]


def _call_diff(text, wrt):
    try:
        d = md.diff(text, wrt=wrt)
        # touching the outputs must not crash either
        _ = d.text, d.shape, d.index
    except md.MatdiffError as err:
        assert str(err) and "\n" not in str(err), f"error message should be one line: {err!r}"


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60), wrt=st.sampled_from(["x", "A", "a", "W1", "t", "", "1x"]))
def test_diff_on_arbitrary_text_raises_only_matdiff_error(text, wrt):
    _call_diff(text, wrt)


@settings(max_examples=300, deadline=None)
@given(text=st.lists(st.sampled_from(FRAGMENTS), max_size=25).map("".join),
       wrt=st.sampled_from(["x", "A", "a", "W1", "h", "t"]))
def test_diff_on_language_like_text_raises_only_matdiff_error(text, wrt):
    _call_diff(text, wrt)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=LANGUAGE_ALPHABET, max_size=40))
def test_evaluate_on_arbitrary_text_raises_only_matdiff_error(text):
    values = {"x": np.ones(3), "A": np.eye(3), "a": 2.0}
    try:
        md.evaluate(text, values, shapes={"x": (3,), "A": (3, 3), "a": ()})
    except md.MatdiffError:
        pass


# ---------------------------------------------------------------------------------------
# symbolic dimensions: the same program with shapes given by name gives the same numbers
# ---------------------------------------------------------------------------------------

SYMBOLIC = {"a": (), "b": (), "x": ("n",), "y": ("n",), "z": ("m",), "w": ("k",),
            "A": ("n", "n"), "B": ("n", "m"), "C": ("m", "n"), "D": ("m", "m")}
SYMBOLIC_SIZES = {"n": 3, "m": 2, "k": 6}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_random_expression_with_symbolic_shapes_matches_concrete_shapes(prog, seed, data):
    text, kinks, _ = prog
    # eye(3), vec and kron tie symbolic sizes to numbers or products: kept to the concrete tests
    assume(not any(f in text for f in ("eye(", "vec(", "kron(")))
    rng = np.random.default_rng(seed)
    values = {n: (float(rng.standard_normal()) if s == () else rng.standard_normal(s)) for n, s in VARIABLES.items()}
    y0 = _value_at_safe_point(text, kinks, values, VARIABLES)
    candidates = sorted(n for n in _names(text) if n in VARIABLES)
    assume(candidates)
    pick = data.draw(st.sampled_from(candidates), label="wrt")
    layouts = list(ALL_LAYOUTS) if is_scalar_shape(y0.shape) else [lay for lay in ALL_LAYOUTS if lay != "gradient"]
    layout = data.draw(st.sampled_from(layouts), label="layout")
    note(f"program: {text}")
    want = np.asarray(md.diff(text, wrt=pick, shapes=VARIABLES, layout=layout).evaluate(values), dtype=np.float64)
    assume(np.all(np.isfinite(want)))
    d = md.diff(text, wrt=pick, shapes=SYMBOLIC, layout=layout)
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    ctx = f"d({text})/d{pick} [{layout}] with symbolic shapes"
    assert got.shape == want.shape, f"{ctx}: shape {got.shape}, concrete {want.shape}"
    assert resolve_shape(d.shape, SYMBOLIC_SIZES) == want.shape, f"{ctx}: d.shape {d.shape}"
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-9 * scale, err_msg=ctx)
    if d.text is not None:
        txt = evaluate_value(d.text, values, SYMBOLIC)
        assert txt.size == got.size, f"{ctx}: d.text {d.text!r} has shape {txt.shape}"
        np.testing.assert_allclose(txt.reshape(got.shape), got, rtol=1e-8, atol=1e-9 * scale,
                                   err_msg=f"{ctx}: d.text {d.text!r}")
