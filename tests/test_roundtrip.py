"""Printed forms read back: ``md.evaluate(d.text)`` equals ``d.evaluate`` — for every identity of
the suite in every layout, for random expressions — and they are as short as the cookbook's.

A layout of shape (1, n) may print a row or a column, so the printed value is compared
after ``np.reshape`` to the derivative's shape (same entries, same order).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from numerics import ALL_LAYOUTS, bind_dimensions, evaluate_value, is_scalar_shape, md, random_values, rng_for
from test_cookbook import CASES, HESSIANS
from test_properties import VARIABLES, _names, programs

from matdiff.tools.cookbook import IDENTITIES, README_ROWS
from matdiff.notation.rewrite import tokens


def assert_text_reads_back(d, values, shapes, what, *, rtol=1e-7, atol=1e-9):
    got = np.asarray(d.evaluate(values), dtype=np.float64)
    if d.text is None:
        assert d.reason, f"{what}: neither a matrix form nor a reason"
        return got
    with np.errstate(all="ignore"):
        shown = np.asarray(md.evaluate(d.text, values, shapes=shapes), dtype=np.float64)
    assert shown.size == got.size, f"{what}: text {d.text!r} has shape {shown.shape}, derivative {got.shape}"
    scale = max(1.0, float(np.max(np.abs(got), initial=0.0)))
    np.testing.assert_allclose(shown.reshape(got.shape), got, rtol=rtol, atol=atol * scale,
                               err_msg=f"{what}: text {d.text!r}")
    return got


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_cookbook_case_text_reads_back(case, layout):
    values = random_values(case.shapes, rng_for(case.id), hint=case.hint,
                           dims=case.dims, expr=case.expr)
    if layout == "gradient" and not is_scalar_shape(np.shape(evaluate_value(case.expr, values, case.shapes))):
        return
    d = md.diff(case.expr, wrt=case.wrt, shapes=case.shapes, layout=layout)
    assert_text_reads_back(d, values, case.shapes, f"d({case.expr})/d{case.wrt} [{layout}]")


@pytest.mark.parametrize("layout", ALL_LAYOUTS)
@pytest.mark.parametrize("hid,expr,wrt,shapes,hint,closed", HESSIANS, ids=[h[0] for h in HESSIANS])
def test_hessian_text_reads_back(hid, expr, wrt, shapes, hint, closed, layout):
    values = random_values(shapes, rng_for(hid), hint=hint, expr=expr)
    d = md.diff(expr, wrt=wrt, shapes=shapes, layout=layout)
    assert_text_reads_back(d, values, shapes, f"d²({expr})/d{wrt} [{layout}]")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prog=programs(), seed=st.integers(0, 2**32 - 1), data=st.data())
def test_random_expression_text_reads_back_in_every_layout(prog, seed, data):
    text, _, _ = prog
    rng = np.random.default_rng(seed)
    values = {n: (float(rng.standard_normal()) if s == () else rng.standard_normal(s)) for n, s in VARIABLES.items()}
    try:  # values outside a function's domain (log of an underflowed exp) say nothing about printing
        with np.errstate(all="ignore"):
            y0 = evaluate_value(text, values, VARIABLES)
    except md.DomainError:
        assume(False)
    assume(np.all(np.isfinite(y0)) and np.max(np.abs(y0), initial=0.0) < 1e5)
    candidates = sorted(n for n in _names(text) if n in VARIABLES)
    assume(candidates)
    wrt = data.draw(st.sampled_from(candidates), label="wrt")
    layouts = [lay for lay in ALL_LAYOUTS if lay != "gradient" or is_scalar_shape(y0.shape)]
    layout = data.draw(st.sampled_from(layouts), label="layout")
    d = md.diff(text, wrt=wrt, shapes=VARIABLES, layout=layout)
    try:
        with np.errstate(all="ignore"):
            got = np.asarray(d.evaluate(values), dtype=np.float64)
    except md.DomainError:
        assume(False)
    assume(np.all(np.isfinite(got)) and np.max(np.abs(got), initial=0.0) < 1e8)
    assert_text_reads_back(d, values, VARIABLES, f"d({text})/d{wrt} [{layout}]", rtol=1e-6, atol=1e-8)


# ----- the cookbook's own forms: as short, and the same numbers ---------------------------------------


def _identity_values(identity):
    rng = rng_for(identity.expression)
    values = random_values(identity.shapes, rng, dims=bind_dimensions(identity.shapes))
    for name, shape in identity.shapes.items():
        if len(shape) == 2 and shape[0] == shape[1]:
            values[name] = values[name] + 3 * np.eye(shape[0])  # invertible, positive determinant
    return values


@pytest.mark.parametrize("identity", IDENTITIES, ids=[f"{i.topic}:{i.expression}:{i.layout}" for i in IDENTITIES])
def test_cookbook_identity_prints_compactly_and_reads_back(identity):
    d = md.diff(identity.expression, wrt=identity.wrt, shapes=identity.shapes, layout=identity.layout)
    assert d.text is not None
    assert len(tokens(d.text)) <= 1.5 * len(tokens(identity.book)), f"{d.text!r} vs the book's {identity.book!r}"
    values = _identity_values(identity)
    got = assert_text_reads_back(d, values, identity.shapes, identity.expression)
    book = np.asarray(md.evaluate(identity.book, values, shapes=identity.shapes), dtype=np.float64)
    np.testing.assert_allclose(book.reshape(got.shape), got, rtol=1e-7, atol=1e-9, err_msg=identity.book)


def test_at_least_thirty_cookbook_identities_are_measured():
    assert len(IDENTITIES) >= 30 and len(README_ROWS) == 20


def test_readme_table_is_what_matdiff_prints():
    """scripts/cookbook_table.py --check: the README table is regenerated, not hand-written."""
    script = Path(__file__).resolve().parent.parent / "scripts" / "cookbook_table.py"
    result = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
