"""Symbolic speed: how long deriving takes, and how long the printed result is.

3. ``md.diff`` (and printing ``.text``) vs SymPy's matrix-expression ``diff`` on a chain
   u'·X1⋯X20·v w.r.t. X10; sigmoid MLPs of depth 4, 8, 16, 32 w.r.t. the first layer
   (time and printed size, which should both grow linearly); tensorgrad on the same
   problems where it is installed (its time grows faster than linearly, so only small
   depths are run).
"""

from __future__ import annotations

import time

from common import have

import matdiff as md

CHAIN_LENGTH, CHAIN_WRT = 20, 10
DEPTHS = (4, 8, 16, 32)
TENSORGRAD_DEPTHS = (2, 4, 8)


def best_of(function, repeat: int = 5, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        function()
        best = min(best, clock() - start)
    return best


def chain_program(length: int = CHAIN_LENGTH) -> tuple[str, dict]:
    expression = "u'*" + "*".join(f"X{k}" for k in range(1, length + 1)) + "*v"
    shapes = {"u": ("n",), "v": ("n",), **{f"X{k}": ("n", "n") for k in range(1, length + 1)}}
    return expression, shapes


def mlp_program(depth: int) -> tuple[str, dict]:
    """a1 = sigmoid(W1*X); …; aL = sigmoid(WL*a(L-1)); 0.5*sum((W(L+1)*aL - Y).^2), on a batch X (n×b)."""
    lines = ["a1 = sigmoid(W1*X)"] + [f"a{k} = sigmoid(W{k}*a{k - 1})" for k in range(2, depth + 1)]
    lines.append(f"0.5*sum((W{depth + 1}*a{depth} - Y).^2)")
    shapes = {"X": ("n", "b"), "Y": ("m", "b"), "W1": ("h", "n"), f"W{depth + 1}": ("m", "h"),
              **{f"W{k}": ("h", "h") for k in range(2, depth + 1)}}
    return "; ".join(lines), shapes


def matdiff_time(expression, wrt, shapes) -> tuple[float, int]:
    """Seconds to derive and print, and the printed length (matrix form, else index form)."""
    def derive():
        d = md.diff(expression, wrt=wrt, shapes=shapes, layout="denominator")
        return d.text if d.text is not None else d.index

    printed = derive()
    return best_of(derive), len(printed)


def sympy_chain() -> tuple[float, int]:
    import sympy
    from sympy.core.cache import clear_cache

    def derive():
        clear_cache()  # SymPy memoises diff; every run starts cold, like matdiff's
        n = sympy.Symbol("n", integer=True, positive=True)
        u, v = sympy.MatrixSymbol("u", n, 1), sympy.MatrixSymbol("v", n, 1)
        X = [sympy.MatrixSymbol(f"X{k}", n, n) for k in range(1, CHAIN_LENGTH + 1)]
        expression = u.T
        for matrix in X:
            expression = expression * matrix
        expression = expression * v
        return str(expression.diff(X[CHAIN_WRT - 1]))

    printed = derive()
    return best_of(derive, repeat=3), len(printed)


def tensorgrad_chain() -> tuple[float, int]:
    import sympy
    from tensorgrad import Variable

    def derive():
        edges = sympy.symbols(" ".join(f"e{k}" for k in range(CHAIN_LENGTH + 1)))
        X = [Variable(f"X{k}", edges[k - 1], edges[k]) for k in range(1, CHAIN_LENGTH + 1)]
        expression = Variable("u", edges[0])
        for matrix in X:
            expression = expression @ matrix
        expression = expression @ Variable("v", edges[CHAIN_LENGTH])
        return str(expression.grad(X[CHAIN_WRT - 1]).simplify())

    printed = derive()
    return best_of(derive, repeat=3), len(printed)


def tensorgrad_mlp(depth: int) -> tuple[float, int]:
    import sympy
    import tensorgrad.functions as F
    from tensorgrad import Variable

    def derive():
        edges = sympy.symbols(" ".join(f"h{k}" for k in range(depth + 2)))
        activation = Variable("x", edges[0])
        first = None
        for k in range(depth):
            W = Variable(f"W{k + 1}", edges[k], edges[k + 1])
            first = first or W
            activation = F.sigmoid(activation @ W)
        residual = activation @ Variable(f"W{depth + 1}", edges[depth], edges[depth + 1]) \
            - Variable("y", edges[depth + 1])
        return str(F.frobenius2(residual).grad(first).simplify())

    printed = derive()
    return best_of(derive, repeat=1), len(printed)


def chain(*, quick: bool = False) -> list[dict]:
    expression, shapes = chain_program()
    problem = f"chain u'·X1⋯X{CHAIN_LENGTH}·v, ∂/∂X{CHAIN_WRT}"
    seconds, size = matdiff_time(expression, f"X{CHAIN_WRT}", shapes)
    rows = [{"problem": problem, "tool": "matdiff (derive + print)", "seconds": seconds, "printed": size}]
    if have("sympy"):
        seconds, size = sympy_chain()
        rows.append({"problem": problem, "tool": "SymPy", "seconds": seconds, "printed": size})
    if have("tensorgrad") and not quick:
        seconds, size = tensorgrad_chain()
        rows.append({"problem": problem, "tool": "tensorgrad (grad + simplify)", "seconds": seconds, "printed": size})
    return rows


def depth_scaling(*, quick: bool = False) -> list[dict]:
    rows = []
    for depth in DEPTHS:
        expression, shapes = mlp_program(depth)
        seconds, size = matdiff_time(expression, "W1", shapes)
        rows.append({"depth": depth, "tool": "matdiff (derive + print)", "seconds": seconds, "printed": size})
        derive_only = best_of(lambda: md.diff(expression, wrt="W1", shapes=shapes, layout="denominator"))
        rows.append({"depth": depth, "tool": "matdiff (derive only)", "seconds": derive_only, "printed": ""})
    if have("tensorgrad") and not quick:
        for depth in TENSORGRAD_DEPTHS:
            seconds, size = tensorgrad_mlp(depth)
            rows.append({"depth": depth, "tool": "tensorgrad (grad + simplify)", "seconds": seconds, "printed": size})
    return rows


if __name__ == "__main__":
    for row in chain() + depth_scaling():
        print(row)
