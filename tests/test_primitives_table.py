"""The table of primitives, record by record, in the style of autograd's ``check_grads``.

Every record of :data:`matdiff.engine.primitives.FUNCTIONS` is checked the same way, so a new
function is tested by adding its record: its derivative (the VJP the engine builds from the
record) against finite differences of its NumPy implementation in random directions, the
whole pipeline (``md.diff`` in every layout) against finite differences, and each backend's
generated code against the NumPy implementation. The five functions added to prove the
table (sinh, cosh, log1p, softmax, logsumexp) then get their matrix forms and every entry
point checked by number.
"""

import importlib.util

import numpy as np
import pytest

import matdiff as md
from matdiff.engine import ir
from matdiff.engine.lowering import FUNCTION_NAMES
from matdiff.engine.numeric import evaluate
from matdiff.engine.sampling import function_point
from matdiff.engine.functions import COLUMNS, ENTRIES, FUNCTIONS, MATRIX
from matdiff.engine.primitives import vjp
from matdiff.web import jobs
from numerics import assert_close, assert_derivative, finite_difference_jacobian, rng_for
from test_codegen import backend_context

NEW = ("sinh", "cosh", "log1p", "softmax", "logsumexp")
NOT_SMOOTH = ("step", "sign")  # derivative zero almost everywhere: finite differences agree, trivially


def _cases():
    for name, function in FUNCTIONS.items():
        shapes = [(3, 3)] if function.acts == MATRIX else [(4,), (3, 2)]
        for shape in shapes:
            yield pytest.param(name, shape, id=f"{name}-{'x'.join(map(str, shape))}")


def _point(name: str, shape: tuple) -> np.ndarray:
    """A test point inside the function's domain (a well-conditioned matrix for the matrix ones)."""
    rng = rng_for(f"{name}{shape}")
    return function_point(FUNCTIONS[name], shape, rng)


def test_a_record_missing_a_fact_is_refused_where_it_is_written():
    """Issue 23: a record the routes cannot use fails when it is made, naming what it lacks."""
    from dataclasses import replace

    exp = FUNCTIONS["exp"]
    with pytest.raises(ValueError, match=r"the record of exp\(\): it needs code for numpy, jax and torch"):
        replace(exp, code={"numpy": "np.exp({x})"})
    with pytest.raises(ValueError, match="an elementwise function has a derivative and no VJP"):
        replace(exp, derivative=None)
    with pytest.raises(ValueError, match="says what it means for a number"):
        replace(FUNCTIONS["det"], of_a_number=None)
    with pytest.raises(ValueError, match="when_positive is 'y'"):
        replace(exp, when_positive="y")
    with pytest.raises(ValueError, match="its LaTeX has no"):
        replace(exp, name="e2", latex=r"\exp")
    assert all(name in FUNCTION_NAMES for name in FUNCTIONS)


@pytest.mark.parametrize("name, shape", list(_cases()))
def test_vjp_matches_finite_differences_in_random_directions(name, shape):
    """<G, J·v> = <Jᵀ·G, v> for random cotangents G and directions v, with J by finite differences
    and Jᵀ·G built by the engine from the record."""
    x = _point(name, shape)
    node = FUNCTIONS[name](ir.var("x", shape))
    cotangent = ir.var("G", node.shape)
    contribution = vjp(node, 0, cotangent, 0)
    J = finite_difference_jacobian(f"{name}(x)", "x", {"x": x}, {"x": shape})
    rng = rng_for(name)
    for _ in range(3):
        G, v = rng.standard_normal(node.shape), rng.standard_normal(shape)
        forward = np.tensordot(J, v, axes=len(shape))
        backward = evaluate(contribution, {"x": x, "G": G}, variables={"x": ir.var("x", shape), "G": cotangent})
        assert np.isclose(np.sum(G * forward), np.sum(backward * v), rtol=1e-5, atol=1e-6), name


@pytest.mark.parametrize("name, shape", list(_cases()))
def test_diff_matches_finite_differences_in_every_layout(name, shape):
    if name in NOT_SMOOTH:
        pytest.skip("zero derivative")
    assert_derivative(f"{name}(x)", "x", {"x": shape}, values={"x": _point(name, shape)})


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("name, shape", list(_cases()))
def test_generated_code_matches_the_numpy_implementation(name, shape, backend):
    if backend != "numpy" and importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    x = _point(name, shape)
    derivative = md.diff(f"{name}(x)", wrt="x", shapes={"x": shape})
    with backend_context(backend):
        value, slope = derivative.compile(backend, with_value=True)(x=x)
    value = np.asarray(value, dtype=float)  # logsumexp of a matrix is a row: 1×n
    assert_close(value, np.reshape(FUNCTIONS[name].numpy(x), value.shape), rtol=1e-6, atol=1e-9,
                 what=f"{backend} code of {name}")
    assert_close(np.asarray(slope, dtype=float), derivative.evaluate({"x": x}), rtol=1e-6, atol=1e-9,
                 what=f"{backend} code of {name}'")


@pytest.mark.parametrize("name", ["log", "log1p", "sqrt"])
def test_outside_the_domain_is_a_domain_error(name):
    assert FUNCTIONS[name].domain
    with pytest.raises(md.DomainError):
        md.evaluate(f"{name}(x)", {"x": [-3.0, 1.0]}, shapes={"x": (2,)})


# ----- the new functions in matrix form ---------------------------------------------------------------


@pytest.mark.parametrize("expression, wrt, layout, text", [
    ("softmax(z)", "z", "numerator", "diag(softmax(z)) - softmax(z)*softmax(z)'"),
    ("softmax(W*x)", "x", "numerator", "s = softmax(W*x); (diag(s) - s*s')*W"),
    ("logsumexp(z)", "z", "gradient", "softmax(z)"),
    ("sum(logsumexp(Z))", "Z", "gradient", "softmax(Z)"),
    ("logsumexp(A*x)", "x", "gradient", "A'*softmax(A*x)"),
    ("sum(sinh(x))", "x", "gradient", "cosh(x)"),
    ("sum(cosh(x))", "x", "gradient", "sinh(x)"),
])
def test_new_derivatives_come_out_in_matrix_form(expression, wrt, layout, text):
    shapes = {"z": (4,), "Z": (3, 2), "W": (3, 4), "x": (4,), "A": (3, 4)}
    used = {name: shape for name, shape in shapes.items() if name in expression}
    assert md.diff(expression, wrt=wrt, shapes=used, layout=layout).text == text
    assert_derivative(expression, wrt, used, layouts=(layout,))  # and the text evaluates to the numbers


def test_log1p_derivative_is_a_reciprocal():
    assert md.diff("sum(log1p(x))", wrt="x", layout="gradient").text == "1 ./ (x + 1)"


def test_logsumexp_of_a_matrix_is_a_row():
    Z = _point("logsumexp", (3, 2))
    value = md.evaluate("logsumexp(Z)", {"Z": Z}, shapes={"Z": (3, 2)})
    assert np.shape(value) == (1, 2) or np.shape(value) == (2,)
    assert md.diff("logsumexp(Z)*v", wrt="v", shapes={"Z": (3, 2), "v": (2,)}).shape == (1, 2)
    with pytest.raises(md.ShapeError):
        md.diff("logsumexp(Z)*v", wrt="v", shapes={"Z": (3, 2), "v": (3,)})


def test_softmax_of_a_scalar_is_a_shape_error():
    with pytest.raises(md.ShapeError):
        md.diff("softmax(a)", wrt="a")


def test_hessian_of_logsumexp_is_the_softmax_jacobian():
    z = _point("logsumexp", (4,))
    hessian = md.diff("logsumexp(z)", wrt=("z", "z"), shapes={"z": (4,)})
    assert_close(hessian.evaluate({"z": z}), finite_difference_jacobian("softmax(z)", "z", {"z": z}, {"z": (4,)}),
                 what="Hessian of logsumexp")


# ----- every entry point --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NEW)
def test_new_functions_work_in_every_entry_point(name):
    expression, shapes = f"sum({name}(W*x))", {"W": (2, 3), "x": (3,)}
    values = {"W": 0.3 * _point(name, (2, 3)), "x": _point(name, (3,))}
    gradient = md.diff(expression, wrt="W", shapes=shapes, layout="gradient")
    explanation = md.explain(expression, wrt="W", shapes=shapes, layout="gradient")
    assert f"{name}(" in str(explanation)
    assert md.check(expression, wrt="W", claim=gradient.text, shapes=shapes, layout="gradient").correct
    entries = md.entries(expression, wrt="W", shapes=shapes, layout="gradient")
    assert np.shape(entries.values) == (2, 3)
    got = np.array([[float(e.subs({s: values[n].flat[k] for n, rows in entries.letters.items()
                                      for k, s in enumerate(_symbols(rows))})) for e in row] for row in entries.values])
    assert_close(got, gradient.evaluate(values), what=f"entries of {expression}")
    code = gradient.compile("numpy")
    assert_close(code(**values), gradient.evaluate(values), what=f"code of {expression}")
    payload = {"expression": expression, "wrt": ["W"], "shapes": {k: list(v) for k, v in shapes.items()},
               "layout": "gradient", "include": ["vec", "check", "entries", "explain", "code"]}
    status, reply = jobs.run("diff", payload)
    assert status == 200 and reply["text"] == gradient.text, reply
    sections = ("vec", "check", "entries", "explain", "code")
    assert all(section in reply and "error" not in reply[section] for section in sections), reply


def _symbols(rows):
    import sympy

    return [sympy.Symbol(letter) for row in rows for letter in row]


def test_kinds_of_action_cover_the_table():
    assert {f.acts for f in FUNCTIONS.values()} == {ENTRIES, COLUMNS, MATRIX}


# ----- one walk over the IR, two algebras ---------------------------------------------------------------


def test_both_algebras_compute_every_structural_op():
    """The numbers and the SymPy entries are one traversal (engine/interpret.py); each algebra
    names every structural op, and the functions come from the table for both."""
    import opt_einsum
    import sympy

    from matdiff.engine.interpret import STRUCTURAL_OPS
    from matdiff.engine.numeric import numpy_algebra
    from matdiff.tools.symbolic import sympy_algebra

    assert set(numpy_algebra({}, opt_einsum).structural) == STRUCTURAL_OPS
    assert set(sympy_algebra(sympy, {}).structural) == STRUCTURAL_OPS


@pytest.mark.parametrize("name, shape", [p for p in _cases() if p.values[1] != (3, 2)])
def test_the_symbolic_walk_gives_the_numbers_at_a_point(name, shape):
    """The derivative's IR walked with SymPy letters, then the letters replaced by numbers, equals
    the IR walked with NumPy at those numbers."""
    import sympy

    from matdiff.tools.symbolic import evaluate_symbolic

    if FUNCTIONS[name].acts == MATRIX and name != "inv":
        pytest.skip("a symbolic determinant of letters is slow to compare; inv covers the matrix algebra")
    x = _point(name, shape)
    derivative = md.diff(f"{name}(x)", wrt="x", shapes={"x": shape}, layout="jacobian")
    letters = np.array([sympy.Symbol(f"x{i}") for i in range(x.size)], dtype=object).reshape(shape)
    symbolic = evaluate_symbolic(derivative.tensor, {"x": letters})
    own = {each: record.numpy for each, record in FUNCTIONS.items()}  # those SymPy lacks stay by name
    at_point = np.vectorize(lambda entry: float(sympy.lambdify(list(letters.ravel()), entry, [own, "numpy"])(*x.ravel())))
    substituted = at_point(symbolic)
    assert_close(substituted, np.asarray(derivative.evaluate({"x": x})), what=name)


def test_every_fact_about_a_function_is_in_its_record():
    """Issue 23: a new function is one record plus its tests. Each of these functions is named (as a
    word, comments included) in at most 3 files of src: its record, the cookbook's identities, and
    one more; the reference rows, positivity, layer names, derivative factors, kinks, domains and
    what a matrix function means for a number or a product come from the records."""
    import re
    from pathlib import Path

    from matdiff.engine.functions import FUNCTIONS
    from matdiff.tools.checking import limited_domain
    from matdiff.web.reference import row_of

    sources = {path: path.read_text() for path in (Path(__file__).resolve().parent.parent / "src").rglob("*.py")}
    for name in ("softplus", "relu", "logdet", "sinh", "tanh"):
        naming = [path.name for path, text in sources.items() if re.search(rf"\b{name}\b", text)]
        assert len(naming) <= 3, (name, naming)
    for name, record in FUNCTIONS.items():
        syntax, meaning, example = record.reference
        assert syntax.startswith(name + "(") and meaning and example, name
        assert row_of(name) == record.reference
        md.infer_shapes(example)  # the example is in the language
        assert limited_domain(f"{name}(x)") == bool(record.domain or record.derivative_domain), name


def test_one_chooser_gives_symbolic_dimensions_distinct_small_sizes():
    """Issue 23: check, the page's check and generated scripts take sizes from ir.small_sizes, all
    different however many symbols (the script's own list once fell back to 3 after six), products
    "m*n" read by ir.dim_factors."""
    from matdiff.codegen.script import _concrete_shapes
    from matdiff.engine.ir import dim_value, small_sizes

    shapes = {name: (name.lower(), "q") for name in "ABCDEFGH"}
    sizes = small_sizes(shapes)
    assert len(set(sizes.values())) == len(sizes) == 9
    assert small_sizes([("m*n", 3)]) == {"m": 2, "n": 3} and dim_value("2*m*n", {"m": 2, "n": 3}) == 12
    d = md.diff("sum(A*B*C*D*E*F*G*x)", wrt="x", layout="gradient",
                shapes={"A": ("a", "b"), "B": ("b", "c"), "C": ("c", "d"), "D": ("d", "e"), "E": ("e", "f"),
                        "F": ("f", "g"), "G": ("g", "h"), "x": ("h",)})
    concrete, _ = _concrete_shapes(d.input_variables)
    assert len({size for shape in concrete.values() for size in shape}) == 8


def test_the_documents_list_the_functions_of_the_records():
    """Issue 23: the function lists of the README, docs/language.md and SPEC.md are checked against the
    records: every elementwise record is listed as elementwise (step and sign as derivatives), and every
    function of a whole matrix and by columns is named."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    elementwise = {name for name, f in FUNCTIONS.items() if f.acts == ENTRIES}
    derivatives_only = {"step", "sign"}  # listed beside the functions they are derivatives of
    for document in ("README.md", "docs/language.md", "SPEC.md"):
        text = (root / document).read_text()
        line = next(line for line in text.splitlines() if re.search(r"`exp log log1p [^`]*`", line))
        listed = set(re.search(r"`(exp log log1p [^`]*)`", line).group(1).split())
        assert elementwise - derivatives_only <= listed <= elementwise, (document, listed ^ elementwise)
        for name, f in FUNCTIONS.items():
            if f.acts != ENTRIES:
                assert re.search(rf"\b{name}\b", text), (document, name)
