"""Every route on random well-shaped inputs (bench/fuzz_routes.py), CI size, and what it found.

The long command (README, "Random exploration") runs 100,000 cases; here 300 cases from a fixed
seed run every route (printers, check of matdiff's own answer, explain, compiled code, gradients,
second derivatives, entries) and must find nothing. Each finding of the long runs is a test below,
checked by numbers where it was a wrong number.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np
import pytest

import matdiff as md

_BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench")


def _load(name: str):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, os.path.join(_BENCH, f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_load("differential")
fuzz_routes = _load("fuzz_routes")


def test_every_route_survives_and_agrees_on_random_inputs():
    found = fuzz_routes.run(300, 2026, entries_every=25, second_every=3)
    assert not found, "\n".join(f.repro() for f in found)


def test_the_fuzzer_reports_a_crash_and_a_disagreement(monkeypatch):
    """The fuzzer can fail: a route that raises, or a check that rejects matdiff's own answer."""
    case = _load("differential").Case(0, "x'*A*x", "x", "gradient", 1)

    def broken(*args, **kwargs):
        raise KeyError("inlined")

    monkeypatch.setattr(md, "explain", broken)
    found = fuzz_routes.run_case(case, entries_every=0, second_every=0)
    assert [f.route for f in found] == ["explain"] and "KeyError" in found[0].detail

    class Wrong:
        correct, kind, diagnosis = False, "wrong", "the claim is off"

    monkeypatch.setattr(md, "check", lambda *args, **kwargs: Wrong())
    assert "check" in [f.route for f in fuzz_routes.run_case(case, entries_every=0, second_every=0)]


# ----- what the long runs found --------------------------------------------------------------------


def test_a_reduction_of_a_vector_is_printed_as_a_scalar():
    """logsumexp(z) was taken for a column in the matrix form: logsumexp(z)*y by y printed
    'logsumexp(z)' (the eye(3) dropped), and kron(logsumexp(y), M) in a vec form."""
    shapes = {"z": (2,), "y": (3,), "C": (2, 3), "M": (2, 2)}
    values = {"z": np.array([0.3, -1.2]), "y": np.array([1.0, 2.0, -0.5]),
              "C": np.arange(6.0).reshape(2, 3) / 7, "M": np.array([[1.0, 2.0], [0.5, -1.0]])}
    for expression, wrt, layout in [("logsumexp(z)*y", "y", "denominator"),
                                    ("logsumexp(y)*(M*C)", "C", "vec")]:
        d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
        printed = md.evaluate(d.text, values, shapes=shapes)
        np.testing.assert_allclose(printed, d.evaluate(values), rtol=1e-12)
    assert md.diff("logsumexp(z)*y", wrt="y", shapes=shapes, layout="denominator").text == "logsumexp(z)*eye(3)"


@pytest.mark.parametrize("layout", ["numerator", "jacobian"])
def test_check_accepts_the_printed_answer_of_a_row_by_a_vector(layout):
    """∂x'/∂x is 1×3×3 in these layouts and prints as eye(3); check called that answer 'the vec
    layout', rejecting matdiff's own words."""
    d = md.diff("x'", wrt="x", shapes={"x": (3,)}, layout=layout)
    assert d.shape == (1, 3, 3) and d.text == "eye(3)"
    assert md.check("x'", "x", d.text, shapes={"x": (3,)}, layout=layout).correct
    wrong = md.check("x'", "x", "2*eye(3)", shapes={"x": (3,)}, layout=layout)
    assert not wrong.correct


def test_entries_of_an_inverse_of_long_entries_take_no_simplifying_elimination():
    """SymPy's Matrix.inv() simplifies as it eliminates: minutes for inv(E*E' + I) of a 3×2 E of
    nonlinear entries. The inverse is adj/det now, each entry checked against the numbers."""
    pytest.importorskip("sympy")
    expression = "sum(inv((B .* exp(B))*(B .* exp(B))' + eye(2)))"
    result = md.entries(expression, "B", shapes={"B": (2, 2)}, names={"B": "a b; c d"}, layout="gradient")
    import sympy

    point = {"a": 0.1, "b": -0.2, "c": 0.3, "d": 0.05}
    B = np.array([[0.1, -0.2], [0.3, 0.05]])
    want = md.diff(expression, wrt="B", shapes={"B": (2, 2)}, layout="gradient").evaluate({"B": B})
    got = np.array([[float(sympy.sympify(entry).subs(point)) for entry in row] for row in result.values])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_entries_of_an_inverse_singular_for_every_value_is_a_domain_error():
    pytest.importorskip("sympy")
    with pytest.raises(md.DomainError, match="determinant is 0"):
        md.entries("sum(inv(ones(2,2)*X))", "X", shapes={"X": (2, 2)})


def test_entries_simplify_within_a_budget_of_operations(monkeypatch):
    """cos(A^3) by a 3×3 A: 81 trigonometric entries took minutes in simplify(). Past a budget of
    operations over all entries none is simplified (a count, not a clock: the same on every
    machine); below it, each is."""
    pytest.importorskip("sympy")
    from matdiff.tools import symbolic

    calls = []
    original = symbolic.sympy_module

    def counting():
        sympy = original()

        class Counting:
            def __getattr__(self, name):
                if name == "simplify":
                    return lambda e: calls.append(e) or sympy.simplify(e)
                return getattr(sympy, name)
        return Counting()

    monkeypatch.setattr(symbolic, "sympy_module", counting)
    big = md.entries("cos(A^3)", "A", shapes={"A": (3, 3)}, layout="jacobian")
    assert big.shape == (3, 3, 3, 3) and calls == []
    small = md.entries("cos(a*x)", "x", shapes={"x": (2,)}, layout="jacobian")
    assert len(calls) == 4 and small.shape == (2, 2)


def _printed_agrees(expression: str, wrt: str, shapes: dict, layout: str = "numerator") -> str:
    """d.text evaluates to d.evaluate's numbers, entry for entry and in the same number of entries."""
    rng = np.random.default_rng(7)
    values = {name: (float(rng.standard_normal()) if shape == () else rng.standard_normal(shape))
              for name, shape in shapes.items()}
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    printed = np.asarray(md.evaluate(d.text, values, shapes=shapes))
    want = np.asarray(d.evaluate(values))
    assert printed.size == want.size, (d.text, printed.shape, want.shape)
    np.testing.assert_allclose(printed.reshape(want.shape), want, rtol=1e-10, atol=1e-12)
    return d.text


def test_an_expanded_term_beside_a_matrix_keeps_the_matrix_shape_class():
    """(2*b + A).*A printed with the scalar repeated as a row, and the Hadamard product took the
    row's class: the product with x became a 'scalar' that the transposes skipped, so the text was
    a row minus a column (3×3 under implicit expansion, for a 1×3 derivative)."""
    shapes = {"x": (3,), "A": (3, 3), "b": ()}
    text = _printed_agrees("(x'/(b^2 + 0.5)) * ((2*b + A) .* A)", "b", shapes)
    assert "(2*b + A).*A" in text  # the scalar beside a matrix, as the user wrote it
    assert _printed_agrees("sum((a + z).^2)", "a", {"a": (), "z": (2,)}) == "2*sum(a + z)"


def test_a_vec_form_whose_terms_cancel_keeps_its_shape():
    """L*kron(-1, D) + L*kron(1, D) collected to 0*L, a 9×9 in place of the 9×3 zero."""
    text = _printed_agrees("diag((x - (y - (y + x))) .* x)", "y", {"x": (3,), "y": (3,)}, layout="vec")
    assert text.startswith("0*")


def test_compiled_code_when_no_contraction_order_fits_the_largest_input():
    """opt_einsum's dp found no order within memory_limit='max_input' (the result is larger than
    every input) and raised a RuntimeError from compile."""
    shapes = {"z": (2,), "C": (2, 3), "b": (), "B": (3, 2), "D": (2, 2)}
    expression = "cos(z - z.*exp(z)) + abs((-(C*b))*((B*D) ./ (sigmoid(B.*B) + 0.5)))"
    d = md.diff(expression, wrt="D", shapes=shapes, layout="denominator")
    rng = np.random.default_rng(3)
    values = {name: (float(rng.standard_normal()) if s == () else rng.standard_normal(s)) for name, s in shapes.items()}
    np.testing.assert_allclose(d.compile("numpy")(**values), d.evaluate(values), rtol=1e-10)


def test_entries_of_a_determinant_of_long_entries_are_computed_without_simplifying_products():
    """SymPy's default det simplifies each product (dotprodsimp): 19 s for logdet of a 2×2 of nested
    logarithms. Berkowitz without it is immediate; entries far too long to read are a LimitError."""
    pytest.importorskip("sympy")
    expression = "logdet(inv(L*L' + eye(2))*inv(L*L' + eye(2))' + eye(2))"
    program = "L = log(sigmoid(t) + 0.5); " + expression
    with pytest.raises(md.LimitError, match="too long to compare by hand"):
        md.entries(program, "t", shapes={"t": (2, 2)})
    small = md.entries("logdet(exp(t)*exp(t)' + eye(2))", "t", shapes={"t": (2, 2)}, names={"t": "a b; c d"},
                       layout="gradient")
    import sympy

    t = np.array([[0.2, -0.1], [0.4, 0.3]])
    point = {"a": 0.2, "b": -0.1, "c": 0.4, "d": 0.3}
    want = md.diff("logdet(exp(t)*exp(t)' + eye(2))", wrt="t", shapes={"t": (2, 2)}, layout="gradient").evaluate(
        {"t": t})
    got = np.array([[float(sympy.sympify(entry).subs(point)) for entry in row] for row in small.values])
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_a_vector_times_a_row_of_ones_prints_the_row_as_a_row():
    """u·1ᵀ printed as u*ones(1, n): a 1×n matrix, and l'*y*ones(1, 3)*v is then a vector of
    length 1, which ^ refuses, where the derivative's entry is a number."""
    shapes = {"y": (3,), "x": (3,), "B": (3, 2), "z": (2,), "a": ()}
    expression = "tanh(((4 ./ (sigmoid(a) + 0.5))^2 + 1) .^ (log(y.*y + 1)' * (y .* x') * (B * z)))"
    text = _printed_agrees(expression, "x", shapes, layout="jacobian")
    assert "ones(1, 3)" not in text


@pytest.mark.parametrize("expression, wrt, shape", [("C - C", "C", (6, 6)), ("(y*(z' - z')).^2", "z", (6, 2))])
def test_a_zero_derivative_in_the_vec_layout_prints_as_a_matrix_of_its_shape(expression, wrt, shape):
    """A derivative that cancels to a constant had no vec form (None), or printed as the number 0,
    which check then read as another shape."""
    shapes = {"C": (2, 3), "y": (3,), "z": (2,)}
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout="vec")
    assert d.text == f"0*ones({shape[0]}, {shape[1]})" and d.shape == shape
    assert md.check(expression, wrt, d.text, shapes=shapes, layout="vec").correct


def test_a_scalar_beside_a_matrix_in_a_sum_is_not_distributed_as_a_multiple_of_the_identity():
    """(eye(3) - 3)*diag(v) became diag(v) - 3*diag(v): the 3 in a matrix sum is 3·1·1ᵀ (implicit
    expansion), not 3·I, so the printed derivative of a mean over columns was wrong."""
    shapes = {"B": (3, 2), "z": (2,), "x": (3,), "b": (), "v": (3,)}
    _printed_agrees("mean(((eye(3) - 3)*log(b^2 + 1)) .* ((B*z) .* x), 1)", "x", shapes, layout="jacobian")
    assert _printed_agrees("sum((eye(3) - 3) .* (v .* x), 1)", "x", shapes, layout="jacobian") == \
        "(eye(3) - 3).*v'"


def test_check_accepts_the_right_answer_where_every_point_is_ill_conditioned():
    """sin(R.^u) with u = det(…) in the thousands: the derivative moves by a factor when the values
    move by 1e-10, so matdiff's own (right) answer, rounded differently, was called wrong or 'right
    if D is symmetric'. Such points are avoided, or compared within their own rounding spread; a
    wrong claim is still wrong there."""
    shapes = {"b": (), "B": (3, 2), "D": (2, 2)}
    expression = "sin((sigmoid(relu((b - B).^3)) + 0.5) .^ det((D^3)*(D^3)' + eye(2)))"
    d = md.diff(expression, wrt="b", shapes=shapes)
    assert md.check(expression, "b", d.text, shapes=shapes).correct
    *bindings, value = d.text.split("; ")
    assert not md.check(expression, "b", "; ".join([*bindings, f"2*({value})"]), shapes=shapes).correct


def test_a_vec_form_of_an_outer_product_through_an_opened_contraction_has_its_sizes():
    """KeyError ('inlined', 2): the vec form opened an order-3 contraction into its operands but
    knew the sizes only of the outer one's labels (the issue-26 family, seed-1 100k run)."""
    shapes = {"x": (3,), "z": (2,), "A": (3, 3), "a": ()}
    expression = "kron(-softmax(x.*x), log(z.*z + 1) - (logsumexp(x) ./ (det(A*A' + eye(3))^2 + 1))*a)"
    for layout in ("denominator", "vec"):
        d = md.diff(expression, wrt="A", shapes=shapes, layout=layout)
        _ = d.index, d.latex, str(md.explain(expression, "A", shapes=shapes, layout=layout))
        if d.text is not None:
            _printed_agrees(expression, "A", shapes, layout=layout)


def test_entries_with_a_kink_are_not_simplified_case_by_case():
    """simplify() split sign(·) of a norm1 into cases: 20 s for one entry of a 2×2."""
    pytest.importorskip("sympy")
    result = md.entries("logdet(diag(z)*diag(z)' + eye(2)) ./ exp(-tan(tanh(norm1(D))))", "D",
                        shapes={"D": (2, 2), "z": (2,)}, layout="vec")
    assert result.shape == (1, 4)


def test_entries_with_a_symbolic_power_are_not_simplified():
    """exp(u).^sqrt(v): simplify's exptrigsimp rewrote for minutes (seed-2 run, #4850)."""
    pytest.importorskip("sympy")
    result = md.entries("exp(softmax(y) - tr(A)) .^ sqrt(exp(log(exp(y))))", "y",
                        shapes={"y": (3,), "A": (3, 3)}, layout="vec")
    assert result.shape == (3, 3)


def test_a_ones_matrix_that_keeps_a_sum_full_size_stays():
    """ones(2, 2) - c*z (a column, after expansion) became 1 - c*z: a 2-vector for a 2×2
    derivative (seed-2 run, #45631; the rule that writes c·ones(m, n) + A as c + A needs an A of
    the sum's full shape)."""
    shapes = {"D": (2, 2), "z": (2,)}
    _printed_agrees("mean(D - D*z)", "D", shapes)
    _printed_agrees("mean(D - (D*z + softmax(z)))", "D", shapes)


def test_entries_apply_functions_to_long_arguments_unevaluated():
    """tan(tanh(det(…)^3)): SymPy's evaluation of tan asked questions of its argument for minutes
    (seed-2 run, #91400); a function of anything but a number or a letter is left unevaluated, and
    the numbers stay right."""
    pytest.importorskip("sympy")
    import sympy

    expression = "tan(tanh(det((D + eye(2))*(D + eye(2))' + eye(2)) .^ 3 / 1000))"
    result = md.entries(expression, "D", shapes={"D": (2, 2)}, names={"D": "a b; c d"}, layout="vec")
    letters = sympy.symbols("a b c d")
    got = np.array([[float(sympy.lambdify(letters, entry, "math")(0.1, -0.2, 0.3, 0.05)) for entry in row]
                    for row in result.values])
    want = md.diff(expression, wrt="D", shapes={"D": (2, 2)}, layout="vec").evaluate(
        {"D": np.array([[0.1, -0.2], [0.3, 0.05]])})
    np.testing.assert_allclose(got, want, rtol=1e-10)
    assert md.entries("exp(x)", "x", shapes={"x": (2,)}, names={"x": "p q"}).values[0][0] == sympy.exp(
        sympy.Symbol("p"))


def test_entries_of_products_of_long_powers_stop_at_the_budget_not_in_sympy():
    """sqrt(exp(exp(inv(B*B' + I)).^inv(relu(B)*relu(B)' + I))) by a 3×2 B (seed-0 run, #96500) ran for
    minutes in SymPy's automatic evaluation while products of its long entries were built (each
    power asked whether it is rational); an operand's products with entries this long are built as
    they stand, and the growth budget then refuses the entries: a LimitError, at once."""
    pytest.importorskip("sympy")
    from matdiff.tools import symbolic

    calls = []
    real = symbolic._einsum

    def counted(node, args):
        calls.append(node)
        return real(node, args)

    expression = "sqrt(exp(exp(inv(B*B' + eye(3))).^inv(relu(B)*relu(B)' + eye(3))))"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(symbolic, "_einsum", counted)
        with pytest.raises(md.LimitError, match="grow past"):
            md.entries(expression, "B", shapes={"B": (3, 2)})
    assert len(calls) < 200  # a handful of contractions, not minutes inside one
