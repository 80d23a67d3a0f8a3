"""What the equality-saturation search (notation/saturation.py) costs, and what it buys.

For each workload: ``md.diff`` + ``.text`` with the search and without it (its budget set to 0), side by
side in the same run, the number of fragments searched, the largest e-graph, and the printed tokens
with and without. The 32-layer sigmoid network on a batch must stay under 100 ms with the search on
(issue 24): its answer holds no fragment the identities are about, so nothing is searched. The first
search in a process also builds the egglog language (importing egglog): reported on its own line.

    python bench/saturation.py
"""

from __future__ import annotations

import time

import matdiff as md
from matdiff.notation import saturation
from matdiff.notation.printing import tokens

WORKLOADS = [
    ("logistic loss, gradient", "sum(log(1 + exp(-y.*(X*w))))", "w", {"X": (6, 3), "w": (3,), "y": (6,)}),
    ("log-sigmoid loss, gradient", "-sum(log(sigmoid(y.*(X*w))))", "w", {"X": (6, 3), "w": (3,), "y": (6,)}),
    ("binary cross-entropy, gradient", "-sum(t.*log(sigmoid(X*w)) + (1 - t).*log(1 - sigmoid(X*w)))", "w",
     {"X": (6, 3), "w": (3,), "t": (6,)}),
    ("softplus of a margin, Hessian", "sum(softplus(-y.*(X*w)))", ("w", "w"), {"X": (6, 3), "w": (3,), "y": (6,)}),
]


def mlp(depth: int) -> tuple[str, dict]:
    lines = ["a1 = sigmoid(W1*X)"] + [f"a{k} = sigmoid(W{k}*a{k - 1})" for k in range(2, depth + 1)]
    shapes = {**{f"W{k}": (8, 8) for k in range(1, depth + 2)}, "X": (8, 16), "Y": (8, 16)}
    return "; ".join(lines) + f"; 0.5*sum(sum((W{depth + 1}*a{depth} - Y).^2))", shapes


def timed(expression: str, wrt, shapes: dict, *, search: bool, repeat: int = 5) -> tuple[float, str, list]:
    budget = saturation.MAX_PROGRAM_COST
    searched: list = []
    real = saturation._searched

    def counted(x):
        searched.append(x)
        return real(x)

    saturation.MAX_PROGRAM_COST = budget if search else -1
    saturation._searched = counted  # type: ignore[assignment]
    best, text = float("inf"), ""
    try:
        for _ in range(repeat):
            real.cache_clear()
            searched.clear()
            start = time.perf_counter()
            text = md.diff(expression, wrt=wrt, shapes=shapes, layout="gradient").text or ""
            best = min(best, time.perf_counter() - start)
    finally:
        saturation.MAX_PROGRAM_COST = budget
        saturation._searched = real  # type: ignore[assignment]
    return best, text, list(searched)


def main() -> None:
    start = time.perf_counter()
    saturation._language()
    print(f"building the egglog language (import included): {1000 * (time.perf_counter() - start):.0f} ms\n")
    rows = [(label, expression, wrt, shapes) for label, expression, wrt, shapes in WORKLOADS]
    rows.append(("sigmoid MLP, 32 layers on a batch", *mlp(32)[:1], "W1", mlp(32)[1]))
    print("| workload | with search | without | ratio | fragments searched | tokens with | without | printed |")
    print("|---|---|---|---|---|---|---|---|")
    for label, expression, wrt, shapes in rows:
        on, text_on, searched = timed(expression, wrt, shapes, search=True)
        off, text_off, _ = timed(expression, wrt, shapes, search=False)
        shown = text_on if len(text_on) < 70 else text_on[:67] + "…"
        print(f"| {label} | {1000 * on:.1f} ms | {1000 * off:.1f} ms | {on / off:.2f}× | {len(searched)} | "
              f"{len(tokens(text_on))} | {len(tokens(text_off))} | `{shown}` |")


if __name__ == "__main__":
    main()
