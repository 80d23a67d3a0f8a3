"""Differential testing, CI size: 500 random well-shaped expressions (bench/differential.py).

Each case is compared with finite differences of an independent interpreter of the language,
its value with ``md.evaluate`` and its printed matrix form with the numbers; every fifth case
also with ``jax.jacobian`` of the interpreter on jax.numpy (skipped when jax is missing).
The long run (10,000 cases) and its findings are in BENCHMARKS.md; every mismatch it found
is a test in tests/test_regressions.py.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench", "differential.py")
_SPEC = importlib.util.spec_from_file_location("differential", _PATH)
assert _SPEC is not None and _SPEC.loader is not None
differential = importlib.util.module_from_spec(_SPEC)
sys.modules["differential"] = differential
_SPEC.loader.exec_module(differential)

COUNT, SEED, JAX_EVERY = 500, 2024, 5


def _report(outcomes) -> str:
    return "\n".join(f"[{o.kind}] {o.detail}\n    {o.repro()}" for o in outcomes if o.status == "mismatch")


def test_random_expressions_match_finite_differences():
    outcomes = differential.run(COUNT, SEED, jax_every=0)
    summary = differential.summary(outcomes)
    assert summary["count"] == COUNT
    assert summary["compared"] >= 0.9 * COUNT, summary  # few points are unsuitable (kinks, overflow)
    assert summary["mismatches"] == 0, _report(outcomes)


def test_random_expressions_match_jax_jacobian():
    pytest.importorskip("jax")
    todo = [case for case in differential.cases(COUNT, SEED) if case.index % JAX_EVERY == 0]
    outcomes = [differential.run_case(case, use_jax=True) for case in todo]
    assert sum(o.status == "ok" for o in outcomes) >= 0.9 * len(todo)
    assert not [o for o in outcomes if o.status == "mismatch"], _report(outcomes)


def test_cases_are_reproducible_from_their_seed():
    first = differential.cases(20, SEED)
    again = differential.cases(20, SEED)
    assert [(c.program, c.wrt, c.layout, c.value_seed) for c in first] == \
           [(c.program, c.wrt, c.layout, c.value_seed) for c in again]


def test_generator_covers_the_language():
    programs = " ".join(case.program for case in differential.cases(COUNT, SEED))
    for construct in ["'", ".*", "./", ".^", "^", "inv(", "det(", "logdet(", "tr(", "diag(", "sum(", "norm2(",
                      "norm1(", "kron(", "vec(", "eye(", "ones(", "relu(", "abs(", "sigmoid(", "softplus(", "log(",
                      "sqrt(", "tan(", "t = "]:
        assert construct in programs, construct
    layouts = {case.layout for case in differential.cases(COUNT, SEED)}
    assert layouts == set(differential.LAYOUTS)


def test_interpreter_agrees_with_the_language_on_the_motivating_example():
    import numpy as np

    from matdiff.language.syntax import parse

    values = {"W2": np.array([[1.0, 2.0]]), "W1": np.eye(2), "h": np.array([3.0, 4.0])}
    interpreted = differential.Interpreter(np).run(parse("W2*W1*h"), values)
    assert interpreted.shape == (1, 1) and float(interpreted[0, 0]) == 11.0
