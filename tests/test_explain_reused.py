"""explain's backward pass where a value is used twice (issue 26): every delta and gradient it prints,
evaluated as printed (over the forward values and the deltas before it), equals diff's gradient.

A skip connection once lost its identity path: ``h1 = x + tanh(W1*x); h2 = h1 + tanh(W2*h1)``
lowers h2 to ``x + tanh(W1*x) + tanh(W2*h1)`` (a short sum is flattened into the sum that uses it),
so explain printed dh1 without ``dh2 +`` while diff, which differentiates the IR, was right."""

from __future__ import annotations

import numpy as np
import pytest

import matdiff as md

RESIDUAL = "h1 = x + tanh(W1*x); h2 = h1 + tanh(W2*h1); sum(h2)"
PROGRAMS = [
    (RESIDUAL, {"x": (3,), "W1": (3, 3), "W2": (3, 3)}, "W1"),
    ("h0 = x; h1 = h0 + tanh(W1*h0); h2 = h1 + tanh(W2*h1); h3 = h2 + tanh(W3*h2); 0.5*sum((h3 - y).^2)",
     {"x": (4,), "y": (4,), "W1": (4, 4), "W2": (4, 4), "W3": (4, 4)}, "W1"),
    ("u1 = x; u2 = exp(x); u3 = u2.*u1; u4 = u3.*u2; u5 = u4.*u3; sum(u5)", {"x": (3,)}, "x"),
    ("a = W*x; b = a + sin(a); c = b.*a; sum(c)", {"x": (2,), "W": (3, 2)}, "W"),
    ("z = A*x; s = z + z; t = s + z; sum(t.^2)", {"x": (3,), "A": (2, 3)}, "A"),
]


def forward_values(program: str, values: dict) -> dict:
    """Each assigned name's value, evaluated as the program up to it followed by the name."""
    statements = [s.strip() for s in program.split(";")]
    found = {}
    for k, statement in enumerate(statements[:-1]):
        name = statement.split("=")[0].strip()
        found[name] = np.asarray(md.evaluate("; ".join(statements[: k + 1] + [name]), values))
    return found


@pytest.mark.parametrize("program, shapes, wrt", PROGRAMS, ids=[p[0][:40] for p in PROGRAMS])
def test_every_printed_delta_and_gradient_equals_diffs(program, shapes, wrt):
    rng = np.random.default_rng(5)
    inputs = {name: rng.standard_normal(shape) * 0.5 for name, shape in shapes.items()}
    view = md.explain(program, wrt=wrt, shapes=shapes).backprop
    known = {**inputs, **forward_values(program, inputs)}
    checked = 0
    for entry in view.order:
        assert entry.formula is not None, entry
        arrays = {name: known[name] for name in md.infer_shapes(entry.formula, {n: np.shape(v) for n, v in known.items()})
                  if name in known}
        printed = np.asarray(md.evaluate(entry.formula, arrays, shapes={n: np.shape(v) for n, v in arrays.items()}))
        if entry.name in inputs or entry.name in known and entry.kind != "output":
            expected = md.diff(program, wrt=entry.name, shapes=shapes, layout="gradient").evaluate(inputs)
            np.testing.assert_allclose(printed.reshape(np.shape(expected)), expected, rtol=1e-9, atol=1e-12,
                                       err_msg=f"{entry.symbol} = {entry.formula}")
            checked += 1
        known[entry.symbol] = printed.reshape(np.shape(known.get(entry.name, printed)))
    assert checked >= 2


def test_the_skip_connections_delta_has_its_identity_path():
    text = str(md.explain(RESIDUAL, wrt="W1", shapes={"x": (3,)}))
    delta = next(line for line in text.splitlines() if "dh1 = ∂y/∂h1" in line)
    assert "dh2" in delta and ("eye(3)" in delta or "dh2 +" in delta or "+ dh2" in delta), delta


def _residual(blocks: int) -> str:
    steps = " ".join(f"h{i} = h{i - 1} + tanh(W{i}*h{i - 1});" for i in range(1, blocks + 1))
    return f"h0 = x; {steps} 0.5*sum((h{blocks} - y).^2)"


def test_explaining_a_residual_network_does_work_linear_in_its_depth(monkeypatch):
    """Issue 26: explain took 13.7 s at 12 blocks and doubled with each block (the chain distributed
    over every path through the skips; a named sum was flattened into the next). Counted, not timed:
    the simplifier's calls and the IR nodes it is handed, at 8 and 16 blocks."""
    from matdiff.tools import chainsteps

    real = chainsteps.simplify
    work = {"calls": 0, "nodes": 0}

    def counted(node, *rest, **options):
        work["calls"] += 1
        work["nodes"] += len(chainsteps.ir.postorder(node))
        return real(node, *rest, **options)

    monkeypatch.setattr(chainsteps, "simplify", counted)
    measured = []
    for blocks in (8, 16):
        work.update(calls=0, nodes=0)
        str(md.explain(_residual(blocks), wrt="W1", shapes={"x": (3,), "y": (3,)}))
        measured.append(dict(work))
    assert measured[1]["calls"] <= 2.2 * measured[0]["calls"], measured
    assert measured[1]["nodes"] <= 4.5 * measured[0]["nodes"], measured  # each step's node grows with depth


def test_a_residual_statement_is_shown_as_written():
    text = str(md.explain(_residual(6), wrt="W1", shapes={"x": (3,), "y": (3,)}))
    assert "h3 = h2 + tanh(W3*h2)" in text and "h0 + tanh(W1*h0) + tanh(W2*h1)" not in text


def test_a_dimension_name_stands_for_its_size():
    shapes = {"Q": ("n", "d"), "K": ("n", "d"), "V": ("n", "d")}
    program = "P = softmax(Q*K'/sqrt(d), 2); sum(sum(P*V))"
    rng = np.random.default_rng(9)
    values = {name: rng.standard_normal((5, 8)) for name in "QKV"}
    scores = values["Q"] @ values["K"].T / np.sqrt(8)
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    assert float(md.evaluate(program, values, shapes=shapes)) == pytest.approx((weights @ values["V"]).sum(), rel=1e-12)
    assert md.diff("mean((W*X - Y).^2)", wrt="W", shapes={"W": (3, 4), "X": (4, "N"), "Y": (3, "N")},
                   layout="gradient").text == "2*(W*X - Y)*X'/(3*N)"
    with pytest.raises(md.MatdiffError, match="both a variable and a dimension"):
        md.diff("n*sum(x)", wrt="x", shapes={"x": ("n",), "n": ()})
    with pytest.raises(md.MatdiffError, match="both a variable and a dimension"):
        md.diff("d'*Q'*Q*d", wrt="Q", shapes={"Q": ("n", "d"), "d": ("d",)})
