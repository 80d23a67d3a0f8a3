"""Compiled gradients and backward passes of deep tanh MLPs (width 256, batch 512), side by side.

For depths 4, 8, 16 and 32: the gradient by W1 (``md.diff(...).compile``) and the backward pass by
every weight (``md.gradients(...).compile``, one function returning the loss and every gradient),
against hand-written NumPy backprop, ``jax.jit(jax.value_and_grad)`` and torch autograd
(``loss.backward()``). Every candidate's numbers are checked against the hand-written ones before
it is timed; all in float64. Peak memory is tracemalloc's (NumPy's allocations) for the NumPy
candidates. Last, the time to derive, generate and compile the 32-layer backward pass beside
``jax.jit(jax.value_and_grad)``'s first call (its trace and compile).

    python bench/backprop.py            # the tables (about two minutes on 2 cores)
    python bench/backprop.py --quick    # depths 4 and 8 only
"""

from __future__ import annotations

import sys
import time
import tracemalloc

import numpy as np

from common import block, enable_jax_x64, have, measure_all, to_numpy

import matdiff as md

WIDTH, BATCH = 256, 512


def network(depth: int, rng):
    values = {f"W{i}": rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH) for i in range(1, depth + 1)}
    values["X"] = rng.standard_normal((WIDTH, BATCH))
    values["Y"] = rng.standard_normal((WIDTH, BATCH))
    h = "X"
    for i in range(1, depth + 1):
        h = f"tanh(W{i}*{h})"
    shapes = {name: value.shape for name, value in values.items()}
    return f"0.5*sum(({h} - Y).^2)", shapes, values


def backprop(values: dict, depth: int, every: bool):
    """Hand-written: the activations, then one delta per layer; W1's gradient or every one."""
    activations = [values["X"]]
    for i in range(1, depth + 1):
        activations.append(np.tanh(values[f"W{i}"] @ activations[-1]))
    error = activations[-1] - values["Y"]
    loss = 0.5 * float((error ** 2).sum())
    delta = error * (1.0 - activations[-1] ** 2)
    gradients = {}
    for i in range(depth, 0, -1):
        if every or i == 1:
            gradients[f"W{i}"] = delta @ activations[i - 1].T
        if i > 1:
            delta = (values[f"W{i}"].T @ delta) * (1.0 - activations[i - 1] ** 2)
    return loss, gradients


def ready(result):
    """Wait for every asynchronous (JAX) array in a result, a dict or list of them included."""
    parts = result.values() if isinstance(result, dict) else result if isinstance(result, (list, tuple)) else [result]
    for part in parts:
        block(part)
    return result


def loss_of(lib, weights, X, Y):
    h = X
    for W in weights:
        h = lib.tanh(W @ h)
    return 0.5 * lib.sum((h - Y) ** 2)


def peak_bytes(function) -> int:
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _close(name, got, want):
    for key, value in want.items():
        if not np.allclose(to_numpy(got[key]), value, rtol=1e-8, atol=1e-10):
            raise AssertionError(f"{name}: wrong gradient by {key}")


def candidates_for(depth: int, every: bool, rng, jax, torch):
    expression, shapes, values = network(depth, rng)
    weights = [f"W{i}" for i in range(1, depth + 1)]
    wanted = weights if every else ["W1"]
    reference = "hand-written backprop (NumPy)"
    want = backprop(values, depth, every)[1]
    functions = {reference: lambda: backprop(values, depth, every)[1]}
    if every:
        g = md.gradients(expression, shapes=shapes, wrt=weights)
        for backend in ("numpy", "jax", "torch"):
            if backend == "numpy" or have(backend):
                compiled = g.compile(backend)
                given = _given(values, backend, jax, torch)
                functions[f"matdiff backward pass ({backend})"] = \
                    lambda f=compiled, v=given: ready(f(**v)[1])
    else:
        d = md.diff(expression, wrt="W1", shapes=shapes, layout="gradient")
        for backend in ("numpy", "jax", "torch"):
            if backend == "numpy" or have(backend):
                compiled = d.compile(backend)
                given = _given(values, backend, jax, torch)
                functions[f"matdiff gradient ({backend})"] = \
                    lambda f=compiled, v=given: {"W1": ready(f(**v))}
    if jax is not None:
        argnums = tuple(range(depth)) if every else 0
        step = jax.jit(jax.value_and_grad(lambda ws, X, Y: loss_of(jax.numpy, ws, X, Y), argnums=0)) if every else \
            jax.jit(jax.value_and_grad(lambda w1, rest, X, Y: loss_of(jax.numpy, [w1, *rest], X, Y), argnums=argnums))
        arrays = {k: jax.numpy.asarray(v) for k, v in values.items()}
        ws = [arrays[w] for w in weights]
        if every:
            functions["jax.jit(jax.value_and_grad)"] = lambda: dict(zip(weights, ready(step(ws, arrays["X"], arrays["Y"])[1])))
        else:
            functions["jax.jit(jax.value_and_grad)"] = lambda: {"W1": ready(step(ws[0], ws[1:], arrays["X"], arrays["Y"])[1])}
    if torch is not None:
        tensors = {k: torch.from_numpy(v) for k, v in values.items()}

        def autograd():
            params = [tensors[w].detach().requires_grad_(w in wanted) for w in weights]
            loss_of(torch, params, tensors["X"], tensors["Y"]).backward()
            return {w: p.grad for w, p in zip(weights, params) if w in wanted}

        functions["torch autograd (loss.backward())"] = autograd
    for name, function in functions.items():
        _close(f"{name}, depth {depth}", function(), want)
    return reference, functions


def _given(values, backend, jax, torch):
    if backend == "jax":
        return {k: jax.numpy.asarray(v) for k, v in values.items()}
    if backend == "torch":
        return {k: torch.from_numpy(v) for k, v in values.items()}
    return values


def rows(depths, rng=None, *, quick=False) -> list[dict]:
    rng = rng or np.random.default_rng(3)
    jax = enable_jax_x64() if have("jax") else None
    torch = __import__("torch") if have("torch") else None
    found = []
    for every in (False, True):
        for depth in depths:
            reference, functions = candidates_for(depth, every, rng, jax, torch)
            seconds = measure_all(functions, rounds=2 if quick else 3, min_time=0.2)
            for name, s in seconds.items():
                memory = peak_bytes(functions[name]) if "NumPy" in name or "(numpy)" in name else None
                found.append({"workload": f"{'every W' if every else 'W1'}, depth {depth}", "method": name,
                              "seconds": s, "ratio": s / seconds[reference],
                              "peak MiB": None if memory is None else memory / 2 ** 20})
    return found


def first_call(depth: int = 32) -> list[dict]:
    """Derive + generate + compile matdiff's backward pass vs jax's first jitted call."""
    jax = enable_jax_x64() if have("jax") else None
    expression, shapes, values = network(depth, np.random.default_rng(4))
    weights = [f"W{i}" for i in range(1, depth + 1)]
    start = time.perf_counter()
    compiled = md.gradients(expression, shapes=shapes, wrt=weights).compile("numpy")
    derived = time.perf_counter() - start
    compiled(**values)
    result = [{"what": f"matdiff: derive + generate + compile, {depth} layers (numpy)", "seconds": derived}]
    if jax is not None:
        step = jax.jit(jax.value_and_grad(lambda ws, X, Y: loss_of(jax.numpy, ws, X, Y)))
        arrays = {k: jax.numpy.asarray(v) for k, v in values.items()}
        start = time.perf_counter()
        ready(step([arrays[w] for w in weights], arrays["X"], arrays["Y"])[1])
        result.append({"what": f"jax.jit(jax.value_and_grad): first call, {depth} layers", "seconds":
                       time.perf_counter() - start})
    return result


def table(found: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in found:
        cells = []
        for column in columns:
            value = row.get(column)
            cells.append("" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    print(table(rows((4, 8) if quick else (4, 8, 16, 32), quick=quick),
                ["workload", "method", "seconds", "ratio", "peak MiB"]))
    print()
    print(table(first_call(8 if quick else 32), ["what", "seconds"]))
