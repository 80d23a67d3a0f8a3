"""Security and robustness (issue 10): generated code never runs user text, internal names
never collide with the user's, names mean one thing everywhere, any size the engine accepts
compiles, and every failure a user can cause is a MatdiffError.

Each reproducer of the issue is a test here; the property tests close the class around it.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from numerics import md
from test_codegen import BACKENDS, HAVE, assert_same, backend_context, run

SENTINEL = "MATDIFF_TEST_INJECTED"
PAYLOAD = f'__import__("os").environ.__setitem__("{SENTINEL}", "1")'


def compiled_backends():
    return ["numpy"] + [name for name in ("jax", "torch") if HAVE[name]]


def call_compiled(derivative, backend, **options):
    """Compile and call with a small value for each of the derivative's inputs."""
    values = {"x": np.array([0.5, -1.0]), "A": np.eye(2)}
    with backend_context(backend):
        derivative.compile(backend, **options)(**{name: values[name] for name in derivative.input_variables})


def only_in_docstring(source: str, text: str) -> None:
    """``source`` parses; ``text`` (user text) is shown in the docstring, line by line, and its
    comments (the only user text that is not a name or a number) appear in no other string."""
    tree = ast.parse(source)
    # the public function (for jax, the jitted body is _derivative, without the docstring)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and "derivative" in node.name
                    and not node.name.startswith("_"))
    docstring = ast.get_docstring(function, clean=False) or ""
    for line in text.strip().splitlines():
        assert line.strip() in docstring
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value != docstring:
            assert "#" not in node.value, node.value


# ----- generated code never runs user text ----------------------------------------------------


INJECTIONS = [
    f'x\'*x # """;{PAYLOAD};"""',
    f"x'*x # ''';{PAYLOAD};'''",
    f'x\'*x # \\""";{PAYLOAD}#',
    f'z = A*x # """\n{PAYLOAD}\n"""\nsum(z)',
    f"x'*x # \\\n{PAYLOAD}",
    f'x\'*x # \u2028{PAYLOAD}',
]


@pytest.mark.parametrize("source", INJECTIONS)
@pytest.mark.parametrize("backend", compiled_backends())
def test_no_user_text_runs_in_generated_code(source, backend, monkeypatch):
    monkeypatch.delenv(SENTINEL, raising=False)
    try:
        derivative = md.diff(source, wrt="x", shapes={"x": (2,), "A": (2, 2)})
    except md.ParseError:  # a payload outside a comment is refused by the grammar: nothing to run
        return
    for with_value in (False, True):
        code = derivative.code(backend, with_value=with_value)
        only_in_docstring(code, derivative.source)
        call_compiled(derivative, backend, with_value=with_value)
    assert SENTINEL not in os.environ


@pytest.mark.parametrize("source", [s for s in INJECTIONS if "\n" not in s])
def test_no_user_text_runs_in_a_checked_script(source, tmp_path):
    """d.code(check=True): the generated function, then the finite-difference check, run as a script."""
    derivative = md.diff(source, wrt="x", shapes={"x": (2,), "A": (2, 2)})
    script = tmp_path / "checked.py"
    script.write_text(derivative.code("numpy", check=True) + "\nimport os\nassert not os.environ.get("
                      f"{SENTINEL!r})\n")
    only_in_docstring(script.read_text(), derivative.source)
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    environment.pop(SENTINEL, None)
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=environment)
    assert ran.returncode == 0, ran.stderr[-2000:]


def test_no_user_text_runs_through_the_cli(tmp_path):
    source = f'x\'*x # """;{PAYLOAD};"""'
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    environment.pop(SENTINEL, None)
    done = subprocess.run([sys.executable, "-m", "matdiff.cli", "codegen", source, "--wrt", "x", "--shape", "x=2"],
                          capture_output=True, text=True, env=environment, check=True)
    script = tmp_path / "generated.py"
    script.write_text(done.stdout + "\nimport os\nderivative(x=[1.0, 2.0])\nassert not os.environ.get("
                      f"{SENTINEL!r})\nprint('clean')\n")
    ran = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=environment)
    assert ran.returncode == 0 and ran.stdout.strip() == "clean", ran.stderr


PIECES = ['"', "'", "\\", '"""', "'''", "\\n", "\t", "\r", "\x0c", "\x00", "é", "ｎ", "\u2028", "\ud800", "∂",
          " ", ")", "(", ";", "#", "x", "{", "}", "%s", PAYLOAD]
COMMENT_TEXT = st.lists(st.one_of(st.sampled_from(PIECES), st.characters(exclude_characters="\n")),
                        max_size=12).map("".join)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(first=COMMENT_TEXT, second=COMMENT_TEXT, program=st.booleans())
def test_comments_of_any_text_stay_comments(first, second, program):
    """Sources with quotes, backslashes, triple quotes, odd unicode in comments: every backend's
    code parses, and running it (numpy, jax) has no side effect."""
    os.environ.pop(SENTINEL, None)
    source = f"z = A*x # {first}\nsum(exp(z)) # {second}" if program else f"x'*A*x # {first}"
    derivative = md.diff(source, wrt="x", shapes={"x": (2,), "A": (2, 2)})
    for backend in ("numpy", "jax", "torch"):
        only_in_docstring(derivative.code(backend), derivative.source)
    for backend in compiled_backends():
        if backend != "torch":
            call_compiled(derivative, backend)
    assert SENTINEL not in os.environ


# ----- internal names never collide with the user's ------------------------------------------

# every name the generated code uses for itself, Python keywords and builtins it relies on
INTERNAL = ["values", "lambda", "if", "None", "float", "ValueError", "tuple", "len", "np", "jnp", "jax",
            "torch", "sizes", "dtype", "device", "out", "t1", "_check_shape", "_contract", "_paths", "_logdet",
            "_tensor", "derivative", "value_and_derivative", "match", "print", "__debug__", "__builtins__"]


def test_the_issue_reproducer_values_and_lambda():
    d = md.diff("sum(values.*lambda.*lambda)", wrt="lambda", shapes={"values": (3,), "lambda": (3,)})
    got = d.compile()(values=np.ones(3), **{"lambda": np.full(3, 2.0)})
    np.testing.assert_allclose(got, [[4.0, 4.0, 4.0]])


@pytest.mark.parametrize("name", INTERNAL)
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("role", ["input", "dimension"])
def test_an_input_may_be_named_like_anything_the_code_uses(name, backend, role):
    """As a vector input, or as a symbolic dimension (not both at once: SPEC "Layers" makes a name that
    is both an error); through the 3-operand path too."""
    other = "u" if name != "u" else "w"
    x, n = (name, "p") if role == "input" else ("v" if name != "v" else "z", name)
    source = f"sum(exp({x}).*{other}) + {x}'*M*N*K*{other}"
    shapes = {x: (n,), other: (n,), "M": (n, "k"), "N": ("k", "k"), "K": ("k", n)}
    d = md.diff(source, wrt=x, shapes=shapes)
    rng = np.random.default_rng(0)
    values = {x: rng.normal(size=3), other: rng.normal(size=3), "M": rng.normal(size=(3, 2)),
              "N": rng.normal(size=(2, 2)), "K": rng.normal(size=(2, 3))}
    value, derivative = run(d, backend, values, with_value=True)
    assert_same(derivative, d.evaluate(values), f"{name} on {backend}")
    assert_same(value, np.asarray(md.evaluate(source, values, shapes=shapes)), f"value, {name} on {backend}")


# ----- names that are one identifier after NFKC -----------------------------------------------


def test_full_width_dimension_is_the_same_dimension():
    """``n`` and ``ｎ`` are one Python identifier: normalised at the input, they are one dimension."""
    d = md.diff("x'*y", wrt="x", shapes={"x": ("n",), "y": ("ｎ",)})
    assert d.shape == (1, "n")
    with pytest.raises(ValueError, match="dimension n is 2 in x but 3 in y"):
        d.compile(with_value=True)(x=np.ones(2), y=np.ones(3))
    with pytest.raises(md.MatdiffError):
        md.evaluate("x'*y", {"x": np.ones(2), "y": np.ones(3)}, shapes={"x": ("n",), "y": ("ｎ",)})


@pytest.mark.parametrize("dimension", ["α", "²", "２", "n m", "1x", "-3", "0", "", "ｎ!"])
def test_dimensions_outside_the_language_are_refused(dimension):
    with pytest.raises(md.MatdiffError, match="dimension"):
        md.diff("x'*x", wrt="x", shapes={"x": (dimension,)})


def test_non_ascii_names_are_refused_with_a_caret():
    with pytest.raises(md.ParseError, match="ASCII") as caught:
        md.diff("x'*ｘ", wrt="x")
    assert caught.value.position == 3


@pytest.mark.parametrize("call", [
    lambda: md.diff("x'*x", wrt="x", shapes={"x": (2,), "ｘ": (3,)}),
    lambda: md.diff("x'*x", wrt="ｘ", shapes={"ｘ": (2,)}),
    lambda: md.evaluate("x'*x", {"x": [1.0], "ｘ": [2.0]}),
    lambda: md.infer_shapes("x'*x", {"x y": 2}),
], ids=["shapes", "wrt", "values", "infer"])
def test_a_variable_name_outside_the_language_is_refused_not_ignored(call):
    """``ｘ`` looks like ``x`` and is one Python identifier with it, but can never be it here."""
    with pytest.raises(md.MatdiffError, match="not a name in the language|wrt must name"):
        call()


@pytest.mark.parametrize("spec", ["x=²", "x=α", "x=2x٣"])
def test_cli_shapes_outside_the_language_are_refused(spec, capsys):
    from matdiff.cli import main

    assert main(["diff", "x'*x", "--wrt", "x", "--shape", spec]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad") and "Traceback" not in err


# ----- any size the engine accepts compiles ---------------------------------------------------


@pytest.mark.parametrize("shapes", [{"x": (3,), "A": (3, 3)}, None])
@pytest.mark.parametrize("backend", BACKENDS)
def test_more_than_52_einsum_indices(shapes, backend):
    """x'*A*…*A*x with 60 factors: more labels than einsum has letters."""
    source = "x'*" + "*".join(["A"] * 60) + "*x"
    d = md.diff(source, wrt="x", shapes=shapes)
    rng = np.random.default_rng(1)
    values = {"x": rng.normal(size=3), "A": rng.normal(size=(3, 3)) / 2}
    assert_same(run(d, backend, values), d.evaluate(values), backend)


# ----- every failure is a MatdiffError ---------------------------------------------------------


DEEP_POWER = "a" + "^2" * 390


@pytest.mark.parametrize("form", ["text", "latex", "index", "reason", "vec_text", "__repr__", "__str__"])
def test_printing_a_deep_expression_is_guarded(form):
    """Printing runs after diff() returned: outside its guard, it recursed into a RecursionError."""
    d = md.diff(DEEP_POWER, wrt="a")
    try:
        shown = getattr(d, form)
        if callable(shown):
            shown()
    except md.MatdiffError:
        pass


def test_the_cli_prints_a_deep_expression_without_a_traceback():
    done = subprocess.run([sys.executable, "-m", "matdiff.cli", "diff", DEEP_POWER, "--wrt", "a"],
                          capture_output=True, text=True, env={**os.environ, "MATDIFF_STRICT": ""})
    assert "Traceback" not in done.stderr and done.returncode in (0, 2), done.stderr[-500:]


def test_the_recursion_limit_is_restored_after_threaded_use():
    from concurrent.futures import ThreadPoolExecutor

    before = sys.getrecursionlimit()

    def work(k):
        d = md.diff(f"sum(exp(x))^{k % 3 + 2}" + "^1" * 50, wrt="x")
        return d.text, d.index, md.evaluate("x'*x", {"x": [1.0, float(k)]})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(work, range(64)))
    assert sys.getrecursionlimit() == before


@pytest.mark.parametrize("call", [
    lambda: md.evaluate("x'*A*x", [1, 2]),
    lambda: md.evaluate("x'*x", "x=1"),
    lambda: md.evaluate("x'*x", {1: [1.0]}),
    lambda: md.evaluate("x'*x", {"x": [1.0]}, shapes=[("x", 1)]),
    lambda: md.diff("x'*x", wrt="x", shapes=["x"]),
    lambda: md.diff("x'*x", wrt="x").evaluate([1.0, 2.0]),
    lambda: md.infer_shapes("x'*x", shapes=3),
], ids=["values-list", "values-str", "values-int-key", "shapes-list", "diff-shapes-list", "derivative-values-list",
        "infer-shapes-int"])
def test_arguments_of_the_wrong_type_are_matdiff_errors(call):
    with pytest.raises(md.MatdiffError, match="must be a dict"):
        call()


@pytest.mark.parametrize("value, shown", [
    (["12"], "'12'"), ("12", "'12'"), ([None, 1.0], "None"), (None, "None"), ([1j, 2.0], "1j"),
    (np.array([1.0, None], dtype=object), "None"), ({"a": 1}, "{'a': 1}"), ([[1.0, 2.0], [3.0]], None),
    (np.ma.array([1.0, 2.0], mask=[False, True]), "masked"), ([10**400, 1], "too large"),
    (np.array(["1", "2"]), "'1'"), (b"12", "b'12'"),
])
def test_values_that_are_not_real_numbers_are_refused(value, shown):
    with pytest.raises(md.ValueMismatchError, match="the value of x") as caught:
        md.evaluate("sum(x)", {"x": value})
    assert shown is None or shown in str(caught.value)
    d = md.diff("x'*x", wrt="x", shapes={"x": (2,)})
    with pytest.raises(md.ValueMismatchError, match="the value of x"):
        d.evaluate({"x": value})


@pytest.mark.parametrize("value", [[1, 2], np.array([1, 2], dtype=object), [True, False], np.float32(2.0),
                                   np.ma.array([1.0, 2.0]), [float("inf"), 1.0]])
def test_real_numbers_in_any_container_are_accepted(value):
    assert md.evaluate("sum(x)", {"x": value}) == np.sum(np.asarray(value, dtype=float))


# ----- overflow is inf everywhere, as in NumPy -------------------------------------------------


@pytest.mark.parametrize("source", ["10^400", "exp(1000)", "2^2000", "1e308*10", "1e300*1e300", "(1e-320)^-1",
                                    "0.5^-2000", "x^400", "x.^400", "exp(x)^400", "(-10)^401"])
def test_overflow_is_inf(source):
    assert np.isinf(md.evaluate(source, {"x": 10.0}))


@pytest.mark.parametrize("source", ["(-8)^(1/3)", "0^-1", "1/0", "log(0)", "sqrt(-1)", "(-x).^0.5"])
def test_domain_errors_stay_domain_errors(source):
    with pytest.raises(md.DomainError):
        md.evaluate(source, {"x": np.array([1.0, 2.0])})


@pytest.mark.parametrize("source", ["1e300*1e300*x'*x", "1e300*x'*x*1e300", "1e308*x'*x + 1e308*x'*x",
                                    "1e308 + 1e308 + x'*x", "(1e200 + 1e200)^2*x'*x", "x'*x/1e-320/1e-10"])
def test_constants_never_fold_into_inf(source):
    """Folding stops where it would overflow: the printed form stays in the language, evaluates
    to what the expression does, and stays as short as the input."""
    shapes, values = {"x": (2,)}, {"x": np.array([1.0, 2.0])}
    d = md.diff(source, wrt="x", shapes=shapes)
    assert "inf" not in d.text and "nan" not in d.text and len(d.index) < 4 * len(source) + 60
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(md.evaluate(d.text, values, shapes=shapes), d.evaluate(values))
        np.testing.assert_array_equal(d.compile()(**values), d.evaluate(values))


def test_the_hypothesis_found_power_overflow():
    """exp(B).^det(C) overflows (CI once failed on it with a DomainError): inf, and its derivative
    evaluates without an error too."""
    values = {"B": np.full((2, 2), 3.0), "C": 200.0 * np.eye(2)}
    assert np.all(np.isinf(md.evaluate("exp(B).^det(C)", values)))
    with np.errstate(all="ignore"):
        md.diff("sum(exp(B).^det(C))", wrt="B").evaluate(values)


# ----- siblings: other entry points, the command line --------------------------------------


@pytest.mark.parametrize("backend", [["numpy"], {"numpy": 1}, None, 3, "NumPy"])
def test_a_backend_that_is_not_one_is_a_matdiff_error(backend):
    d = md.diff("x'*x", wrt="x")
    for make in (d.code, d.compile):
        with pytest.raises(md.MatdiffError, match="unknown backend"):
            make(backend)


def cli(*arguments, **options):
    environment = {**os.environ, "MATDIFF_STRICT": "", **options.pop("env", {})}
    return subprocess.Popen([sys.executable, "-m", "matdiff.cli", *arguments], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=environment, **options)


def test_the_cli_writes_to_a_terminal_that_cannot_show_unicode():
    for command in (["diff", "W2*W1*h", "--wrt", "W1", "--format", "latex"], ["explain", "x'*A*x", "--wrt", "x"]):
        out, err = cli(*command, env={"PYTHONIOENCODING": "ascii"}).communicate()
        assert "Traceback" not in err and ("\\u2202" in out or "\\xd7" in out), err


def test_the_cli_stops_quietly_when_its_reader_leaves():
    program = " + ".join(f"sum(exp(A{k}*x))" for k in range(200))
    process = cli("codegen", program, "--wrt", "x")
    process.stdout.close()  # before the program could write: its first write meets a closed pipe
    assert "Traceback" not in process.stderr.read() and process.wait() == 141


def test_from_sympy_never_turns_a_number_into_a_name():
    """A float too large, oo or nan printed as text would read back as the variables inf and nan."""
    sympy = pytest.importorskip("sympy")
    a, A = sympy.Symbol("a"), sympy.MatrixSymbol("A", 2, 2)
    for expression in (a ** sympy.Integer(10**400), sympy.Float("1e400") * a, sympy.oo * a, sympy.nan * a,
                       sympy.zoo * a, sympy.I * a):
        with pytest.raises(md.MatdiffError):
            md.from_sympy(expression)
    assert md.from_sympy(A.applyfunc(sympy.exp)).text == "exp((A))"


@pytest.mark.parametrize("name", ["ｘ", "α", "x y"])
def test_from_sympy_names_outside_the_language_are_refused(name):
    sympy = pytest.importorskip("sympy")
    with pytest.raises(md.MatdiffError, match="not a name in the language|not an integer or a single symbol"):
        md.from_sympy(sympy.MatrixSymbol(name, 2, 1).T * sympy.MatrixSymbol("y", 2, 1))
    with pytest.raises(md.MatdiffError):
        md.from_sympy(sympy.MatrixSymbol("x", sympy.Symbol(name), 1).T * sympy.MatrixSymbol("x", sympy.Symbol(name), 1))


TOWER = "2^2^2^2^2^2^2*a"  # 2^(2^(2^65536)): no machine holds its digits


@pytest.mark.parametrize("what", ["to_sympy", "entries", "entries-deep"])
def test_exact_arithmetic_never_computes_a_tower_of_powers(what):
    """SymPy evaluates powers of numbers exactly; the bridge and entries must not ask it to (in a
    subprocess: a regression would hang, not fail)."""
    pytest.importorskip("sympy")
    script = {"to_sympy": f"print(md.diff({TOWER!r}, wrt='a').to_sympy())",
              "entries": f"print(md.entries({TOWER!r}, 'a'))",
              "entries-deep": "try:\n    md.entries('a' + '^2' * 390, 'a')\nexcept md.LimitError as error:\n    print(error)"}[what]
    done = subprocess.run([sys.executable, "-c", f"import matdiff as md\n{script}"], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert done.returncode == 0 and ("2**(2**(2**65536))" in done.stdout or "too large" in done.stdout), done.stderr


def test_a_limit_in_the_environment_with_a_unicode_digit_is_ignored():
    """"²".isdigit() is True but int("²") fails: read at import, it would break every import."""
    done = subprocess.run([sys.executable, "-c", "from matdiff import limits; print(limits.current.max_depth)"],
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "MATDIFF_MAX_DEPTH": "²"})
    from matdiff.limits import Limits

    assert done.returncode == 0 and done.stdout.strip() == str(Limits().max_depth), done.stderr
