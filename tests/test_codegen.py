"""Generated code (SPEC §3: ``d.compile``, ``d.code``; §4: ``matdiff codegen``).

Every backend that is installed is checked against ``Derivative.evaluate`` (itself checked
against finite differences in test_cookbook): the whole Matrix Cookbook table, in a layout
per case, plus the structure the code promises — standalone source, shapes checked, shared
work done once, no identity or diagonal matrix built, contraction order chosen for speed.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import zlib

import numpy as np
import pytest

from numerics import ALL_LAYOUTS, md, random_values, rng_for
from test_cookbook import CASES

from matdiff.cli import main

HAVE = {name: importlib.util.find_spec(name) is not None for name in ("jax", "torch")}
BACKENDS = [
    "numpy",
    pytest.param("jax", marks=pytest.mark.skipif(not HAVE["jax"], reason="jax is not installed (pip install 'matdiff[jax]')")),
    pytest.param("torch", marks=pytest.mark.skipif(not HAVE["torch"], reason="torch is not installed (pip install 'matdiff[torch]')")),
]


def backend_context(backend):
    """JAX computes in float32 unless asked: the comparisons here are in float64."""
    if backend == "jax":
        import jax

        return jax.enable_x64(True)
    return contextlib.nullcontext()


def run(derivative, backend, values, **options):
    """Compile for ``backend``, call with ``values``, return NumPy arrays."""
    with backend_context(backend):
        function = derivative.compile(backend, **options) if options else derivative.compile(backend)
        result = function(**values)
        return tuple(map(to_numpy, result)) if isinstance(result, tuple) else to_numpy(result)


def to_numpy(array):
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array, dtype=np.float64)


def assert_same(got, want, what):
    assert got.shape == want.shape, f"{what}: shape {got.shape}, evaluate gives {want.shape}"
    np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-9, err_msg=what)


def case_values(case):
    return random_values(case.shapes, rng_for(case.id), hint=case.hint,
                         dims=case.dims, expr=case.expr)


# ----- the whole cookbook, every backend -------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_compiled_matches_evaluate(case, backend):
    values = case_values(case)
    layouts = ALL_LAYOUTS if backend == "numpy" else [ALL_LAYOUTS[zlib.crc32(case.id.encode()) % len(ALL_LAYOUTS)]]
    for layout in layouts:
        try:
            d = md.diff(case.expr, wrt=case.wrt, shapes=case.shapes, layout=layout)
        except md.LayoutError:
            continue  # the gradient layout of a non-scalar: nothing to compile
        want = np.asarray(d.evaluate(values), dtype=np.float64)
        assert_same(run(d, backend, values), want, f"{case.expr} by {case.wrt} [{layout}] on {backend}")


@pytest.mark.parametrize("backend", BACKENDS)
def test_symbolic_dimensions_are_read_from_the_inputs(backend):
    d = md.diff("u'*A*B*C*v", wrt="B", shapes={"u": ("m",), "A": ("m", "n"), "B": ("n", "p"), "C": ("p", "q"),
                                              "v": ("q",)})
    for sizes in ({"m": 2, "n": 3, "p": 4, "q": 5}, {"m": 6, "n": 2, "p": 3, "q": 2}):
        shapes = {name: tuple(sizes[s] for s in shape) for name, shape in
                  {"u": "m", "A": "mn", "B": "np", "C": "pq", "v": "q"}.items()}
        values = random_values(shapes, np.random.default_rng(len(shapes)))
        assert_same(run(d, backend, values), d.evaluate(values), f"sizes {sizes} on {backend}")


# ----- what the generated code promises ---------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_source_is_standalone(backend):
    source = md.diff("sum(log(1 + exp(-y.*(X*w))))", wrt=("w", "w")).code(backend)
    assert "matdiff" not in re.sub(r'""".*?"""', "", source, flags=re.S), source
    compile(source, "<generated>", "exec")  # valid Python even where the backend is not installed


@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_shapes_raise_value_error_naming_the_input(backend):
    d = md.diff("x'*A*x", wrt="x", shapes={"x": ("n",), "A": ("n", "n")})
    with backend_context(backend):
        function = d.compile(backend)
        with pytest.raises(ValueError, match=r"dimension n is (3 in A but 4 in x|4 in x but 3 in A)"):
            function(A=np.eye(3), x=np.ones(4))
        with pytest.raises(ValueError, match=r"A must be n×n, but its value has shape \(3,\)"):
            function(A=np.ones(3), x=np.ones(3))
    fixed = md.diff("x'*A*x", wrt="x", shapes={"x": (3,), "A": (3, 3)}).compile("numpy")
    with pytest.raises(ValueError, match=r"A must be 3×3"):
        fixed(A=np.eye(4), x=np.ones(3))


def test_a_vector_may_be_given_as_a_column_as_evaluate_accepts():
    d = md.diff("x'*A*x", wrt="x", shapes={"x": (3,), "A": (3, 3)})
    values = {"A": np.arange(9.0).reshape(3, 3), "x": np.array([[1.0], [2.0], [3.0]])}
    assert_same(d.compile()(**values), d.evaluate(values), "column given for x")


def test_no_identity_or_diagonal_matrix_is_built():
    """∂²‖T − UVᵀ‖²/∂U² = 2·δ⊗VᵀV is written on a diagonal view; X'·diag(v)·X is X.T @ (X * v[:, None])."""
    factorisation = md.diff("norm2(T - U*V')^2", wrt=("U", "U"), shapes={"T": (6, 5), "U": (6, 2), "V": (5, 2)})
    logistic = md.diff("sum(log(1 + exp(-y.*(X*w))))", wrt=("w", "w"), shapes={"X": (50, 4), "y": (50,), "w": (4,)})
    for backend in ("numpy", "torch"):
        source = factorisation.code(backend)
        assert "eye" not in source and "kron" not in source, source
    source = logistic.code("numpy")
    assert "eye" not in source and "diag" not in source, source
    assert re.search(r"X\.T @ \w+", source) and "[:, None]" in source, source
    assert "[..., None]" not in source, "a three-way broadcast: the contraction order is wrong\n" + source


def test_common_factor_of_a_sum_is_taken_out():
    """X'·diag(a)·X + X'·diag(b)·X costs one pass over X, not two."""
    source = md.diff("sum(log(1 + exp(-y.*(X*w))))", wrt=("w", "w"),
                     shapes={"X": (50, 4), "y": (50,), "w": (4,)}).code("numpy")
    assert source.count("X *") + source.count("* X") == 1, source


def test_value_and_derivative_share_the_forward_pass():
    program = "a1 = tanh(W1*x); a2 = tanh(W2*a1); 0.5*sum((W3*a2 - y).^2)"
    shapes = {"W1": (4, 3), "W2": (4, 4), "W3": (2, 4), "x": (3,), "y": (2,)}
    d = md.diff(program, wrt="W1", shapes=shapes, layout="gradient")
    assert d.code("numpy", with_value=True).count("np.tanh(") == 2
    values = random_values(shapes, np.random.default_rng(5))
    value, gradient = d.compile("numpy", with_value=True)(**values)
    np.testing.assert_allclose(value, md.evaluate(program, values, shapes=shapes))
    assert np.shape(value) == ()
    assert_same(gradient, d.evaluate(values), "gradient beside the value")


def test_repeated_subexpressions_are_computed_once():
    d = md.diff("sum(sigmoid(W*x)) + sum(sigmoid(W*x).^2)", wrt="x", shapes={"W": (3, 4), "x": (4,)})
    source = d.code("numpy")
    assert source.count("np.tanh(") == 1, source


def test_inputs_named_like_python_keywords_or_modules():
    d = md.diff("np'*A*np", wrt="np", shapes={"np": (3,), "A": (3, 3)})
    values = {"np": np.array([1.0, 2.0, 3.0]), "A": np.arange(9.0).reshape(3, 3)}
    assert_same(d.compile("numpy")(**values), d.evaluate(values), "an input called np")


def test_unknown_backend_is_a_matdiff_error():
    with pytest.raises(md.MatdiffError, match="unknown backend"):
        md.diff("x'*x", wrt="x").code("tensorflow")


# ----- the command line ----------------------------------------------------------------------


def test_cli_codegen_prints_runnable_source(capsys):
    assert main(["codegen", "x'*A*x", "--wrt", "x", "--wrt", "x", "--shape", "x=3", "--target", "numpy"]) == 0
    source = capsys.readouterr().out
    namespace = {}
    exec(source, namespace)
    A = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(namespace["derivative"](A=A, x=np.ones(3)), A + A.T)


def test_cli_codegen_bad_input_exits_2(capsys):
    assert main(["codegen", "x'*A*", "--wrt", "x"]) == 2
    assert capsys.readouterr().err.startswith("error:")


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_the_docstring_shows_the_program_line_by_line(backend):
    """It once held the program's repr, so a program of three lines read 'z = W*x\\na = …'."""
    import ast

    program = 'z = W*x\na = sigmoid(z)  # "quoted" \\ and """triple"""\n0.5*sum((a - y).^2)'
    source = md.diff(program, wrt="W", shapes={"W": (3, 2), "x": (2,), "y": (3,)}).code(backend)
    function = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "derivative")
    doc = ast.get_docstring(function)
    assert "\\n" not in doc
    assert [line.strip() for line in doc.splitlines()[-3:]] == [line.strip() for line in program.splitlines()]
