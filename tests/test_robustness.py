"""Robustness (issue 7): whatever the input, a result or a MatdiffError, quickly.

Deep nesting (10,000 levels of every kind), 5,000-term sums, 3,000-factor products, huge and
NaN numbers, unicode and empty input. No RecursionError, no hang, no unbounded work: nesting
deeper than ``limits.max_depth`` is refused by the parser with a LimitError, long chains are
kept flat, and each call here must finish inside a time bound (an alarm turns a hang into a
failure instead of a stuck CI job).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np
import pytest

import matdiff as md
from matdiff import limits

DEEP = 10_000


@contextmanager
def time_bound(seconds: float):
    """Fail (rather than hang) when the block takes longer than ``seconds``."""
    def expired(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert time.perf_counter() - start < seconds


def _outcome(expression: str, wrt: str = "x", **options):
    """The derivative with every printed form touched, or the MatdiffError raised."""
    try:
        d = md.diff(expression, wrt=wrt, **options)
        _ = d.text, d.index, d.latex, d.shape
        return d
    except md.MatdiffError as error:
        assert error.message and "\n" not in error.message
        return error


@pytest.fixture
def restore_limits():
    saved = limits.current
    yield
    limits.current = saved


# ----- 10,000 levels of every kind of nesting -------------------------------------------------------

NESTINGS = {
    "parentheses": ("(" * DEEP + "x" + ")" * DEEP, "x"),
    "negations": ("-(" * DEEP + "x" + ")" * DEEP, "x"),
    "bare negations": ("-" * DEEP + "x", "x"),
    "unary plus": ("+" * DEEP + "x", "x"),
    "calls": ("exp(" * DEEP + "x" + ")" * DEEP, "x"),
    "matrix calls": ("tr(" * DEEP + "A" + ")" * DEEP, "A"),
    "transposes": ("x" + "'" * DEEP, "x"),
    "parenthesised transposes": ("(" * DEEP + "A" + ")'" * DEEP, "A"),
    "power tower": ("^".join(["a"] * DEEP), "a"),
    "elementwise power tower": (".^".join(["x"] * DEEP), "x"),
    "right-nested products": ("A*(" * DEEP + "A" + ")" * DEEP, "A"),
    "right-nested sums": ("x+(" * DEEP + "x" + ")" * DEEP, "x"),
    "nested arguments": ("kron(" * DEEP + "A" + ", A)" * DEEP, "A"),
}


@pytest.mark.parametrize("name", NESTINGS)
def test_ten_thousand_levels_end_in_a_result_or_a_limit_error(name):
    expression, wrt = NESTINGS[name]
    with time_bound(20):
        outcome = _outcome(expression, wrt)
    if name == "parentheses":  # parentheses alone add no depth
        assert isinstance(outcome, md.Derivative) and outcome.text == "eye(n)"
    else:
        assert isinstance(outcome, md.LimitError), outcome
        assert "nested too deeply" in outcome.message and outcome.position is not None


def test_nesting_error_has_a_caret_and_names_the_limit():
    with pytest.raises(md.LimitError) as caught:
        md.diff("sin(" * 1000 + "x" + ")" * 1000, wrt="x")
    assert "400" in caught.value.message and "limits" in caught.value.message
    assert caught.value.caret().endswith("^")


@pytest.mark.parametrize("function", ["sin", "tanh", "sigmoid"])
def test_nesting_just_under_the_limit_differentiates_and_prints(function):
    depth = limits.current.max_depth - 10
    with time_bound(30):
        d = md.diff(f"{function}(" * depth + "x" + ")" * depth, wrt="x", shapes={"x": (2,)})
        assert d.text is not None and d.index and d.latex
        values = {"x": np.array([0.1, -0.2])}
        assert np.all(np.isfinite(d.evaluate(values)))


def test_deep_chain_of_matrix_products_differentiates_and_evaluates():
    depth = limits.current.max_depth - 10
    with time_bound(30):
        d = md.diff("A*(" * depth + "x" + ")" * depth, wrt="x", shapes={"A": (2, 2), "x": (2,)})
        assert d.evaluate({"A": 0.5 * np.eye(2), "x": np.ones(2)}).shape == (2, 2)


# ----- long flat chains ----------------------------------------------------------------------------


def _check_derivative(d: md.Derivative, values: dict, expected) -> None:
    np.testing.assert_allclose(np.asarray(d.evaluate(values), dtype=float), expected, rtol=1e-9)


def test_five_thousand_term_sum_of_one_variable():
    with time_bound(30):
        d = md.diff("+".join(["x"] * 5000), wrt="x", shapes={"x": (2,)})
        assert d.text == "5000*eye(2)"
        _check_derivative(d, {"x": np.ones(2)}, 5000 * np.eye(2))


def test_five_thousand_term_sum_of_distinct_variables():
    with time_bound(30):
        expression = " + ".join(f"sin(x{i})" for i in range(5000))
        d = md.diff(expression, wrt="x17")
        assert d.text is not None and d.index
        values = {f"x{i}": np.full(3, 0.5) for i in range(5000)}
        _check_derivative(d, values, np.diag(np.cos(np.full(3, 0.5))))


def test_five_thousand_term_alternating_sum_with_scalars_mixed_in():
    with time_bound(30):
        expression = "x" + "".join(f" {'-' if i % 2 else '+'} {'a' if i % 7 == 0 else 'x'}" for i in range(4999))
        d = md.diff(expression, wrt="a", shapes={"x": (3,), "a": ()})
        assert d.shape == (3, 1)  # numerator layout of a vector by a scalar


def test_three_thousand_factor_product_of_one_scalar():
    with time_bound(30):
        d = md.diff("*".join(["a"] * 3000), wrt="a")
        assert d.text == "3000*a^2999"
        _check_derivative(d, {"a": 1.0}, 3000.0)


def test_three_thousand_factor_product_of_distinct_scalars():
    with time_bound(30):
        d = md.diff("*".join(f"a{i}" for i in range(3000)), wrt="a5")
        assert d.text is not None and len(d.text) < 100_000
        values = {f"a{i}": 1.0 for i in range(3000)} | {"a7": 2.0}
        _check_derivative(d, values, 2.0)


def test_three_thousand_factor_product_of_distinct_matrices():
    with time_bound(60):
        d = md.diff("*".join(f"A{i}" for i in range(3000)), wrt="A0", shapes={f"A{i}": (2, 2) for i in range(3000)},
                    layout="jacobian")
        assert d.shape == (2, 2, 2, 2) and d.index
        values = {f"A{i}": np.eye(2) for i in range(3000)}
        expected = np.einsum("ik,lj->ijkl", np.eye(2), np.eye(2))
        _check_derivative(d, values, expected)


def test_three_thousand_factor_product_of_one_matrix_evaluates():
    with time_bound(60):
        d = md.diff("*".join(["A"] * 3000), wrt="A", shapes={"A": (2, 2)}, layout="vec")
        _check_derivative(d, {"A": np.eye(2)}, 3000 * np.eye(4))


def test_three_thousand_factor_elementwise_product_evaluates():
    with time_bound(60):
        d = md.diff(".*".join(["x"] * 3000), wrt="x", shapes={"x": (2,)})
        _check_derivative(d, {"x": np.ones(2)}, 3000 * np.eye(2))


def test_program_of_many_statements():
    with time_bound(30):
        program = "t0 = x\n" + "\n".join(f"t{i} = sin(t{i - 1})" for i in range(1, 300)) + "\nsum(t299)"
        d = md.diff(program, wrt="x", shapes={"x": (2,)}, layout="gradient")
        assert np.all(np.isfinite(d.evaluate({"x": np.array([0.3, 0.4])})))


# ----- numbers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["1e999", "1" * 400, "9" * 309 + ".0"])
def test_number_too_large_for_a_double_is_a_parse_error(text):
    with pytest.raises(md.ParseError) as caught:
        md.evaluate(text + "*x", {"x": [1.0]})
    assert caught.value.position == 0


def test_numbers_that_overflow_in_arithmetic_give_inf_not_an_exception():
    assert md.evaluate("1e308*10", {}) == np.inf
    assert md.evaluate("1e-999*x", {"x": [1.0]}) == 0.0


def test_nan_and_inf_values_flow_through():
    assert np.isnan(md.evaluate("2*x", {"x": [np.nan, 1.0]})[0])
    gradient = md.diff("sum(exp(x))", wrt="x", layout="gradient").evaluate({"x": [np.inf, 0.0]})
    assert gradient[0] == np.inf and gradient[1] == 1.0


@pytest.mark.parametrize("name", ["NaN", "nan", "inf", "Inf"])
def test_nan_and_inf_are_ordinary_names(name):
    d = md.diff(f"{name}*x", wrt="x")
    assert name in d.text


# ----- text that is not the language -------------------------------------------------------------------

UNICODE = ["x′*A*x", "α*x", "x\x00", "😀", "x\u200b+x", "ｘ", "x\u202e+y", "∑x", "x·y", "x × y", "\ufeffx",
           "x\u00a0+ y", "A⁻¹", "√x", "\udcff"]


@pytest.mark.parametrize("text", UNICODE)
def test_unicode_is_a_located_parse_error(text):
    with pytest.raises(md.ParseError) as caught:
        md.diff(text, wrt="x")
    assert caught.value.position is not None and 0 <= caught.value.position <= len(text)
    assert caught.value.caret()


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "# only a comment", ";;;", "\t;\n"])
def test_empty_input_is_a_parse_error(text):
    with pytest.raises(md.ParseError):
        md.diff(text, wrt="x")


@pytest.mark.parametrize("value", [None, b"x", 3, ["x"], {"x": 1}])
def test_non_text_expression_is_a_parse_error(value):
    with pytest.raises(md.ParseError):
        md.diff(value, wrt="x")


@pytest.mark.parametrize("wrt", ["", "x'", "1x", None, 3, ("x", 3), ()])
def test_bad_wrt_is_a_matdiff_error(wrt):
    with pytest.raises(md.MatdiffError):
        md.diff("x", wrt=wrt)


@pytest.mark.parametrize("shape", [(-1,), (0,), (2.5,), (1, 2, 3), (True,), ("1x",), object()])
def test_bad_shape_is_a_matdiff_error(shape):
    with pytest.raises(md.MatdiffError):
        md.diff("x'*x", wrt="x", shapes={"x": shape})


# ----- the limits: documented, configurable, enforced -------------------------------------------------


def test_input_longer_than_the_limit_is_refused_before_parsing():
    with time_bound(5), pytest.raises(md.LimitError):
        md.diff("x+" * 150_000 + "x", wrt="x")


def test_configure_raises_the_depth_limit(restore_limits):
    expression = "exp(" * 600 + "x" + ")" * 600
    with pytest.raises(md.LimitError):
        md.diff(expression, wrt="x")
    limits.configure(max_depth=1000)
    assert limits.current.max_depth == 1000
    assert md.diff(expression, wrt="x", shapes={"x": (2,)}).evaluate({"x": [0.0, -1.0]}).shape == (2, 2)


def test_configure_lowers_the_source_length_limit(restore_limits):
    limits.configure(max_source_length=10)
    with pytest.raises(md.LimitError):
        md.diff("x + x + x + x", wrt="x")


def test_matrix_power_limit(restore_limits):
    with pytest.raises(md.LimitError):
        md.diff("X^65", wrt="X")
    with pytest.raises(md.LimitError):
        md.diff("X^1000000000000000000", wrt="X")
    limits.configure(max_matrix_power=2)
    with pytest.raises(md.LimitError):
        md.diff("X^3", wrt="X")


def test_numeric_size_limit(restore_limits):
    with pytest.raises(md.LimitError):
        md.evaluate("sum(ones(100000, 100000))", {})
    limits.configure(max_numeric_size=10)
    with pytest.raises(md.LimitError):
        md.evaluate("sum(x)", {"x": np.ones(11)})


def test_configure_rejects_unknown_limits(restore_limits):
    with pytest.raises(TypeError):
        limits.configure(max_everything=1)


def test_limits_are_read_from_the_environment():
    code = ("import matdiff as md; from matdiff import limits; "
            "print(limits.current.max_depth, limits.current.max_source_length); "
            "md.diff('exp(' * 600 + 'x' + ')' * 600, wrt='x')")
    environment = dict(os.environ, MATDIFF_MAX_DEPTH="1000", MATDIFF_MAX_SOURCE_LENGTH="5000")
    result = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1000", "5000"]


def test_command_line_reports_a_limit_without_a_traceback():
    deep = "sin(" * 5000 + "x" + ")" * 5000
    result = subprocess.run([sys.executable, "-c", "import sys; from matdiff.cli import main; sys.exit(main())",
                             "diff", deep, "--wrt", "x"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "nested too deeply" in result.stderr
