"""md.explain reads like a textbook solution: short by default, never contradicting itself.

Issue 15 found the network's explanation 84 lines long, with "→ 3×2" on one line and "∂u3/∂W2:
2×3" on the next, "∂f/∂W2 = a2 = …", a "Why the order" for a single step, gradients of the data,
``eye(2)'``, a printer unlike diff's and "f" naming two things. Each has a test here; the main
one parses every shape the text prints and checks it against md.diff of the same derivative,
computed on its own from a program that stops at the step.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from numerics import assert_close, md, random_values, rng_for
from test_explain import NETWORK, NETWORK_SHAPES, SEED1, SEED1_SHAPES, assignments

NAMED_NETWORK = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); f = 0.5*sum((a3 - y).^2)"
LAYOUTS = ("numerator", "denominator", "gradient", "jacobian", "vec")
CASES = [
    (NAMED_NETWORK, "W2", NETWORK_SHAPES),
    (NETWORK, "W3", NETWORK_SHAPES),
    (NETWORK, "x", NETWORK_SHAPES),
    (NETWORK, "z3", NETWORK_SHAPES),
    (SEED1, "W1", SEED1_SHAPES),
    ("A*B", "B", {"A": (1, 3), "B": (3, 2)}),
    ("x'*A*x", "x", {"x": (3,), "A": (3, 3)}),
    ("sum(exp(W*x)) + tr(W*W')", "W", {"W": (2, 3), "x": (3,)}),
    ("u = tanh(W*x); v = A*u; sum(v.*v)", "W", {"W": (4, 3), "x": (3,), "A": (2, 4)}),
]

SHAPE = r"(?:scalar|\w+(?:×\w+)*)"
FACTOR = re.compile(rf"(?:^|so )(∂\w+/∂\w+): (?:order-(\d+) tensor ({SHAPE}), no matrix form|({SHAPE}): )")
STEP = re.compile(r"^\d+\. (\w+) = .*   \((.*)\)$")


def shape_of(text: str) -> tuple:
    return () if text == "scalar" else tuple(int(d) if d.isdigit() else d for d in text.split("×"))


def as_column(shape) -> tuple:
    """A layout's vector (n,) as the language shows it: the column n×1."""
    return (*shape, 1) if len(shape) == 1 else tuple(shape)


def kind_shape(kind: str) -> tuple:
    """'a vector of length 3' → (3,); 'a 2×3 matrix' → (2, 3); 'a scalar' → (); '1×1, a scalar…' → (1, 1)."""
    if kind.startswith("a vector of length "):
        return (int(kind.split()[-1]),)
    if kind.startswith("a scalar"):
        return ()
    return shape_of(re.search(r"\d+(?:×\d+)+", kind).group())


def printed(explanation) -> list[str]:
    return [line.strip() for line in str(explanation).splitlines()]


def factor_shapes(lines: list[str]) -> dict[str, set]:
    """Every shape printed for each factor ∂a/∂b: ('tensor', shape) or ('layout', shape)."""
    found: dict[str, set] = {}
    for line in lines:
        match = FACTOR.search(line)
        if match:
            label, order, tensor, layout = match.groups()
            shown = ("tensor", shape_of(tensor)) if tensor else ("layout", shape_of(layout))
            assert order is None or int(order) == len(shown[1]), line
            found.setdefault(label, set()).add(shown)
    return found


def prefix(explanation, name: str) -> str:
    """A program whose value is the step ``name``: the user's other assignments, then the steps."""
    steps = [s.name for s in explanation.steps]
    own = [a for a in assignments(explanation.expression) if a.split("=")[0].strip() not in steps]
    upto = explanation.steps[:steps.index(name) + 1]
    return "; ".join(own + [f"{s.name} = {s.formula}" for s in upto] + [name])


def diff_of(explanation, of: str, by: str, layout: str, shapes: dict, values: dict):
    """md.diff of the step ``of`` by ``by`` (X or an earlier step), on its own; the gradient layout is
    for scalars, so a non-scalar step is in the denominator layout, as explain says."""
    program = prefix(explanation, of)
    if layout == "gradient" and np.size(md.evaluate(program, values, shapes=shapes)) != 1:
        layout = "denominator"
    return md.diff(program, wrt=by, shapes=shapes, layout=layout)


@pytest.mark.parametrize("verbose", [False, True], ids=["short", "verbose"])
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("expression,wrt,shapes", CASES)
def test_every_printed_shape_agrees_with_the_others_and_with_diff(expression, wrt, shapes, layout, verbose):
    try:
        whole = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    except md.MatdiffError:
        pytest.skip(f"no {layout} layout here")  # the gradient layout of a matrix
    e = md.explain(expression, wrt=wrt, shapes=shapes, layout=layout, verbose=verbose)
    lines = printed(e)
    values = random_values(shapes, rng_for(f"{expression} {wrt}"), expr=expression)
    found = factor_shapes(lines)
    assert found, lines
    for label, shown in found.items():
        assert len(shown) == 1, f"{label} is printed with two shapes: {shown}"
        (kind, shape), = shown
        of, by = label[1:].split("/∂")
        d = diff_of(e, of, by, layout, shapes, values)
        if kind == "tensor":
            jacobian = diff_of(e, of, by, "jacobian", shapes, values)
            assert shape == tuple(jacobian.shape), f"{label}: printed {shape}, the tensor is {jacobian.shape}"
            assert d.text is None or d.order > 1 or len(shape) > 2
        else:
            assert shape == as_column(d.shape), f"{label}: printed {shape}, md.diff gives {d.shape} ({layout})"
            assert np.shape(d.evaluate(values)) == tuple(d.shape)
    for line in lines:  # each step's own shape: what the program up to it evaluates to
        step = STEP.match(line)
        if step:
            value = md.evaluate(prefix(e, step.group(1)), values, shapes=shapes)
            assert np.size(value) == int(np.prod(kind_shape(step.group(2)))), line
    chain = [line for line in lines if line.startswith("shapes: ")]
    if chain:  # the chain's shapes are its factors' own, in order
        labels = next(line for line in lines if line.startswith(f"∂{e.output}/∂{wrt} = ∂")).split(" = ", 1)[1]
        for label, text in zip(labels.split(" · "), chain[0][len("shapes: "):].split(" · ")):
            tensor = text.startswith("(")
            expected = ("tensor" if tensor else "layout", shape_of(text.strip("()").removesuffix(" tensor")))
            assert found[label] == {expected}, f"chain: {label} is {text}, its line says {found[label]}"
    result = next(line for line in lines if line.startswith(f"∂{e.output}/∂{wrt} = ") and "layout, " in line
                  or line.startswith("no matrix form in the"))
    stated = shape_of(re.search(rf"({SHAPE})\)?$", result).group(1))
    assert stated == (as_column(whole.shape) if whole.text is not None else tuple(whole.shape)), result
    for line in lines:  # the backprop view: each gradient has its variable's shape, a vector as a column
        entry = re.match(rf"(d\w+) = ∂\w+/∂(\w+)   ({SHAPE})   = ", line)
        checked = (FACTOR.search(line) or STEP.match(line) or entry or line == result or
                   line.startswith(("shapes: ", f"{wrt} is ", "note: the result is", "in the vec layout")) or
                   re.match(r"\w+ is [\w×]+, not a scalar: take any scalar loss", line))
        assert checked or not re.search(r"\w×\w", line), f"a shape no check reads: {line}"
        if entry:
            of = entry.group(2)
            named_here = [f"{of} = {e.backprop.arguments[of][0]}"] if of in e.backprop.arguments else []
            value = values[of] if of in values else md.evaluate("; ".join(assignments(expression) + named_here + [of]),
                                                                 values, shapes=shapes)
            assert shape_of(entry.group(3)) == as_column(np.shape(value)), line
    variable = values[wrt] if wrt in values else md.evaluate("; ".join(assignments(expression) + [wrt]), values,
                                                                shapes=shapes)
    stated = kind_shape(next(line for line in lines if line.startswith(f"{wrt} is "))[len(wrt) + 4:-1])
    assert stated == np.shape(variable)


def test_the_network_explanation_is_short_and_verbose_has_every_step():
    for layout in ("numerator", "denominator", "gradient"):
        for wrt in ("W2", "W3"):
            short = str(md.explain(NAMED_NETWORK, wrt=wrt, shapes=NETWORK_SHAPES, layout=layout))
            assert len(short.splitlines()) <= 35, (layout, wrt, short)
    short = md.explain(NAMED_NETWORK, wrt="W2", shapes=NETWORK_SHAPES)
    verbose = md.explain(NAMED_NETWORK, wrt="W2", shapes=NETWORK_SHAPES, verbose=True)
    assert [s.name for s in short.steps] == ["z2", "a2", "z3", "a3", "f"]  # the user's statements
    assert [s.name for s in verbose.steps] == ["z2", "a2", "z3", "a3", "u1", "u2", "u3", "f"]  # every operation
    assert len(str(verbose).splitlines()) > 2 * len(str(short).splitlines())
    assert "Σ_" in str(verbose) and "Σ_" not in str(short)  # the index forms of the contractions
    assert "summing over" in str(verbose) and "from z2:" in str(verbose)  # contractions, backprop's sources


def test_the_result_is_not_read_as_a_binding_and_its_bindings_follow_as_where():
    e = md.explain(NAMED_NETWORK, wrt="W2", shapes=NETWORK_SHAPES, layout="gradient")
    text = str(e)
    assert "∂f/∂W2 = a2" not in text and "∂f/∂W2 = dz2*x'   (gradient layout, 3×2)" in text
    where = next(line.strip() for line in text.splitlines() if line.strip().startswith("where "))
    assert where.startswith("where a2 = sigmoid(W2*x); a3 = sigmoid(W3*a2)")
    values = random_values(NETWORK_SHAPES, rng_for(NAMED_NETWORK))
    program = where[len("where "):] + "; " + e.result_value
    assert_close(md.evaluate(program, values, shapes=NETWORK_SHAPES),
                 md.diff(NAMED_NETWORK, wrt="W2", shapes=NETWORK_SHAPES, layout="gradient").evaluate(values))


@pytest.mark.parametrize("expression,wrt,shapes,steps", [
    ("A*B", "B", {"A": (1, 3), "B": (3, 2)}, 1),
    ("x'*A", "x", {"x": (3,), "A": (3, 3)}, 1),
    (SEED1, "W1", SEED1_SHAPES, 2),
    (NAMED_NETWORK, "W2", NETWORK_SHAPES, 5),
])
def test_why_the_order_only_where_there_is_an_order(expression, wrt, shapes, steps):
    e = md.explain(expression, wrt=wrt, shapes=shapes)
    assert len(e.steps) == steps
    assert ("Why the order:" in str(e)) == (steps > 1)


@pytest.mark.parametrize("wrt,shown,hidden", [
    ("W2", ["da3", "dz3", "da2", "dz2", "dW2"], ["dy", "dx", "dW3"]),
    ("W3", ["da3", "dz3", "dW3"], ["dy", "dx", "dW2", "dz2"]),
    ("x", ["dz2", "dx"], ["dy", "dW2", "dW3"]),
])
def test_backprop_shows_the_way_back_to_the_variable_not_the_data(wrt, shown, hidden):
    view = md.explain(NAMED_NETWORK, wrt=wrt, shapes=NETWORK_SHAPES).backprop
    listed = [line.split()[0] for line in str(view).splitlines()[2:]]
    assert all(symbol in listed for symbol in shown), listed
    assert not any(symbol in listed for symbol in hidden), listed
    assert {g.symbol for g in view.order} >= set(shown) | {"dW3", "dx"}  # the data keeps every gradient


def _transposed_symmetric(text: str) -> list[str]:
    """eye(…)' and diag(…)': a transpose of a symmetric matrix, which prints without one."""
    found = []
    for match in re.finditer(r"\b(eye|diag)\(", text):
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            end += 1
        if end < len(text) and text[end] == "'":
            found.append(text[match.start():end + 1])
    return found


@pytest.mark.parametrize("expression,wrt,shapes", CASES + [
    ("sum(u - y)", "u", {"u": (2,), "y": (2,)}),
    ("v = exp(z); w = v - y; sum(w.*w)", "z", {"z": (2,), "y": (2,)}),
])
@pytest.mark.parametrize("layout", ["denominator", "gradient", "numerator"])
def test_no_transpose_of_a_symmetric_matrix_is_printed(expression, wrt, shapes, layout):
    try:
        e = md.explain(expression, wrt=wrt, shapes=shapes, layout=layout, verbose=True)
    except md.MatdiffError:
        pytest.skip("no such layout here")
    assert not _transposed_symmetric(str(e)), _transposed_symmetric(str(e))


@pytest.mark.parametrize("expression,wrt,shapes", CASES)
def test_a_step_derivative_reads_as_diff_prints_it(expression, wrt, shapes):
    """The local derivatives by X itself are derivatives diff can print alone: the same text."""
    e = md.explain(expression, wrt=wrt, shapes=shapes, layout="denominator", verbose=True)
    for step in e.steps:
        for factor in step.local:
            if step.operands != (wrt,) or factor.matrix is None:  # else it is a partial derivative
                continue
            alone = md.diff(prefix(e, step.name), wrt=wrt, shapes=shapes,
                            layout="denominator").matrix_program
            if alone is not None and not alone.bindings:
                assert factor.matrix == alone.text, factor


@pytest.mark.parametrize("shape,said", [((3, 2), "W is a 3×2 matrix."), ((8, 2), "W is an 8×2 matrix."),
                                        (("n", "m"), "W is an n×m matrix."), (("p", 2), "W is a p×2 matrix.")])
def test_the_variable_is_introduced_in_plain_english(shape, said):
    assert said in str(md.explain("sum(W*x)", wrt="W", shapes={"W": shape, "x": (shape[1],)}))


def test_f_names_only_the_output():
    text = str(md.explain(NETWORK, wrt="W2", shapes=NETWORK_SHAPES, verbose=True))
    assert "f(" not in text
    assert "from a3 = sigmoid(z3), elementwise" in text
    assert "(diagonal, as sigmoid acts entry by entry: a Hadamard product)" in text


# ----- undeclared names (issue 15, item 6) --------------------------------------------------------------


@pytest.mark.parametrize("expression,wrt,shapes,note", [
    ("sum(W1*x)", "W1", {"x": (3,)}, "W1 has no declared shape; it was taken as a matrix of size n×3"),
    ("sum(W1*x)", "W1", None, "W1 has no declared shape; it was taken as a matrix with unknown sizes"),
    ("W2*W1*h", "W1", {"W1": (2, 2), "W2": (1, 2)}, "h has no declared shape; it was taken as a vector of length 2"),
    ("x'*A*x", "x", None, "x has no declared shape; it was taken as a vector of unknown length"),
    ("a*x", "a", {"x": (3,)}, "a has no declared shape; it was taken as a scalar"),
])
def test_an_undeclared_name_that_decides_the_order_gets_a_note(expression, wrt, shapes, note):
    d = md.diff(expression, wrt=wrt, shapes=shapes)
    assert note in d.notes
    assert f"note: {note}" in str(md.explain(expression, wrt=wrt, shapes=shapes))
    name = note.split()[0]
    declared = {**(shapes or {}), name: md.infer_shapes(expression, shapes=shapes)[name]}
    assert not [n for n in md.diff(expression, wrt=wrt, shapes=declared).notes if n.startswith(f"{name} has no")]


@pytest.mark.parametrize("expression,wrt,shapes", [
    ("W1*x", "x", {"x": (3,)}),  # a scalar W1 would give the same order: W1 decides nothing
    ("tr(A*X)", "X", {"X": (3, 3)}),
    ("sum(S*x)", "x", {"x": (3,), "S": (3, 3)}),
])
def test_no_note_where_the_convention_decides_nothing(expression, wrt, shapes):
    assert not [note for note in md.diff(expression, wrt=wrt, shapes=shapes).notes if "no declared shape" in note]


def test_a_long_chain_prints_each_derivative_by_the_variable_only_when_shown(monkeypatch):
    """Printing ∂u/∂X for every step of an n-step chain costs O(n²): the default explanation of a
    chain shows none of them, so none may be printed (one local factor per step, plus the result)."""
    from matdiff.tools import chainsteps

    printed = []
    real_factor = chainsteps.factor
    monkeypatch.setattr(chainsteps, "factor", lambda *a, **k: printed.append(a[1]) or real_factor(*a, **k))
    program = "\n".join(f"z{i} = sin(z{i - 1})" for i in range(1, 60)).replace("z0", "x", 1)
    text = str(md.explain(program, wrt="x", shapes={"x": (3,)}))
    assert "∂z59/∂x = diag(" in text
    assert len(printed) <= 59 + 2, len(printed)


@pytest.mark.parametrize("factor, operand", [
    ("diag(cos(z4))", "diag(cos(z4))"), ("W3", "W3"), ("x*(a - b)", "x*(a - b)"), ("0.001*A", "0.001*A"),
    ("a3' - y'", "(a3' - y')"), ("-W", "(-W)"), ("a.*b", "(a.*b)"), ("A/2", "(A/2)"),
])
def test_the_chain_as_matrices_has_parentheses_only_where_needed(factor, operand):
    from test_matrixform import tree

    from matdiff.notation.bindings import MatrixProgram
    from matdiff.tools.explanation import _product_operand

    shapes = {"z4": (3,), "W3": (3, 3), "x": (2, 1), "a": (1, 2), "b": (1, 2), "A": (2, 2), "a3": (2,), "y": (2,),
              "W": (2, 2)}
    assert _product_operand(MatrixProgram((), tree(factor, shapes))) == operand
    a_b = {"A": np.arange(4.0).reshape(2, 2), "x": np.ones(2), "a": np.ones(2), "b": 2 * np.ones(2)}
    if not set(factor) & set("zWyx"):  # it still means the same
        assert np.allclose(md.evaluate(operand, a_b), md.evaluate(factor, a_b))


def test_the_chain_as_matrices_reads_without_redundant_parentheses():
    program = "z1 = sin(x); z2 = sin(z1); z3 = sin(z2)"
    line = next(line for line in str(md.explain(program, wrt="x", shapes={"x": (3,)})).splitlines()
                if "as matrices" in line)
    assert line.strip() == "as matrices: diag(cos(z2)) * diag(cos(z1)) * diag(cos(x))"
