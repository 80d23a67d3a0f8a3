"""Fuzzing the parser, the shape checker and the differentiator (issue 7).

The contract (SPEC §3): whatever the input, ``md.diff``/``md.evaluate`` give a result or a
``MatdiffError`` with a one-line message, quickly. With MATDIFF_STRICT=1 (tests/conftest.py)
any other exception surfaces here as itself, so a bug cannot hide behind InternalError.

Three generators, from blind to structured:
- token soup: fragments of the language mixed with unicode, huge numbers and stray brackets;
- syntax trees: grammatical programs whose shapes are usually *wrong* (the shape checker's
  job is to say so), with random declared shapes, layouts and orders of differentiation;
- values: random arrays, NaN, inf and wrong shapes fed to ``evaluate``.

``bench/fuzz_atheris.py`` runs the same contract under atheris' coverage-guided fuzzer;
the last test here runs it briefly when atheris is installed.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import matdiff as md

TIME_BOUND = 20.0  # seconds for one input, generous for a loaded CI machine
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


class _Expired(Exception):
    pass


def _bounded(function, *args, **kwargs):
    """function(*args, **kwargs), the result or the MatdiffError raised, within TIME_BOUND."""
    def expired(signum, frame):
        raise _Expired(f"no answer within {TIME_BOUND} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TIME_BOUND)
    try:
        return function(*args, **kwargs)
    except md.MatdiffError as error:
        assert isinstance(error.message, str) and error.message and "\n" not in error.message, repr(error)
        if error.position is not None and error.source is not None:
            assert 0 <= error.position <= len(error.source), (error.position, len(error.source))
            error.caret()
        return error
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _differentiate_and_print(expression, wrt, shapes=None, layout="numerator"):
    d = md.diff(expression, wrt=wrt, shapes=shapes, layout=layout)
    _ = d.text, d.index, d.latex, d.shape, repr(d), d._repr_latex_()
    return d


# ----- token soup -----------------------------------------------------------------------------

FRAGMENTS = ["x", "y", "A", "B", "W1", "h", "a", "t", "_", "x_2", "alpha", "2", "0.5", "1e-3", "1e308", "1e999",
             ".5", "3.", "0", "007", "(", ")", "((", "))", ",", ";", "\n", "=", "+", "-", "*", "/", "^", "'", ".*",
             "./", ".^", " ", "\t", "#", "tr(", "det(", "logdet(", "inv(", "diag(", "sum(", "norm2(", "norm1(",
             "kron(", "vec(", "eye(", "ones(", "exp(", "log(", "sqrt(", "relu(", "sigmoid(", "abs(", "step(",
             "sign(", "foo(", "α", "′", "∑", "\x00", "\u200b", "😀", "\\", "[", "]", "{", "}", "@", "!", "..", "''"]


@FUZZ
@given(text=st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join),
       wrt=st.sampled_from(["x", "A", "a", "W1", "h", "t", "y"]),
       layout=st.sampled_from(["numerator", "denominator", "gradient", "jacobian", "vec"]))
def test_token_soup_gives_a_result_or_a_matdiff_error(text, wrt, layout):
    _bounded(_differentiate_and_print, text, wrt, layout=layout)


@FUZZ
@given(text=st.text(max_size=80))
def test_any_unicode_text_gives_a_result_or_a_matdiff_error(text):
    _bounded(_differentiate_and_print, text, "x")
    _bounded(md.infer_shapes, text)


# ----- syntax trees: grammatical, usually ill-shaped ------------------------------------------------

NAMES = ["x", "y", "h", "A", "B", "W", "a", "b"]
UNARY = ["exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus", "sqrt", "abs", "tr", "det",
         "logdet", "inv", "diag", "sum", "norm2", "norm1", "vec", "step", "sign"]
NUMBERS = ["0", "1", "2", "-1", "0.5", "3", "1e-8", "1e8", "64", "65"]


def _trees():
    leaves = st.one_of(st.sampled_from(NAMES), st.sampled_from(NUMBERS), st.just("eye(2)"), st.just("ones(2)"),
                       st.just("eye(n)"), st.just("ones(2, 3)"))

    def extend(inner):
        return st.one_of(
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", ".*", "./"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(["^", ".^"]), st.sampled_from(NUMBERS + NAMES)).map(
                lambda t: f"({t[0]}){t[1]}{t[2]}"),
            st.tuples(st.sampled_from(UNARY), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, inner).map(lambda t: f"kron({t[0]}, {t[1]})"),
            inner.map(lambda t: f"({t})'"),
            inner.map(lambda t: f"-{t}"),
        )

    return st.recursive(leaves, extend, max_leaves=12)


def _programs():
    single = _trees()
    assigned = st.tuples(_trees(), _trees()).map(lambda t: f"z = {t[0]}; {t[1].replace('y', 'z')}")
    return st.one_of(single, single, assigned)


DIMENSIONS = st.one_of(st.integers(1, 4), st.sampled_from(["n", "m", "k"]))
SHAPE = st.one_of(st.just(()), st.tuples(DIMENSIONS), st.tuples(DIMENSIONS, DIMENSIONS))


@FUZZ
@given(program=_programs(),
       shapes=st.dictionaries(st.sampled_from(NAMES + ["z"]), SHAPE, max_size=5),
       wrt=st.one_of(st.sampled_from(NAMES + ["z"]), st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES))),
       layout=st.sampled_from(["numerator", "denominator", "gradient", "jacobian", "vec"]))
def test_grammatical_programs_with_random_shapes_give_a_result_or_a_matdiff_error(program, shapes, wrt, layout):
    outcome = _bounded(_differentiate_and_print, program, wrt, shapes, layout)
    if isinstance(outcome, md.Derivative):  # the numbers at a random point: a result or a MatdiffError
        inferred = _bounded(md.infer_shapes, program, shapes)
        if isinstance(inferred, dict):
            rng = np.random.default_rng(0)
            sizes = {"n": 2, "m": 3, "k": 2}  # any other symbolic dimension: 2
            values = {name: rng.standard_normal(tuple(sizes.get(d, 2) if isinstance(d, str) else d for d in shape))
                      for name, shape in inferred.items()}
            _bounded(outcome.evaluate, values)


@FUZZ
@given(program=_trees(), values=st.dictionaries(
    st.sampled_from(NAMES),
    st.one_of(st.floats(allow_nan=True, allow_infinity=True),
              st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=3),
              st.lists(st.lists(st.floats(-1e300, 1e300), min_size=2, max_size=2), min_size=2, max_size=2),
              st.just("text"), st.just(None), st.just([[1.0], [2.0, 3.0]])),
    max_size=6))
def test_evaluate_with_odd_values_gives_a_result_or_a_matdiff_error(program, values):
    _bounded(md.evaluate, program, values)


# ----- the shape checker: declared shapes of every kind --------------------------------------------

ODD_SHAPES = st.one_of(SHAPE, st.just("scalar"), st.just(None), st.just("n"), st.integers(-3, 5),
                       st.tuples(st.integers(-2, 3)), st.tuples(st.floats(0, 3), st.integers(1, 3)),
                       st.lists(st.integers(1, 3), max_size=4), st.just(("", "m")), st.just(("1x", 2)),
                       st.just(object()), st.just((True, 2)), st.just((10**12, 10**12)))


@FUZZ
@given(expression=st.sampled_from(["x'*A*x", "W2*W1*h", "A*B", "sum(sigmoid(W*x))", "kron(A, B)", "vec(A)'*x",
                                   "logdet(X)", "tr(A*B')", "z = W*x; sum(z.^2)", "x'*y", "diag(x)*A"]),
       shapes=st.dictionaries(st.sampled_from(["x", "y", "A", "B", "W", "W1", "W2", "h", "X", "z"]), ODD_SHAPES,
                              max_size=4),
       wrt=st.sampled_from(["x", "A", "B", "W1", "X", "W", "z"]))
def test_declared_shapes_of_any_kind_give_a_result_or_a_matdiff_error(expression, shapes, wrt):
    _bounded(_differentiate_and_print, expression, wrt, shapes)


# ----- atheris ---------------------------------------------------------------------------------------------


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris is not installed")
def test_atheris_harness_runs_clean_for_a_few_seconds(tmp_path):
    harness = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "fuzz_atheris.py")
    start = time.perf_counter()
    result = subprocess.run([sys.executable, harness, "-max_total_time=8", "-rss_limit_mb=2048",
                             f"-artifact_prefix={tmp_path}/"], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, MATDIFF_STRICT="1"))
    assert result.returncode == 0, result.stderr[-3000:]
    assert time.perf_counter() - start < 100


# ----- the parser's fast path (flat chains of names and numbers) against lark ----------------

FLAT_FRAGMENTS = ["x", "A", "a_2", "W1", "2", "0.5", "1e-3", "1e999", ".5", "3.", "1.e5", "+", "-", "*", "/",
                  ".*", "./", "'", " ", "\t", "(", ")", "^", ".^", "#", ";", "\n", "sum(", "1.", "..", "α"]


def _lark_statements(source: str):
    """What the grammar builds for source: its statements, or the MatdiffError it raises."""
    from matdiff.language import syntax

    try:
        return repr(tuple(syntax._parser().parse(source)))
    except Exception as error:  # lark's own exception or the transformer's, wrapped
        inner = getattr(error, "orig_exc", error)
        return type(inner).__name__


_OPERAND = st.tuples(st.sampled_from(["x", "A", "a_2", "2", "0.5", "1e-3", "1e999", ".5", "3.", "1.e5"]),
                     st.sampled_from(["", "'", "''", " '"])).map("".join)
_FLAT_CHAIN = st.tuples(_OPERAND, st.lists(st.tuples(st.sampled_from(["+", " - ", "*", "/", " .* ", "./"]), _OPERAND)
                                                .map("".join), max_size=8).map("".join)).map("".join)


@FUZZ
@given(text=st.one_of(st.lists(st.sampled_from(FLAT_FRAGMENTS), max_size=30).map("".join), _FLAT_CHAIN))
def test_fast_path_builds_what_lark_builds(text):
    """Whatever the fast path takes, lark takes too and builds the same tree (positions and depths
    included); what it declines goes to lark, so errors are lark's."""
    from matdiff.language import syntax

    try:
        fast = syntax._fast_parse(text)
    except md.MatdiffError as error:  # a number too large: lark's transformer says the same
        assert _lark_statements(text) in ("VisitError", type(error).__name__, "ParseError")
        assert isinstance(_bounded(md.diff, text, wrt="x"), md.ParseError)
        return
    if fast is not None:
        assert repr(fast) == _lark_statements(text)


def test_a_hundred_thousand_term_sum_takes_the_fast_path():
    from matdiff.language import syntax

    source = " + ".join(["a", "x'*A*x", "2.5"] * 1000)
    assert repr(syntax._fast_parse(source)) == _lark_statements(source)
    assert syntax._fast_parse("+".join(["a"] * 100_000)) is not None
