"""explain and check on programs that reuse values (issue 26): residual networks and products of the
two previous values, beside diff + text on the same programs, with fitted exponents.

    python bench/reuse.py
"""

from __future__ import annotations

import math
import time

import matdiff as md


def residual(blocks: int) -> str:
    steps = " ".join(f"h{i} = h{i - 1} + tanh(W{i}*h{i - 1});" for i in range(1, blocks + 1))
    return f"h0 = x; {steps} 0.5*sum((h{blocks} - y).^2)"


def products(count: int) -> str:
    steps = " ".join(f"u{i} = u{i - 1}.*u{i - 2};" for i in range(3, count + 1))
    return f"u1 = x; u2 = exp(x); {steps} sum(u{count})"


def seconds(work) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def rows():
    shapes = {"x": (3,), "y": (3,)}
    for label, make, sizes, wrt, claim in (("residual blocks", residual, (8, 16, 32, 64), "W1", "x*d1'"),
                                           ("u_i = u_(i-1).*u_(i-2)", products, (8, 12, 16), "x", "ones(3)'")):
        found = []
        for n in sizes:
            program = make(n)
            diff = seconds(lambda: md.diff(program, wrt=wrt, shapes=shapes).text)
            explain = seconds(lambda: str(md.explain(program, wrt=wrt, shapes=shapes)))
            check = seconds(lambda: md.check(program, wrt=wrt, claim=claim, shapes=shapes))
            found.append((n, diff, explain, check))
            yield f"| {label} | {n} | {diff:.3f} | {explain:.3f} | {check:.3f} |"
        (n0, _, e0, c0), (n1, _, e1, c1) = found[0], found[-1]
        ratio = math.log(n1 / n0)
        yield f"| {label}: exponent | | | {math.log(e1 / e0) / ratio:.2f} | {math.log(c1 / c0) / ratio:.2f} |"


if __name__ == "__main__":
    print("| program | size | diff + text (s) | explain (s) | check (s) |")
    print("|---|---|---|---|---|")
    for row in rows():
        print(row, flush=True)
