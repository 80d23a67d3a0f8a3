"""A pre-norm attention block (issue 21): derive + print by its input, and the compiled gradient
against ``jax.jit(jax.grad)`` on the same machine, 256 tokens of width 64, float64.

    python bench/layers.py

The block: layer norm over each token's features, single-head attention with projections, a
residual; the loss is sum(H.*G) for a fixed G (any upstream gradient). Both shapes are timed: the
dimensions as names (n×d, planned with a nominal size) and as numbers.
"""

from __future__ import annotations

import time

import numpy as np

from common import block, enable_jax_x64, have, measure_all

import matdiff as md

BLOCK = ("M = X - mean(X, 2); S = sqrt(mean(M.^2, 2) + 0.00001); N = M./S; Q = N*Wq; K = N*Wk; V = N*Wv; "
         "P = softmax(Q*K'/sqrt(d), 2); H = X + P*V*Wo; sum(sum(H.*G))")
TOKENS, WIDTH = 256, 64


def shapes(symbolic: bool) -> dict:
    n, d = ("n", "d") if symbolic else (TOKENS, WIDTH)
    return {"X": (n, d), "Wq": (d, d), "Wk": (d, d), "Wv": (d, d), "Wo": (d, d), "G": (n, d)}


def values() -> dict:
    rng = np.random.default_rng(0)
    found = {"X": rng.standard_normal((TOKENS, WIDTH)), "G": rng.standard_normal((TOKENS, WIDTH))}
    found.update({name: rng.standard_normal((WIDTH, WIDTH)) / 8 for name in ("Wq", "Wk", "Wv", "Wo")})
    return found


def derive_seconds(symbolic: bool) -> float:
    expression = BLOCK if symbolic else BLOCK.replace("sqrt(d)", f"sqrt({WIDTH})")
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        md.diff(expression, wrt="X", shapes=shapes(symbolic), layout="gradient").text
        best = min(best, time.perf_counter() - start)
    return best


def rows() -> list[str]:
    given = values()
    functions = {}
    for symbolic in (True, False):
        expression = BLOCK if symbolic else BLOCK.replace("sqrt(d)", f"sqrt({WIDTH})")
        compiled = md.diff(expression, wrt="X", shapes=shapes(symbolic), layout="gradient").compile("numpy")
        functions[f"matdiff compiled (numpy, {'n×d' if symbolic else '256×64'})"] = \
            lambda f=compiled: f(**given)
    reference = next(iter(functions.values()))()
    if have("jax"):
        jax = enable_jax_x64()
        jnp = jax.numpy

        def loss(X, Wq, Wk, Wv, Wo, G):
            M = X - X.mean(axis=1, keepdims=True)
            N = M / jnp.sqrt((M ** 2).mean(axis=1, keepdims=True) + 1e-5)
            P = jax.nn.softmax((N @ Wq) @ (N @ Wk).T / jnp.sqrt(WIDTH), axis=1)
            return ((X + P @ (N @ Wv) @ Wo) * G).sum()

        gradient = jax.jit(jax.grad(loss))
        arguments = [jnp.asarray(given[name]) for name in ("X", "Wq", "Wk", "Wv", "Wo", "G")]
        functions["jax.jit(jax.grad)"] = lambda: block(gradient(*arguments))
    for name, function in functions.items():
        assert np.allclose(np.asarray(function()), reference, rtol=1e-8, atol=1e-10), name
    seconds = measure_all(functions, rounds=5)
    base = seconds.get("jax.jit(jax.grad)", next(iter(seconds.values())))
    lines = ["| method | seconds | ratio to jax.jit(jax.grad) |", "|---|---|---|"]
    lines += [f"| {name} | {s * 1e3:.2f} ms | {s / base:.2f}× |" for name, s in seconds.items()]
    lines += ["", "| derive + text by X | seconds |", "|---|---|"]
    lines += [f"| {'n×d' if symbolic else '256×64'} | {derive_seconds(symbolic) * 1e3:.1f} ms |" for symbolic in (True, False)]
    return lines


if __name__ == "__main__":
    print("\n".join(rows()))
