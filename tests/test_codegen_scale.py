"""Generated code follows the reverse pass (issue 20), guarded by what does not depend on the clock:
peak memory under tracemalloc and the multiply-adds the plan writes, against hand-written backprop,
for tanh MLPs at depths 2-16 (width 64, batch 128). The code once contracted the whole network at
once: a 5-D intermediate, 64 GiB at width 256, hundreds of times the hand-written peak."""

from __future__ import annotations

import re
import tracemalloc

import numpy as np
import pytest

import matdiff as md

WIDTH, BATCH = 64, 128
DEPTHS = (2, 4, 8, 16)


def mlp(depth: int) -> tuple[str, dict]:
    h = "X"
    for i in range(1, depth + 1):
        h = f"tanh(W{i}*{h})"
    shapes = {**{f"W{i}": (WIDTH, WIDTH) for i in range(1, depth + 1)}, "X": (WIDTH, BATCH), "Y": (WIDTH, BATCH)}
    return f"0.5*sum(({h} - Y).^2)", shapes


def values_for(shapes: dict) -> dict:
    rng = np.random.default_rng(7)
    return {name: rng.standard_normal(shape) / np.sqrt(WIDTH) for name, shape in shapes.items()}


def handwritten(values: dict, depth: int, wanted: set[int]) -> tuple[float, dict]:
    """Backprop as a person writes it: the activations, then one delta per layer."""
    activations = [values["X"]]
    for i in range(1, depth + 1):
        activations.append(np.tanh(values[f"W{i}"] @ activations[-1]))
    error = activations[-1] - values["Y"]
    loss = 0.5 * float((error ** 2).sum())
    delta = error * (1.0 - activations[-1] ** 2)
    gradients = {}
    for i in range(depth, 0, -1):
        if i in wanted:
            gradients[f"W{i}"] = delta @ activations[i - 1].T
        if i > min(wanted):
            delta = (values[f"W{i}"].T @ delta) * (1.0 - activations[i - 1] ** 2)
    return loss, gradients


def peak(function, values) -> int:
    tracemalloc.start()
    tracemalloc.reset_peak()
    try:
        function(**values)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def planned_multiply_adds(source: str) -> int:
    found = re.search(r"# products planned: ([\d,]+) multiply-adds", source)
    assert found, "the generated code states the multiply-adds of its plan"
    return int(found.group(1).replace(",", ""))


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_compiled_gradient_costs_what_hand_written_backprop_costs(depth):
    expression, shapes = mlp(depth)
    values = values_for(shapes)
    d = md.diff(expression, wrt="W1", shapes=shapes, layout="gradient")
    compiled = d.compile("numpy")
    np.testing.assert_allclose(compiled(**values), handwritten(values, depth, {1})[1]["W1"], rtol=1e-10, atol=1e-12)
    hand_peak = peak(lambda **v: handwritten(v, depth, {1}), values)
    assert peak(compiled, values) <= 1.5 * hand_peak
    hand = depth * WIDTH * WIDTH * BATCH * 2 + depth * WIDTH * BATCH  # forward, deltas, one gradient
    assert planned_multiply_adds(d.code("numpy")) <= 1.1 * hand


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_compiled_backward_pass_costs_what_hand_written_backprop_costs(depth):
    expression, shapes = mlp(depth)
    values = values_for(shapes)
    weights = [f"W{i}" for i in range(1, depth + 1)]
    g = md.gradients(expression, shapes=shapes, wrt=weights)
    compiled = g.compile("numpy")
    loss, gradients = compiled(**values)
    hand_loss, hand_gradients = handwritten(values, depth, set(range(1, depth + 1)))
    assert set(gradients) == set(weights) and list(gradients) == weights
    np.testing.assert_allclose(loss, hand_loss, rtol=1e-12)
    for name in weights:
        np.testing.assert_allclose(gradients[name], hand_gradients[name], rtol=1e-10, atol=1e-12)
    hand_peak = peak(lambda **v: handwritten(v, depth, set(range(1, depth + 1))), values)
    assert peak(compiled, values) <= 1.5 * hand_peak
    layer = WIDTH * WIDTH * BATCH
    hand = depth * layer + (depth - 1) * layer + depth * layer + depth * WIDTH * BATCH
    assert planned_multiply_adds(g.code("numpy")) <= 1.1 * hand


def test_the_backward_pass_compiles_for_every_backend_with_the_same_numbers():
    expression, shapes = mlp(3)
    values = values_for(shapes)
    g = md.gradients(expression, shapes=shapes, wrt=["W1", "W3"])
    loss, gradients = g.compile("numpy")(**values)
    for backend in ("jax", "torch"):
        other_loss, others = g.compile(backend)(**values)
        np.testing.assert_allclose(np.asarray(other_loss), loss, rtol=1e-10)
        for name in ("W1", "W3"):
            np.testing.assert_allclose(np.asarray(others[name]), gradients[name], rtol=1e-9, atol=1e-12)
            assert np.asarray(others[name]).dtype == np.float64


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_float32_inputs_give_float32_and_other_inputs_float64(backend):
    """The dtype rule (README, "Generated code"): a float array keeps its dtype; anything else is
    computed in float64 (so JAX, whose default is float32, runs with 64-bit floats for it)."""
    d = md.diff("sum(tanh(W*x))", wrt="W", shapes={"W": (3, 2), "x": (2,)}, layout="gradient")
    compiled = d.compile(backend)
    single = {"W": np.ones((3, 2), np.float32), "x": np.ones(2, np.float32)}
    if backend == "torch":
        import torch

        single = {name: torch.as_tensor(value) for name, value in single.items()}
    assert "float32" in str(compiled(**single).dtype)
    assert "float64" in str(compiled(W=[[1, 2], [3, 4], [5, 6]], x=[1, 2]).dtype)
    with pytest.raises(TypeError, match="complex"):
        compiled(W=np.ones((3, 2)) * 1j, x=np.ones(2))


def test_an_input_the_derivative_does_not_read_is_still_checked():
    compiled = md.diff("x*sum(y)", wrt="x", shapes={"x": (), "y": (3,)}).compile("numpy")
    assert float(compiled(x=2.0, y=np.ones(3))) == 3.0
    assert float(compiled(y=np.ones(3))) == 3.0  # it may be left out
    with pytest.raises(ValueError, match="x must be a scalar"):
        compiled(x=np.ones(5), y=np.ones(3))


def test_the_gradients_script_checks_every_gradient():
    import subprocess
    import sys

    expression, shapes = mlp(2)
    small = {name: (3, 3) if name.startswith("W") else (3, 4) for name in shapes}
    script = md.gradients(expression, shapes=small).code("numpy", check=True)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed") == 4  # W1, W2, X, Y


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
def test_compiled_code_checks_the_structure_it_relies_on(backend):
    """Issue 26: with S assumed symmetric the code computes 2*S*x, wrong for any other S; evaluate
    refused such an S and compiled code silently answered. Now each call checks, unless told not to."""
    d = md.diff("x'*S*x", wrt="x", shapes={"S": (3, 3), "x": (3,)}, assume={"S": "symmetric"}, layout="gradient")
    lopsided, x = np.arange(9.0).reshape(3, 3), np.ones(3)
    with pytest.raises(ValueError, match="S is assumed symmetric"):
        d.compile(backend)(S=lopsided, x=x)
    symmetric = lopsided + lopsided.T
    np.testing.assert_allclose(np.asarray(d.compile(backend)(S=symmetric, x=x)), 2 * symmetric @ x)
    unchecked = np.asarray(d.compile(backend, check_assumptions=False)(S=lopsided, x=x))
    np.testing.assert_allclose(unchecked, 2 * lopsided @ x)  # what it relies on, applied as told
    g = md.gradients("x'*S*x", shapes={"S": (3, 3), "x": (3,)}, assume={"S": "positive"}, wrt=["x"])
    with pytest.raises(ValueError, match="S is assumed positive"):
        g.compile(backend)(S=-np.ones((3, 3)), x=x)


@pytest.mark.parametrize("expression, order, n", [("softmax(x)", 2, 60), ("exp(x'*x)", 3, 40)])
def test_deltas_are_never_built_as_dense_arrays(expression, order, n):
    """Issue 26: the softmax Hessian at n=150 built np.zeros((150,)*4), 7.8 GB for a 27 MB result.
    A product of deltas is merged into the contractions that read it; the peak stays a small multiple
    of the result."""
    d = md.diff(expression, wrt=("x",) * order, shapes={"x": (n,)}, layout="jacobian")
    compiled = d.compile("numpy")
    x = np.random.default_rng(2).standard_normal(n) * 0.1
    tracemalloc.start()
    try:
        result = compiled(x=x)
        top = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert top <= 8 * result.nbytes
    small = md.diff(expression, wrt=("x",) * order, shapes={"x": (6,)}, layout="jacobian")
    np.testing.assert_allclose(small.compile("numpy")(x=x[:6]), small.evaluate({"x": x[:6]}), rtol=1e-9, atol=1e-12)
