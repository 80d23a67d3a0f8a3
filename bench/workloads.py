"""The large programs of issue 13, shared by bench/scaling.py (times) and tests/test_scale.py (sizes)."""

from __future__ import annotations


def chain(n: int) -> str:
    """z1 = sin(a); z2 = sin(z1); …; zn — each value used by the next and by the derivative."""
    return "; ".join(["z1 = sin(a)"] + [f"z{i} = sin(z{i - 1})" for i in range(2, n + 1)] + [f"z{n}"])


def reuse(n: int) -> str:
    """z_i = z_{i-1}*z_{i-1} + z_{i-1}: each value used three times; inlined, 3^n."""
    return "; ".join(["z1 = a*a + a"] + [f"z{i} = z{i - 1}*z{i - 1} + z{i - 1}" for i in range(2, n + 1)] + [f"z{n}"])


def nest(depth: int) -> str:
    """sum(sin(sin(…sin(a)))), ``depth`` sines."""
    return "sum(" + "sin(" * depth + "a" + ")" * depth + ")"


def tanh_nest(depth: int) -> str:
    """sum(tanh(W_D*…tanh(W1*x))), one nested expression (no program): issue 22's LaTeX workload."""
    inner = "x"
    for k in range(1, depth + 1):
        inner = f"tanh(W{k}*{inner})"
    return f"sum({inner})"


def tanh_nest_shapes(depth: int) -> dict:
    return {f"W{k}": (3, 3) for k in range(1, depth + 1)} | {"x": (3,)}


def mlp(depth: int) -> str:
    """A batched tanh network: a_k = tanh(W_k·a_{k-1}) over the columns of X, then a squared loss."""
    lines = ["a1 = tanh(W1*X)"] + [f"a{k} = tanh(W{k}*a{k - 1})" for k in range(2, depth + 1)]
    return "; ".join(lines + [f"0.5*sum((W{depth + 1}*a{depth} - Y).^2)"])


def mlp_shapes(depth: int, width: int, batch: int) -> dict:
    return {f"W{k}": (width, width) for k in range(1, depth + 2)} | {"X": (width, batch), "Y": (width, batch)}
