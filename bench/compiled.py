"""Compiled derivatives against autodiff frameworks and hand-written closed forms.

1. Hessians (the problems of Laue, Mitterreiter and Giesen, NeurIPS 2018): a quadratic form
   (n = 1000), logistic regression (2000×300), matrix factorisation ‖T − U·Vᵀ‖² w.r.t. U
   (60×50, rank 8): ``d.compile("numpy"|"jax"|"torch")`` vs ``jax.jit(jax.hessian)``,
   ``torch.func.hessian`` and a hand-written NumPy closed form.
2. The gradient of a 4-layer tanh MLP (width 256, batch 512) w.r.t. its first layer:
   compiled vs ``jax.jit(jax.grad)``, ``torch.autograd`` and hand-written backprop.

Every method's result is checked against the hand-written one before it is timed. All in
float64. ``python bench/compiled.py`` prints the table alone; ``bench/run.py`` runs everything.
"""

from __future__ import annotations

import numpy as np

from common import block, enable_jax_x64, have, measure_all, to_numpy

import matdiff as md


def _sigmoid(z):
    return 0.5 + 0.5 * np.tanh(0.5 * z)


def problems(rng):
    """name → (expression, wrt, shapes, values, hand-written closed form, jax f, torch f)."""
    n = 1000
    A = rng.standard_normal((n, n))
    x = rng.standard_normal(n)
    X = rng.standard_normal((2000, 300)) / 10
    y = np.sign(rng.standard_normal(2000))
    w = rng.standard_normal(300) / 10
    m, k, r = 60, 50, 8
    T, U, V = rng.standard_normal((m, k)), rng.standard_normal((m, r)), rng.standard_normal((k, r))

    def factorisation_hessian(T, U, V):
        H = np.zeros((m, r, m, r))
        H[np.arange(m), :, np.arange(m), :] = 2.0 * (V.T @ V)
        return H

    def logistic_hessian(X, y, w):
        s = _sigmoid(y * (X @ w))
        return X.T @ (X * (s * (1.0 - s))[:, None])

    return {
        "quadratic form x'Ax, n = 1000": (
            "x'*A*x", ("x", "x"), {"x": (n,), "A": (n, n)}, {"x": x, "A": A},
            lambda x, A: A + A.T,
            lambda j, x, A: x @ A @ x, lambda t, x, A: x @ A @ x),
        "logistic regression, 2000×300": (
            "sum(log(1 + exp(-y.*(X*w))))", ("w", "w"), {"X": (2000, 300), "y": (2000,), "w": (300,)},
            {"X": X, "y": y, "w": w}, logistic_hessian,
            lambda j, X, y, w: j.numpy.sum(j.numpy.log1p(j.numpy.exp(-y * (X @ w)))),
            lambda t, X, y, w: t.sum(t.log1p(t.exp(-y * (X @ w))))),
        "matrix factorisation ‖T − UVᵀ‖², 60×50, rank 8": (
            "norm2(T - U*V')^2", ("U", "U"), {"T": (m, k), "U": (m, r), "V": (k, r)}, {"T": T, "U": U, "V": V},
            factorisation_hessian,
            lambda j, T, U, V: j.numpy.sum((T - U @ V.T) ** 2), lambda t, T, U, V: t.sum((T - U @ V.T) ** 2)),
    }


def _mlp(rng):
    width, batch = 256, 512
    values = {f"W{i}": rng.standard_normal((width, width)) / np.sqrt(width) for i in range(1, 5)}
    values["X"] = rng.standard_normal((width, batch))
    values["Y"] = rng.standard_normal((width, batch))
    shapes = {name: value.shape for name, value in values.items()}
    expression = "0.5*sum((W4*tanh(W3*tanh(W2*tanh(W1*X))) - Y).^2)"

    def backprop(W1, W2, W3, W4, X, Y):
        a1 = np.tanh(W1 @ X)
        a2 = np.tanh(W2 @ a1)
        a3 = np.tanh(W3 @ a2)
        delta4 = W4 @ a3 - Y
        delta3 = (W4.T @ delta4) * (1.0 - a3 ** 2)
        delta2 = (W3.T @ delta3) * (1.0 - a2 ** 2)
        delta1 = (W2.T @ delta2) * (1.0 - a1 ** 2)
        return delta1 @ X.T

    def loss(lib, W1, W2, W3, W4, X, Y):
        return 0.5 * lib.sum((W4 @ lib.tanh(W3 @ lib.tanh(W2 @ lib.tanh(W1 @ X))) - Y) ** 2)

    return expression, shapes, values, backprop, loss


def _check(name, got, want):
    got = to_numpy(got).reshape(np.shape(want))
    if not np.allclose(got, want, rtol=1e-6, atol=1e-8):
        raise AssertionError(f"{name}: wrong numbers (max error {np.max(np.abs(got - want)):.3g})")


def _timed(problem, reference, candidates, want, *, quick) -> list[dict]:
    """Check every candidate's numbers, then time them all in interleaved rounds."""
    for name, function in candidates.items():
        _check(f"{name} on {problem}", function(), want)
    seconds = measure_all(candidates, rounds=3 if quick else 5)
    return [{"problem": problem, "method": name, "seconds": s, "ratio": s / seconds[reference]}
            for name, s in seconds.items()]


def _compiled(derivative, values, torch, jax):
    """The compiled function for each installed backend, given arrays of its own kind."""
    candidates = {}
    for backend in ("numpy", "jax", "torch"):
        if backend != "numpy" and not have(backend):
            continue
        function = derivative.compile(backend)
        if backend == "torch":
            given = {k: torch.from_numpy(v) for k, v in values.items()}
        elif backend == "jax":
            given = {k: jax.numpy.asarray(v) for k, v in values.items()}
        else:
            given = values
        candidates[f"matdiff compiled ({backend})"] = lambda f=function, g=given: block(f(**g))
    return candidates


def hessians(rng=None, *, quick: bool = False) -> list[dict]:
    rng = rng or np.random.default_rng(0)
    rows = []
    jax = enable_jax_x64() if have("jax") else None
    torch = __import__("torch") if have("torch") else None
    for problem, (expression, wrt, shapes, values, closed, jax_f, torch_f) in problems(rng).items():
        d = md.diff(expression, wrt=wrt, shapes=shapes, layout="jacobian")
        reference = "hand-written closed form (NumPy)"
        candidates = {reference: lambda c=closed, v=values: c(**v)}
        candidates.update(_compiled(d, values, torch, jax))
        names = list(values)
        position = names.index(wrt[0])
        if jax is not None:
            hessian = jax.jit(jax.hessian(lambda *a, f=jax_f: f(jax, *a), argnums=position))
            arguments = [jax.numpy.asarray(values[name]) for name in names]
            candidates["jax.jit(jax.hessian)"] = lambda h=hessian, a=arguments: block(h(*a))
        if torch is not None and not quick:
            arguments = [torch.from_numpy(values[name]) for name in names]
            hessian = torch.func.hessian(lambda *a, f=torch_f: f(torch, *a), argnums=position)
            candidates["torch.func.hessian"] = lambda h=hessian, a=arguments: h(*a)
        rows += _timed(problem, reference, candidates, closed(**values), quick=quick)
    return rows


def mlp_matrix_form() -> str:
    """What matdiff prints for the MLP's gradient: the backward pass on the batch, in matrix form."""
    expression, shapes, *_ = _mlp(np.random.default_rng(1))
    return md.diff(expression, wrt="W1", shapes=shapes, layout="gradient").text


def mlp_gradient(rng=None, *, quick: bool = False) -> list[dict]:
    rng = rng or np.random.default_rng(1)
    expression, shapes, values, backprop, loss = _mlp(rng)
    problem = "4-layer tanh MLP, width 256, batch 512: ∂loss/∂W1"
    d = md.diff(expression, wrt="W1", shapes=shapes, layout="gradient")
    jax = enable_jax_x64() if have("jax") else None
    torch = __import__("torch") if have("torch") else None
    reference = "hand-written backprop (NumPy)"
    candidates = {reference: lambda: backprop(**values)}
    candidates.update(_compiled(d, values, torch, jax))
    names = ["W1", "W2", "W3", "W4", "X", "Y"]
    if jax is not None:
        gradient = jax.jit(jax.grad(lambda *a: loss(jax.numpy, *a), argnums=0))
        arguments = [jax.numpy.asarray(values[name]) for name in names]
        candidates["jax.jit(jax.grad)"] = lambda: block(gradient(*arguments))
    if torch is not None:
        tensors = [torch.from_numpy(values[name]) for name in names]

        def torch_gradient():
            W1 = tensors[0].detach().requires_grad_()
            return torch.autograd.grad(loss(torch, W1, *tensors[1:]), W1)[0]

        candidates["torch.autograd.grad"] = torch_gradient
    return _timed(problem, reference, candidates, backprop(**values), quick=quick)


if __name__ == "__main__":
    from run import table

    print(table(hessians() + mlp_gradient(), ["problem", "method", "seconds", "ratio"]))
