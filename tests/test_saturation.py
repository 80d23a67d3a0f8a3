"""Elementwise algebra by equality saturation (notation/saturation.py, issue 24): every identity of the
table holds by numbers, the search finds forms one-way rewriting cannot reach, and it is bounded by
counts, never by the clock, and kept off large programs."""

from __future__ import annotations

import numpy as np
import pytest

from numerics import assert_close, md

from matdiff.notation import saturation
from matdiff.notation.mtree import call, hadamard, leaf, negate_, number, total
from matdiff.notation.printing import text
from matdiff.notation.saturation import IDENTITIES, MAX_NODES, saturated

pytest.importorskip("egglog")

PATTERN_SHAPES = {name: (3,) for name in "abcm"}


@pytest.mark.parametrize("identity", IDENTITIES, ids=[identity.name for identity in IDENTITIES])
def test_each_identity_holds(identity):
    """left = right at random points (positive, where log and fractional powers are defined)."""
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = {name: rng.uniform(0.3, 1.5, 3) for name in PATTERN_SHAPES}
        left = md.evaluate(identity.left, values, shapes=PATTERN_SHAPES)
        right = md.evaluate(identity.right, values, shapes=PATTERN_SHAPES)
        assert_close(np.broadcast_to(right, np.shape(left)), left, what=identity.name)


def test_every_identity_is_a_rule_of_the_search():
    language = saturation._language()
    assert len(language.rules) == len(IDENTITIES) + 3  # and the folding of numbers: + * and negation


M, Y = leaf("m", "column"), leaf("y", "column")
ONE_MINUS_SIGMOID = total(number(1.0), negate_(call("sigmoid", (M,), "column")))


@pytest.mark.parametrize("tree, expected", [
    (hadamard(ONE_MINUS_SIGMOID, Y), "sigmoid(-m).*y"),        # through 1 - σ(m) = σ(-m), backwards
    (call("log", (ONE_MINUS_SIGMOID,), "column"), "-softplus(m)"),
    (call("log", (total(number(1.0), call("exp", (M,), "column")),), "column"), "softplus(m)"),
    (hadamard(call("exp", (M,), "column"), call("exp", (Y,), "column")), "exp(m + y)"),
])
def test_the_search_finds_the_shorter_form(tree, expected):
    found = saturated(tree)
    assert found is not None and text(found) == expected


def test_a_form_already_shortest_is_left_alone():
    assert saturated(hadamard(call("sigmoid", (M,), "column"), Y)) is None


def test_the_logistic_gradient_prints_as_the_textbooks_do():
    shapes = {"X": (6, 3), "w": (3,), "y": (6,)}
    d = md.diff("sum(log(1 + exp(-y.*(X*w))))", wrt="w", shapes=shapes, layout="gradient")
    assert d.text == "-X'*(sigmoid(-y.*(X*w)).*y)"
    values = {"X": np.random.default_rng(1).standard_normal((6, 3)), "w": np.array([0.3, -0.2, 0.5]),
              "y": np.array([1.0, -1.0, 1.0, 1.0, -1.0, -1.0])}
    assert_close(md.evaluate(d.text, values, shapes=shapes), d.evaluate(values))


def test_the_search_is_bounded_by_counts_and_gives_the_same_answer_twice(monkeypatch):
    searches = []
    real = saturation._searched.__wrapped__
    monkeypatch.setattr(saturation, "_searched", lambda x: searches.append(x) or real(x))
    big = ONE_MINUS_SIGMOID
    for k in range(MAX_NODES):  # a fragment over the budget: no search
        big = total(big, call("sigmoid", (leaf(f"v{k}", "column"),), "column"))
    assert saturated(big) is None and not searches
    first, second = real(hadamard(ONE_MINUS_SIGMOID, Y)), real(hadamard(ONE_MINUS_SIGMOID, Y))
    assert first == second


def test_a_deep_network_is_not_searched(monkeypatch):
    """The 32-layer network's answer has no fragment the identities are about: no e-graph is built."""
    searches = []
    real = saturation._searched.__wrapped__
    monkeypatch.setattr(saturation, "_searched", lambda x: searches.append(x) or real(x))
    layers = "; ".join(f"a{k} = sigmoid(W{k}*a{k - 1})" for k in range(1, 33)).replace("a0", "x")
    shapes = {**{f"W{k}": (4, 4) for k in range(1, 33)}, "x": (4,), "y": (4,)}
    d = md.diff(f"{layers}; 0.5*sum((a32 - y).^2)", wrt="W1", shapes=shapes, layout="gradient")
    assert d.text is not None and not searches


# ----- property: whatever the search returns is the same numbers ------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

_LEAVES = [leaf("a", "column"), leaf("b", "column"), number(1.0), number(2.0), number(-0.5)]
_FUNCTIONS = ["sigmoid", "exp", "log", "softplus"]


def _trees():
    def extend(children):
        return st.one_of(
            st.builds(lambda x, y: total(x, y), children, children),
            st.builds(lambda x, y: total(x, negate_(y)), children, children),
            st.builds(lambda x, y: hadamard(x, y) if "column" in (x.shape_class, y.shape_class) else total(x, y),
                      children, children),
            st.builds(lambda name, x: call(name, (x,), x.shape_class), st.sampled_from(_FUNCTIONS), children),
        )
    return st.recursive(st.sampled_from(_LEAVES), extend, max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(_trees())
def test_a_searched_form_is_the_same_numbers(tree):
    """Random elementwise trees over two vectors: a form the search returns evaluates as the tree does
    (positive points, where log is defined for the leaves; both sides NaN together elsewhere)."""
    found = saturated(tree)
    if found is None:
        return
    shapes = {"a": (3,), "b": (3,)}
    values = {"a": np.array([0.3, 0.9, 1.7]), "b": np.array([1.2, 0.4, 2.5])}
    with np.errstate(all="ignore"):
        try:
            before = np.asarray(md.evaluate(text(tree), values, shapes=shapes), dtype=float)
        except md.MatdiffError:
            return  # outside a domain at these points: nothing to compare
        after = np.asarray(md.evaluate(text(found), values, shapes=shapes), dtype=float)
    assert cost_of(found) < cost_of(tree)
    assert np.allclose(np.broadcast_to(after, before.shape), before, rtol=1e-9, atol=1e-12), (text(tree), text(found))


def cost_of(x):
    from matdiff.notation.printing import cost

    return cost(x)
