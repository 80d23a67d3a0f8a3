"""Matrix-form recovery: the rewrite table rule by rule, then the printed forms end to end.

Every rule of :data:`matdiff.notation.rewrite.RULES` has a one-line "input ⇒ output" case; the
case checks the printed output and that both sides evaluate to the same numbers. The
end-to-end cases pin the forms the issue asks for (the cookbook's, the textbook's
delta form, Kronecker products in the vec layout) and check their numbers too.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest
from numerics import assert_close, md

from matdiff.language import syntax
from matdiff.notation.mtree import MatrixExpr, call, hadamard, leaf, matrix_power, negate_, number, product, total
from matdiff.notation.printing import latex, text
from matdiff.notation.rewrite import RULE_NAMES, RULES, compact, cost, tokens

# ----- a small reader: language text → matrix tree, so rules can be stated as text ----------

_KIND = {0: "scalar", 1: "column", 2: "matrix"}


def _tree(node, shapes) -> MatrixExpr:
    shape_class = type(node).__name__
    if shape_class == "Number":
        return number(node.value)
    if shape_class == "Name":
        return leaf(node.name, _KIND[len(shapes[node.name])])
    if shape_class == "Transpose":  # as written: the constructor would already push it inside
        inner = _tree(node.operand, shapes)
        flipped = {"column": "row", "row": "column"}.get(inner.shape_class, inner.shape_class)
        return inner if inner.shape_class == "scalar" else MatrixExpr("transpose", (inner,), "", flipped)
    if shape_class == "Signed":
        inner = _tree(node.operand, shapes)
        return negate_(inner) if node.sign == "-" else inner
    if shape_class == "Power":
        base = _tree(node.base, shapes)
        if node.op == "^" and base.shape_class == "matrix":  # X^3: a square matrix's power
            return matrix_power(base, int(_tree(node.exponent, shapes).value))
        return MatrixExpr("power", (base, _tree(node.exponent, shapes)), node.op, base.shape_class)
    if shape_class == "Call":
        arguments = tuple(_tree(a, shapes) for a in node.arguments)
        if node.function in ("eye",):
            return call("eye", (leaf(str(int(node.arguments[0].value)), "scalar"),), "matrix")
        if node.function == "diag":
            return call("diag", arguments, "matrix" if arguments[0].shape_class == "column" else "column")
        if node.function in ("sum", "tr", "det", "logdet", "norm2"):
            return call(node.function, arguments, "scalar")
        if node.function == "kron":
            return call("kron", arguments, "matrix")
        if node.function == "ones":
            return call("ones", arguments, "matrix" if len(arguments) == 2 else "column")
        if node.function == "inv":
            return call("inv", arguments, "matrix")
        return call(node.function, arguments, arguments[0].shape_class)
    if shape_class == "Chain":
        result = _tree(node.first, shapes)
        for op, _, operand in node.rest:
            right = _tree(operand, shapes)
            if op in "+-":
                result = total(result, right if op == "+" else negate_(right))
            elif op == "*":
                result = product(result, right)
            elif op == ".*":
                result = hadamard(result, right)
            elif op == "./":
                result = MatrixExpr("divide", (result, right), "./", right.shape_class)
            elif op == "/":
                result = MatrixExpr("quotient", (result, right), "", result.shape_class)
            else:
                raise AssertionError(op)
        return result
    raise AssertionError(shape_class)


def tree(source: str, shapes: dict) -> MatrixExpr:
    return _tree(syntax.parse(source).statements[-1].value, shapes)


S = {"A": (3, 3), "B": (3, 3), "C": (3, 3), "X": (3, 3), "W": (3, 3), "x": (3,), "w": (3,), "v": (3,), "u": (3,),
     "b": (3,), "c": ()}

# rule name, input, output (shapes S throughout)
RULE_CASES = [
    ("diag-symmetric", "diag(v)'", "diag(v)"),
    ("hadamard-ones", "v.*ones(3)", "v"),
    ("factor-scalar", "2*A*x - 2*b", "2*(A*x - b)"),
    ("factor-scalar", "c*A + c*B", "c*(A + B)"),
    ("factor-left", "A*B + A*C", "A*(B + C)"),
    ("factor-right", "A'*x + A*x", "(A' + A)*x"),
    ("factor-hadamard", "u.*v + u.*w", "u.*(v + w)"),
    ("pull-negation", "-A - B", "-(A + B)"),
    ("transpose-sum", "(A + B')'", "A' + B"),
    ("transpose-product", "(A*B)'", "B'*A'"),
    ("symmetric-part-order", "A' + A", "A + A'"),
    ("diag-times-vector", "diag(v)*W'*u", "(W'*u).*v"),
    ("vector-times-diag", "u'*diag(v)", "u'.*v'"),
    ("symmetric-transpose", "inv(X'*X)'", "inv(X'*X)"),
    ("collect-terms", "A*x + 2*A*x", "3*A*x"),
    ("norm2", "sqrt(sum(x.^2))", "norm2(x)"),
    ("divide-by-scalar", "c^-1*x", "x/c"),
    ("reciprocal", "sqrt(c)^-1", "1/sqrt(c)"),
    ("diag-linear", "diag(u) - 2*diag(v)", "diag(u - 2*v)"),
    ("kron-identities", "kron(eye(2), eye(3))", "eye(6)"),
    ("kron-scalar", "kron(-A, 2*B)", "-2*kron(A, B)"),
    ("kron-unit", "kron(A, eye(1))", "A"),
    ("kron-sum", "kron(A, B) + kron(A, C)", "kron(A, B + C)"),
    ("kron-mixed-product", "kron(eye(3), A)*kron(eye(3), B)", "kron(eye(3), A*B)"),
    ("kron-mixed-product", "kron(A, eye(2))*kron(B, eye(2))*kron(C, eye(2))", "kron(A*B, eye(2))*kron(C, eye(2))"),
    ("kron-sum", "kron(B, A) - 2*kron(C, A)", "kron(B - 2*C, A)"),
    ("scaled-reciprocal", "2*(1 ./ x)", "2 ./ x"),
    ("hadamard-reciprocal", "A.*(1 ./ v)'", "A ./ v'"),
    ("inverse-of-inverse", "inv(inv(X))", "X"),
    ("inverse-cancels", "A*inv(X)*X", "A"),
    ("inverse-cancels", "inv(X)'*X'*B", "B"),
    ("diag-product", "A*diag(u)*diag(v)*B", "A*diag(u.*v)*B"),
    ("ones-outer", "ones(3)*ones(3)'", "ones(3, 3)"),
    ("ones-in-sum", "ones(3, 3) - A", "1 - A"),
    ("hadamard-scaled-ones", "(2*ones(3)).*v", "2*v"),
    ("sum-of-negation", "sum(-v)", "-sum(v)"),
    ("sum-of-ones", "sum(ones(3, 2))", "6"),
    ("diag-of-ones", "diag(ones(3))", "eye(3)"),
    ("dot-product", "sum(x.*v)", "x'*v"),
    ("dot-product", "sum(x.^2)", "x'*x"),
    ("square-root-power", "c^(-0.5)", "1/sqrt(c)"),
    ("norm2", "sqrt(x'*x)", "norm2(x)"),
    ("diag-of-repeated", "diag(A*x*ones(3)' + ones(3)*v')", "A*x + v"),
    ("kron-transpose", "kron(eye(3), x)'", "kron(eye(3), x')"),
    ("diag-distributes", "(eye(3) - 3*ones(3)*ones(3)')*diag(v)", "diag(v) - 3*ones(3)*v'"),
    ("expansion", "A - 2*ones(3)*ones(3)'", "A - 2"),
    ("diag-distributes", "(eye(3) - v*ones(3)')*diag(v)", "diag(v) - v*v'"),
    ("row-sums", "2*A*B*ones(3)", "2*sum(A*B, 2)"),
    ("column-sums", "v*ones(3)'*A", "v*sum(A, 1)"),
    ("expansion", "A - v*ones(3)'", "A - v"),
    ("expansion", "A.*(ones(3)*v')", "A.*v'"),
    ("scaled-rows", "diag(v)*A*B", "(v.*A)*B"),
    ("scaled-rows", "2*A*diag(u - v)", "2*(A.*(u - v)')"),
    ("diag-negation", "diag(-v.*u)", "-diag(v.*u)"),
    ("factor-hadamard", "u.*v - 2*(u.*w)", "u.*(v - 2*w)"),
    ("combined-powers", "2*inv(X)'*inv(X)'", "2*(X^-2)'"),
    ("combined-powers", "A*X*X*B", "A*X^2*B"),
    ("combined-powers", "X^-3*X", "X^-2"),
    ("combined-powers", "inv(X)*X^3", "X^2"),
    ("inverse-cancels", "A*X^-2*X^2", "A"),
    ("combined-sums", "sum(A, 2) - 2*sum(B, 2)", "sum(A - 2*B, 2)"),
    ("factor-right", "A*x + w + B*x", "(A + B)*x + w"),  # the terms that share it
    ("factor-left", "w + A*B + A*C", "A*(B + C) + w"),
    ("combined-sums", "sum(A, 1) + sum(B, 1) + c", "sum(A + B, 1) + c"),
    ("hadamard-coefficient", "x.*w.*(2*v)", "2*x.*w.*v"),
    ("hadamard-coefficient", "x.*(-v)", "-x.*v"),
]


def _values(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {n: (float(rng.uniform(0.5, 2.0)) if s == () else rng.standard_normal(s) + (3 * np.eye(3) if len(s) == 2
                                                                                     else 0)) for n, s in shapes.items()}


@pytest.mark.parametrize("rule,source,expected", RULE_CASES, ids=[f"{r}:{s}" for r, s, _ in RULE_CASES])
def test_rule(rule, source, expected):
    """input ⇒ output, and both sides are the same numbers."""
    result = RULE_NAMES[rule].apply(tree(source, S))
    assert result is not None, f"{rule} does not apply to {source}"
    assert text(result) == expected
    values = _values(S)
    assert_close(md.evaluate(text(result), values, shapes=S), md.evaluate(source, values, shapes=S),
                 what=f"{source} ⇒ {text(result)}")


def test_every_rule_has_a_case():
    assert {rule.name for rule in RULES} <= {case[0] for case in RULE_CASES}


def test_rules_leave_other_forms_alone():
    assert RULE_NAMES["factor-left"].apply(tree("A*B + C*B", S)) is None
    assert RULE_NAMES["diag-times-vector"].apply(tree("diag(v)*A", S)) is None
    assert RULE_NAMES["scaled-rows"].apply(tree("X'*diag(v)*X", S)) is None  # the weighted Gram matrix stays
    assert RULE_NAMES["symmetric-transpose"].apply(tree("(A*B)'", S)) is None
    assert RULE_NAMES["kron-mixed-product"].apply(tree("kron(eye(3), A)*kron(B, eye(3))", S)) is None


def test_compact_reaches_the_cookbook_form_through_several_rules():
    assert text(compact(tree("(A'*x + A*x)'", S))) == "x'*(A + A')"
    assert text(compact(tree("(2*A*x - 2*b)'*A", S))) == "2*(A*x - b)'*A"


def test_cost_counts_tokens_weighting_transposes_and_diag():
    assert tokens("2*(A*x - b)'*A") == ["2", "*", "(", "A", "*", "x", "-", "b", ")", "'", "*", "A"]
    assert cost(tree("x'*A'", S)) > cost(tree("x'*A", S))


def test_a_number_before_an_elementwise_product_reparses_as_matlab_reads_it():
    shown = text(hadamard(MatrixExpr("power", (leaf("x", "column"), number(2.0)), ".^", "column"), leaf("v", "column")))
    assert shown == "x.^2.*v"  # the lexer does not let "2." swallow the dot of ".*"
    values = _values(S)
    assert_close(md.evaluate(shown, values, shapes=S), values["x"] ** 2 * values["v"])


# ----- end to end: what md.diff prints ----------------------------------------------------------

NET = "z2 = W2*x; a2 = sigmoid(z2); z3 = W3*a2; a3 = sigmoid(z3); 0.5*sum((a3 - y).^2)"
NET_SHAPES = {"W2": (3, 2), "x": (2,), "W3": (2, 3), "y": (2,)}

PRINTED = [  # expression, wrt, shapes, layout, printed text
    ("tr(A*X*B)", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, "denominator", "A'*B'"),
    ("x'*B*x", "x", {"x": (3,), "B": (3, 3)}, "denominator", "(B + B')*x"),
    ("x'*A*x", "x", {"x": (3,), "A": (3, 3)}, "numerator", "x'*(A + A')"),
    ("det(X)", "X", {"X": (3, 3)}, "denominator", "det(X)*inv(X)'"),
    ("norm2(A*x - b)^2", "x", {"A": (3, 2), "x": (2,), "b": (3,)}, "numerator", "2*(A*x - b)'*A"),
    ("W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "numerator", "h*W2"),
    ("W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "denominator", "W2'*h'"),
    ("W2*W1*h", "W1", {"W2": (1, 2), "W1": (2, 2), "h": (2,)}, "vec", "vec(W2'*h')'"),
    ("vec(A*X*B)", "X", {"A": (2, 3), "X": (3, 4), "B": (4, 2)}, "vec", "kron(B', A)"),
    ("A*X*b", "X", {"A": (2, 3), "X": (3, 4), "b": (4,)}, "vec", "kron(b', A)"),
    ("inv(X)", "X", {"X": (3, 3)}, "vec", "-kron(inv(X)', inv(X))"),
    ("vec(X)", "X", {"X": (2, 3)}, "vec", "eye(6)"),
    ("x'*A*x", ("x", "x"), {"x": (3,), "A": (3, 3)}, "gradient", "A + A'"),
    ("sum(softplus(X*w))", ("w", "w"), {"X": (4, 3), "w": (3,)}, "gradient", "s = sigmoid(X*w); X'*diag(s.*(1 - s))*X"),
    ("logdet(X'*X)", "X", {"X": (4, 3)}, "gradient", "2*X*inv(X'*X)"),
    ("norm2(x)", "x", {"x": (3,)}, "gradient", "x/norm2(x)"),
    ("sum(tanh(W*x))", "W", {"W": (3, 2), "x": (2,)}, "gradient", "(1 - tanh(W*x).^2)*x'"),
    ("sum(relu(W*x))", "W", {"W": (3, 2), "x": (2,)}, "gradient", "step(W*x)*x'"),
    ("sum(exp(W*x))", "W", {"W": (3, 2), "x": (2,)}, "gradient", "exp(W*x)*x'"),
    (NET, "W3", NET_SHAPES, "denominator",
     "a2 = sigmoid(W2*x); a3 = sigmoid(W3*a2); dz3 = (a3 - y).*a3.*(1 - a3); dz3*a2'"),
    (NET, "W2", NET_SHAPES, "denominator",
     "a2 = sigmoid(W2*x); a3 = sigmoid(W3*a2); dz3 = (a3 - y).*a3.*(1 - a3); dz2 = (W3'*dz3).*a2.*(1 - a2); dz2*x'"),
    (NET, "z3", NET_SHAPES, "gradient", "a3 = sigmoid(W3*sigmoid(W2*x)); (a3 - y).*a3.*(1 - a3)"),
]


def _check_numbers(d, expression, shapes, seed=3):
    values = _values_for(shapes, seed)
    got = np.asarray(d.evaluate(values))
    shown = np.asarray(md.evaluate(d.text, values, shapes=shapes))
    assert shown.size == got.size, f"{d.text!r}: {shown.shape} vs {got.shape}"
    assert_close(shown.reshape(got.shape), got, what=f"d({expression}) printed as {d.text!r}")


def _values_for(shapes, seed):
    rng = np.random.default_rng(seed)
    values = {}
    for name, shape in shapes.items():
        value = rng.standard_normal(shape) if shape else float(rng.standard_normal())
        if len(shape) == 2 and shape[0] == shape[1]:
            value = value + 3 * np.eye(shape[0])
        values[name] = value
    return values


@pytest.mark.parametrize("expression,wrt,shapes,layout,printed", PRINTED,
                         ids=[f"{e}/{w}[{lay}]" for e, w, _, lay, _ in PRINTED])
def test_printed_form(expression, wrt, shapes, layout, printed):
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    assert d.text == printed
    assert d.reason is None
    _check_numbers(d, expression, shapes)


def _mlp(layers: int) -> tuple[str, dict]:
    statements = [f"a{k + 1} = sigmoid(W{k + 1}*a{k})" for k in range(1, layers + 1)]
    shapes = {f"W{k}": (3, 3) for k in range(2, layers + 2)}
    shapes.update(a1=(3,), y=(3,))
    return "; ".join(statements) + f"; 0.5*sum((a{layers + 1} - y).^2)", shapes


def test_a_deep_network_gradient_prints_in_size_linear_in_depth():
    sizes = {}
    for layers in (8, 16, 32):
        program, shapes = _mlp(layers)
        d = md.diff(program, wrt="W2", shapes=shapes, layout="gradient")
        sizes[layers] = len(d.text)
        assert d.text.count(";") >= layers  # every activation and delta bound once
    assert sizes[32] < 2.3 * sizes[16] < 2.3 * 2.3 * sizes[8]
    program, shapes = _mlp(32)
    _check_numbers(md.diff(program, wrt="W2", shapes=shapes, layout="gradient"), "32-layer loss", shapes)


def test_bound_names_never_shadow_declared_inputs():
    shapes = {"s": (3,), "X": (4, 3), "w": (3,)}
    d = md.diff("sum(softplus(X*w))", wrt=("w", "w"), shapes=shapes, layout="gradient")
    assert not d.text.startswith("s =") and "s2 = sigmoid(X*w)" in d.text


# ----- no matrix form: the reason and the vec form ------------------------------------------------


def test_no_matrix_form_gives_a_one_line_reason_and_the_vec_form():
    d = md.diff("A*B", wrt="B", shapes={"A": (1, 2), "B": (2, 3)}, layout="numerator")
    assert d.text is None
    assert d.reason == ("∂Y/∂B is a 4th-order tensor (1×3×2×3): no matrix form in the numerator layout; "
                        "the vec layout gives kron(eye(3), A)")
    assert d.vec_text == "kron(eye(3), A)"
    assert "\\otimes" in d.latex and "\n" not in d.reason


def test_a_commutation_matrix_has_no_kronecker_form():
    d = md.diff("X'", wrt="X", shapes={"X": (2, 3)}, layout="vec")
    assert d.text is None and d.vec_text is None and "vec layout" in d.reason


def test_vec_text_of_a_vector_by_matrix_derivative():
    d = md.diff("sigmoid(W*x)", wrt="W", shapes={"W": (3, 2), "x": (2,)}, layout="numerator")
    assert d.text is None and d.vec_text == "s = sigmoid(W*x); kron(x', diag(s.*(1 - s)))"


# ----- LaTeX ----------------------------------------------------------------------------------------


def test_latex_of_a_program_names_its_intermediates():
    d = md.diff(NET, wrt="W2", shapes=NET_SHAPES, layout="denominator")
    assert d.latex.startswith(r"\begin{aligned}a_{2} &= \sigma\left(W_{2} x\right)")
    assert r"\odot" in d.latex and r"\frac{\partial f}{\partial W_{2}} &= \mathrm{dz}_{2} x^{\top}" in d.latex


@pytest.mark.parametrize("source,expected", [
    ("kron(B', A)", r"B^{\top} \otimes A"),
    ("u.*v", r"u \odot v"),
    ("c^-1*x", r"\frac{x}{c}"),
])
def test_latex_symbols(source, expected):
    assert latex(compact(tree(source, S))) == expected


def test_latex_of_elementwise_division():
    d = md.diff("sum(log(X))", wrt="X", shapes={"X": (2, 3)}, layout="gradient")
    assert d.text == "1 ./ X" and r"\oslash" in d.latex


# ----- the command line -------------------------------------------------------------------------------


def _cli(*arguments) -> str:
    result = subprocess.run([sys.executable, "-m", "matdiff.cli", *arguments], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_cli_prints_the_reason_and_the_vec_form():
    out = _cli("diff", "A*B", "--wrt", "B", "--shape", "A=1x2", "--shape", "B=2x3")
    assert "# no matrix form: ∂Y/∂B is a 4th-order tensor" in out
    assert re.search(r"^# vec layout: kron\(eye\(3\), A\)$", out, re.MULTILINE)


def test_cli_latex_names_the_layout():
    out = _cli("diff", "x'*A*x", "--wrt", "x", "--layout", "denominator", "--format", "latex")
    assert out.splitlines()[0] == r"\left(A + A^{\top}\right) x"
    assert "% denominator layout" in out


# ----- the search over contraction trees (matdiff.notation.search) ---------------------------------


def test_a_network_on_a_batch_has_its_textbook_form():
    """The batch index joins the error, σ' and X: a Hadamard product first, then the product."""
    shapes = {"W1": (4, 3), "X": (3, 5), "W2": (2, 4), "Y": (2, 5)}
    d = md.diff("0.5*sum((W2*tanh(W1*X) - Y).^2)", wrt="W1", shapes=shapes, layout="gradient")
    assert d.text == "a1 = tanh(W1*X); dz1 = (W2'*(W2*a1 - Y)).*(1 - a1.^2); dz1*X'"


def test_a_bias_on_a_batch_broadcasts_and_sums():
    shapes = {"W": (2, 3), "X": (3, 5), "b": (2,), "Y": (2, 5)}
    d = md.diff("0.5*sum((W*X + b*ones(1,5) - Y).^2)", wrt="b", shapes=shapes, layout="gradient")
    assert d.text == "sum(W*X + b - Y, 2)"  # the row sums, and b repeated by implicit expansion


def _chain(n: int):
    from matdiff.engine import ir

    factors = [(ir.var(f"A{k}", (2, 2)), (k, k + 1)) for k in range(n)]
    return ir.einsum((0, n), *factors)


def test_a_long_contraction_goes_greedy_within_the_budget():
    from matdiff.notation.matrixform import Recovery
    from matdiff.notation.search import MAX_EXACT_OPERANDS

    n = MAX_EXACT_OPERANDS + 3
    assert text(Recovery()(_chain(n))) == "*".join(f"A{k}" for k in range(n))


def test_no_matrix_form_names_the_index_that_cannot_be_placed():
    """Six matrices on the edges of a tetrahedron (i, j, k, l): every pair shares an index a third
    operand needs, so each step would make an order-3 tensor."""
    from matdiff.engine import ir
    from matdiff.notation.matrixform import Recovery

    edges = [("A", "ij"), ("B", "ik"), ("C", "il"), ("D", "jk"), ("E", "jl"), ("F", "kl")]
    node = ir.einsum((), *((ir.var(name, (2, 2)), tuple(labels)) for name, labels in edges))
    recovery = Recovery()
    assert recovery(node) is None
    assert re.match(r"the index [ijkl] is shared by [A-F], [A-F], [A-F], and no order", recovery.failure)


@pytest.mark.parametrize("source", [case[1] for case in RULE_CASES] + [case[2] for case in RULE_CASES])
def test_the_tree_cost_is_the_printed_cost(source):
    from matdiff.notation.printing import text_cost

    x = compact(tree(source, S))
    assert cost(x) == text_cost(text(x))


def test_unit_axes_are_dropped():
    """A 1×3 times 3×2: ∂Y/∂A is 1×2×1×3, the 2×3 matrix B' (issue 15, seed 001)."""
    shapes = {"A": (1, 3), "B": (3, 2)}
    d = md.diff("A*B", wrt="A", shapes=shapes, layout="numerator")
    assert d.text == "B'" and "δ" not in d.index
    assert md.diff("A*B", wrt="A", shapes=shapes, layout="vec").text == "B'"


@pytest.mark.parametrize("expression, wrt, shapes, printed, latex", [
    ("sum(sum((W*X - Y).^2))/6", "W", {"W": (3, 4), "X": (4, 6), "Y": (3, 6)}, "(W*X - Y)*X'/3",
     r"\frac{1}{3} \left(W X - Y\right) X^{\top}"),
    ("x'*x/3", "x", {"x": (3,)}, "2*x/3", r"\frac{2}{3} x"),
    ("sum(exp(x/3))", "x", {"x": (3,)}, "exp(x/3)/3", r"\frac{1}{3} \exp\left(\frac{1}{3} x\right)"),
])
def test_constants_print_exactly_as_fractions(expression, wrt, shapes, printed, latex):
    """Issue 24: 1/3 prints as 1/3 (Y/3), not 0.333333333333333*Y; the fraction is the same double,
    so the printed form evaluates to the same numbers."""
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout="gradient")
    assert (d.text, d.latex) == (printed, latex)
    rng = np.random.default_rng(2)
    values = {name: rng.standard_normal(shape) for name, shape in shapes.items()}
    np.testing.assert_allclose(md.evaluate(d.text, values, shapes=shapes), d.evaluate(values), rtol=1e-14)


def test_a_decimal_that_is_short_stays_a_decimal():
    from matdiff.notation.numbers import fraction

    assert fraction(0.25) is None and fraction(0.5) is None and fraction(0.1) is None
    assert fraction(1 / 3) == (1, 3) and fraction(-5 / 6) == (-5, 6) and fraction(1 / 7 + 1e-17) == (1, 7)
    assert fraction(0.1234567891) is None


def test_a_transposed_matrix_of_ones_is_the_other_ones():
    from matdiff.notation.mtree import call, leaf, transpose

    ones = call("ones", (leaf("2", "scalar"), leaf("3", "scalar")), "matrix")
    assert text(transpose(ones)) == "ones(3, 2)"
    assert md.diff("mean(D - D*z)", wrt="D", shapes={"D": (2, 3), "z": (3,)}).text == "ones(3, 2)/6 - 0.5*z"


# Issue 24's table: what the textbook prints, and matdiff now does (each checked by numbers too).
TEXTBOOK = [
    ("sum(log(1 + exp(-y.*(X*w))))", ("w", "w"), {"X": (5, 3), "y": (5,), "w": (3,)},
     "s = sigmoid(y.*(X*w)); X'*diag(y.^2.*s.*(1 - s))*X"),
    ("-y'*log(softmax(z))", ("z", "z"), {"y": (4,), "z": (4,)}, "sum(y)*(diag(softmax(z)) - softmax(z)*softmax(z)')"),
    # an invented name never differs from the user's only by case (no Y for the inverse beside y)
    ("w = inv(X'*X + lam*eye(3))*X'*y; w'*w", "lam", {"X": (5, 3), "y": (5,), "lam": ()},
     "P = inv(X'*X + lam*eye(3)); w = P*X'*y; -2*w'*P*w"),
    ("-(t*log(sigmoid(w'*x + b)) + (1 - t)*log(1 - sigmoid(w'*x + b)))", "w",
     {"w": (3,), "x": (3,), "t": (), "b": ()}, "(sigmoid(w'*x + b) - t)*x"),
    ("(x'*x)^0.5", "x", {"x": (3,)}, "x/norm2(x)"),
    ("sum(diag(x)*A*diag(x))", "x", {"x": (3,), "A": (3, 3)}, "(A + A')*x"),
    ("log(w'*x)", "w", {"w": (3,), "x": (3,)}, "x/(w'*x)"),
]


@pytest.mark.parametrize("expression, wrt, shapes, printed", TEXTBOOK, ids=[row[0] for row in TEXTBOOK])
def test_the_textbook_form_is_printed(expression, wrt, shapes, printed):
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout="gradient")
    assert d.text == printed
    values = {name: (0.3 if shape == () else np.random.default_rng(7).uniform(0.2, 1.0, shape))
              for name, shape in shapes.items()}
    assert_close(np.reshape(md.evaluate(printed, values, shapes=shapes), np.shape(d.evaluate(values))),
                 d.evaluate(values), what=printed)


@pytest.mark.parametrize("expression, wrt, layout, printed", [
    ("kron(x, y)", "x", "numerator", "kron(eye(3), y)"),
    ("kron(x, y)", "y", "numerator", "kron(x, eye(2))"),
    ("vec(x*y')", "x", "numerator", "kron(y, eye(3))"),
    ("kron(x, y)", "x", "denominator", "kron(eye(3), y')"),
])
def test_a_vector_by_a_vector_has_its_kronecker_form_in_every_layout(expression, wrt, layout, printed):
    """Issue 24: ∂vec(y)/∂vec(x) is the numerator layout's matrix itself (the denominator's, transposed)."""
    shapes = {"x": (3,), "y": (2,)}
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    assert d.text == printed
    values = {"x": np.array([1.0, -2.0, 0.5]), "y": np.array([3.0, 0.25])}
    assert_close(np.reshape(md.evaluate(printed, values, shapes=shapes), d.shape), d.evaluate(values), what=printed)


@pytest.mark.parametrize("expression, wrt, layout, printed", [
    ("det(a*X)", "X", "gradient", "det(X)*a^3*inv(X)'"),
    ("inv(a*X)", "a", "numerator", "-a^-2*inv(X)"),
    ("det(2*X*Y)", "X", "gradient", "8*det(Y)*det(X)*inv(X)'"),
])
def test_a_scalar_factor_leaves_det_and_inv(expression, wrt, layout, printed):
    """Issue 24: det(c·X) = cⁿ·det(X) and inv(c·X) = c⁻¹·inv(X), where that prints shorter."""
    shapes = {"X": (3, 3), "Y": (3, 3), "a": ()}
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    assert d.text == printed
    rng = np.random.default_rng(11)
    values = {"X": rng.standard_normal((3, 3)) + 3 * np.eye(3), "Y": rng.standard_normal((3, 3)) + 3 * np.eye(3),
              "a": 0.7}
    assert_close(np.reshape(md.evaluate(printed, values, shapes=shapes), d.shape), d.evaluate(values), what=printed)


def test_a_printed_fraction_is_the_same_double():
    """Issue 24: a constant printed as a fraction p/q evaluates to exactly the double it replaces (a
    number over a number is lowered as one division, not as a product with a reciprocal)."""
    from matdiff.notation.numbers import number_text

    for p in range(-30, 31):
        for q in range(1, 31):
            assert float(md.evaluate(number_text(p / q), {})) == p / q, (p, q, number_text(p / q))
