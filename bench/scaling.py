"""5. Linear at scale: time and output size against input size, with fitted growth exponents.

    python bench/scaling.py [--quick] [--only WORKLOAD]... [--plot bench/scaling_large.png]

Each workload runs at four or five sizes; the exponent is the least-squares slope of
log(time) (and log(output size)) against log(size) over them, so 1.0 is linear. Times are
CPU seconds of this process (``time.process_time``, best of the repeats): on the shared
development machine the wall clock varies several-fold with the load, the CPU time much less.
Each matdiff time is from a fresh ``md.diff`` (nothing cached between repeats: interned IR
nodes die with their derivative).

Workloads (SPEC §5 "linear at scale"; issue 13):

- chain: ``z1 = sin(a); z2 = sin(z1); …; zn``, ∂/∂a, then ``.text``, ``.latex``, ``.index``;
- reuse: ``z_i = z_{i-1}*z_{i-1} + z_{i-1}`` (each value used three times), the same four;
- sum: ``a + a + … + a`` (n terms), ∂/∂a and ``.text``; and its parse alone, matdiff's parser (a
  fast path for flat chains) beside lark's parser with the same grammar;
- nest: the third derivative of ``sum(sin(sin(…sin(a))))`` (depth n), then ``.text``;
- mlp: a batched tanh network ``a_k = tanh(W_k·a_{k-1})`` over the columns of X, ∂loss/∂W1,
  then ``.text``, ``.index`` — against one numeric ``jax.grad`` of the same loss (width 64,
  batch 128) and, for ``.compile("numpy")``, against the first call of ``jax.jit(jax.grad)``;
- deep: ``sum(tanh(W_D*…tanh(W1*x)))`` written as one expression (no program), its gradient by
  the last layer's W_D with ``.text`` and ``.latex`` (issue 22: the LaTeX was exponential);
- explain: ``md.explain`` of the n-statement chain, printed (issue 22: ×2.5 per doubling);
- evaluate: ``md.evaluate`` of a chain of n statements on 1000×1000 matrices, peak memory
  (tracemalloc) against the number of statements.

Peers on the same scalar workloads where they finish: SymPy's ``diff`` (then ``str``) on the
chain, reuse, sum and nest programs written as one expression, its cache cleared each time;
a series stops after the first size that takes over 5 s (the next would take several times
longer) or that exhausts SymPy's recursion.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import time
import tracemalloc

import numpy as np
from common import have
from workloads import chain, mlp, nest, reuse, tanh_nest, tanh_nest_shapes
from workloads import mlp_shapes as workload_shapes

import matdiff as md

SIZES = {
    "chain": (1000, 2000, 5000, 10_000),
    "reuse": (10, 20, 40, 80),
    "sum": (12_500, 25_000, 50_000, 100_000),
    "nest": (12, 25, 50, 100),
    "mlp": (4, 8, 16, 32, 64),
    "deep": (8, 16, 32, 64),
    "explain": (100, 200, 400, 800),
    "evaluate": (5, 10, 20, 40),
}
QUICK_SIZES = {
    "chain": (500, 1000, 2000), "reuse": (10, 20, 40), "sum": (5000, 10_000, 20_000),
    "nest": (12, 25, 50), "mlp": (4, 8, 16, 32), "deep": (8, 16, 32), "explain": (100, 200, 400),
    "evaluate": (5, 10, 20),
}
TARGETS = {  # workload → (largest size, seconds at it, largest exponent of time)
    "chain": (10_000, 3.0, 1.2), "reuse": (80, 2.0, None), "sum": (100_000, 2.0, None),
    "nest": (100, 3.0, None), "mlp": (64, 0.3, 1.2), "deep": (64, 0.1, 1.2), "explain": (800, 2.0, 1.2),
}
WIDTH, BATCH, EVALUATE_N = 64, 128, 1000


def mlp_shapes(depth: int) -> dict:
    return workload_shapes(depth, WIDTH, BATCH)


# ----- measuring -----------------------------------------------------------------------------------


def cpu_best(function, repeat: int) -> tuple[float, object]:
    """The least CPU time of ``repeat`` calls, and the last result."""
    best, result = math.inf, None
    for _ in range(repeat):
        gc.collect()
        start = time.process_time()
        result = function()
        best = min(best, time.process_time() - start)
    return best, result


def exponent(sizes, values) -> float:
    """The least-squares slope of log(value) against log(size)."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.maximum(np.asarray(values, float), 1e-12))
    return float(np.polyfit(x, y, 1)[0])


def _printed(d: md.Derivative, forms) -> int:
    return sum(len(getattr(d, form) or "") for form in forms)


def matdiff_series(workload: str, sizes, repeat: int) -> list[dict]:
    forms = {"chain": ("text", "latex", "index"), "reuse": ("text", "latex", "index"), "sum": ("text",),
             "nest": ("text",), "mlp": ("text", "index"), "deep": ("text", "latex"), "explain": ("explain",)}[workload]
    rows = []
    for n in sizes:
        if workload == "sum":
            source, wrt, shapes = "+".join(["a"] * n), "a", None
        elif workload == "nest":
            source, wrt, shapes = nest(n), ("a", "a", "a"), None
        elif workload == "mlp":
            source, wrt, shapes = mlp(n), "W1", mlp_shapes(n)
        elif workload == "deep":
            source, wrt, shapes = tanh_nest(n), f"W{n}", tanh_nest_shapes(n)
        else:
            source, wrt, shapes = (reuse if workload == "reuse" else chain)(n), "a", None  # chain, explain

        def run(source=source, wrt=wrt, shapes=shapes):
            if workload == "explain":
                shown = str(md.explain(source, wrt=wrt, shapes=shapes))
                return None, len(shown)
            d = md.diff(source, wrt=wrt, shapes=shapes, layout="gradient" if workload == "deep" else "numerator")
            return d, _printed(d, forms)

        seconds, (d, printed) = cpu_best(run, repeat if n < sizes[-1] or workload == "mlp" else max(1, repeat - 1))
        rows.append({"workload": workload, "size": n, "tool": f"matdiff (diff + {' + '.join(forms)})",
                     "seconds": seconds, "output": printed})
        del d
    return rows


def evaluate_series(sizes) -> list[dict]:
    rng = np.random.default_rng(0)
    values = {"A": rng.standard_normal((EVALUATE_N, EVALUATE_N)), "B": rng.standard_normal((EVALUATE_N, EVALUATE_N))}
    md.evaluate("sin(A)", {"A": np.ones((2, 2))})  # imports first
    rows = []
    for n in sizes:
        program = "; ".join(["Z1 = sin(A) + A.*B"] + [f"Z{k} = sin(Z{k - 1}) + Z{k - 1}.*B" for k in range(2, n + 1)]
                            + [f"Z{n}"])
        gc.collect()
        tracemalloc.start()
        start = time.process_time()
        md.evaluate(program, values)
        seconds = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rows.append({"workload": "evaluate", "size": n, "tool": f"md.evaluate ({EVALUATE_N}×{EVALUATE_N})",
                     "seconds": seconds, "output": peak})
    return rows


# ----- peers -----------------------------------------------------------------------------------------


def sympy_series(workload: str, sizes) -> list[dict]:
    import sympy
    from sympy.core.cache import clear_cache

    a = sympy.Symbol("a")
    rows = []
    for n in sizes:
        def build():
            if workload == "chain":
                z = a
                for _ in range(n):
                    z = sympy.sin(z)
                return z.diff(a)
            if workload == "reuse":
                z = a * a + a
                for _ in range(n - 1):
                    z = z * z + z
                return z.diff(a)
            if workload == "sum":
                return sympy.Add(*([a] * n)).diff(a)
            z = a
            for _ in range(n):
                z = sympy.sin(z)
            return z.diff(a, 3)

        def run():
            clear_cache()
            return len(str(build()))

        try:
            seconds, printed = cpu_best(run, 1)
        except RecursionError:  # SymPy's printers recurse once per level of nesting
            break
        rows.append({"workload": workload, "size": n, "tool": "SymPy (diff + str)", "seconds": seconds,
                     "output": printed})
        if seconds > 5:  # the next size would take several times longer
            break
    return rows


def _jax_loss(jnp, depth):
    def loss(W1, rest, X, Y):
        a = jnp.tanh(W1 @ X)
        for W in rest[:-1]:
            a = jnp.tanh(W @ a)
        return 0.5 * jnp.sum((rest[-1] @ a - Y) ** 2)
    return loss


def jax_series(sizes) -> list[dict]:
    """One numeric jax.grad (traced op by op, as a user calls it), and jax.jit(jax.grad)'s first call."""
    from common import block, enable_jax_x64

    jax = enable_jax_x64()
    rng = np.random.default_rng(0)
    rows = []
    for depth in sizes:
        shapes = mlp_shapes(depth)
        values = {name: jax.numpy.asarray(rng.standard_normal(shape) / np.sqrt(shape[-1])) for name, shape in shapes.items()}
        rest = [values[f"W{k}"] for k in range(2, depth + 2)]
        loss = _jax_loss(jax.numpy, depth)
        seconds, _ = cpu_best(lambda: block(jax.grad(loss)(values["W1"], rest, values["X"], values["Y"])), 3)
        rows.append({"workload": "mlp", "size": depth, "tool": f"jax.grad, one call ({WIDTH}×{BATCH})",
                     "seconds": seconds, "output": ""})

        def first_call():
            jax.clear_caches()
            return block(jax.jit(jax.grad(loss))(values["W1"], rest, values["X"], values["Y"]))

        seconds, _ = cpu_best(first_call, 2)
        rows.append({"workload": "mlp", "size": depth, "tool": "jax.jit(jax.grad), first call",
                     "seconds": seconds, "output": ""})
    return rows


def parse_series(sizes, repeat: int) -> list[dict]:
    """The sum's parse alone: matdiff's parser (its fast path for flat chains) beside lark's LALR
    parser with the same grammar and tree builder, the route every other program takes."""
    from matdiff.language import syntax

    rows = []
    for n in sizes:
        source = "+".join(["a"] * n)
        for tool, parse in (("matdiff parse (fast path)", syntax.parse),
                            ("lark parse (same grammar)", syntax._parser().parse)):
            seconds, _ = cpu_best(lambda parse=parse: parse(source), repeat)
            rows.append({"workload": "sum", "size": n, "tool": tool, "seconds": seconds, "output": ""})
    return rows


def compile_series(sizes) -> list[dict]:
    md.diff("x'*A*x", wrt="x", shapes={"x": (2,), "A": (2, 2)}).compile("numpy")  # imports first
    rows = []
    for depth in sizes:
        seconds, _ = cpu_best(lambda: md.diff(mlp(depth), wrt="W1", shapes=mlp_shapes(depth),
                                               layout="gradient").compile("numpy"), 3)
        rows.append({"workload": "mlp", "size": depth, "tool": "matdiff (diff + compile numpy)",
                     "seconds": seconds, "output": ""})
    return rows


# ----- the run -----------------------------------------------------------------------------------------


WORKLOADS = ("chain", "reuse", "sum", "nest", "mlp", "deep", "explain", "evaluate")


def run_all(*, quick: bool = False, only: tuple = WORKLOADS) -> dict:
    sizes = QUICK_SIZES if quick else SIZES
    repeat = 2 if quick else 3
    rows: list[dict] = []
    for workload in ("chain", "reuse", "sum", "nest", "mlp", "deep", "explain"):
        if workload in only:
            rows += matdiff_series(workload, sizes[workload], repeat)
    if "sum" in only:
        rows += parse_series(sizes["sum"], repeat)
    if "mlp" in only:
        rows += compile_series(sizes["mlp"])
    if "evaluate" in only:
        rows += evaluate_series(sizes["evaluate"])
    if have("sympy"):
        sympy_sizes = {"chain": (50, 100, 200, 400), "reuse": (4, 6, 8, 10), "sum": sizes["sum"], "nest": sizes["nest"]}
        for workload, series in sympy_sizes.items():
            if workload in only:
                rows += sympy_series(workload, series)
    if have("jax") and "mlp" in only:
        rows += jax_series(sizes["mlp"])
    return {"rows": rows, "fits": fits(rows)}


def fits(rows: list[dict]) -> list[dict]:
    """Per workload and tool: the exponents of time and output size, and the largest size's time."""
    result = []
    for key in dict.fromkeys((row["workload"], row["tool"]) for row in rows):
        series = [row for row in rows if (row["workload"], row["tool"]) == key]
        if len(series) < 2:
            continue
        sizes = [row["size"] for row in series]
        fit = {"workload": key[0], "tool": key[1], "sizes": f"{sizes[0]}–{sizes[-1]}",
               "largest": series[-1]["seconds"], "time exponent": exponent(sizes, [r["seconds"] for r in series])}
        if all(isinstance(row["output"], int) and row["output"] > 0 for row in series):
            fit["output exponent"] = exponent(sizes, [row["output"] for row in series])
        result.append(fit)
    return result


def targets(results: dict) -> list[dict]:
    """Each target of issue 13 with what this run measured."""
    rows = results["rows"]

    def at(workload, tool_prefix, size):
        found = [r for r in rows if r["workload"] == workload and r["tool"].startswith(tool_prefix) and r["size"] == size]
        return found[0]["seconds"] if found else None

    checks = []
    for workload, (size, limit, largest_exponent) in TARGETS.items():
        seconds = at(workload, "matdiff (diff", size)
        if seconds is None:
            continue  # not run (--only)
        fit = next((f for f in results["fits"] if f["workload"] == workload and f["tool"].startswith("matdiff (diff +")
                    and "compile" not in f["tool"]), None)
        met = seconds < limit and (largest_exponent is None or fit["time exponent"] <= largest_exponent)
        growth = f", exponent {fit['time exponent']:.2f} (≤ {largest_exponent})" if largest_exponent and fit else ""
        checks.append({"target": f"{workload} at {size}: < {limit} s{', exponent ≤ ' + str(largest_exponent) if largest_exponent else ''}",
                       "measured": f"{seconds:.3f} s{growth}", "met": met})
    for depth in SIZES["mlp"]:
        derive, grad = at("mlp", "matdiff (diff", depth), at("mlp", "jax.grad, one call", depth)
        if derive is not None and grad is not None:
            checks.append({"target": f"mlp depth {depth}: deriving faster than one jax.grad",
                           "measured": f"{derive:.3f} s vs {grad:.3f} s", "met": derive < grad})
    compiled, jitted = at("mlp", "matdiff (diff + compile", 32), at("mlp", "jax.jit", 32)
    if compiled is not None and jitted is not None:
        checks.append({"target": "mlp depth 32: derive + compile faster than jax.jit's first call",
                       "measured": f"{compiled:.3f} s vs {jitted:.3f} s", "met": compiled < jitted})
    peaks = {r["size"]: r["output"] for r in rows if r["workload"] == "evaluate"}
    if 5 in peaks and 20 in peaks:
        ratio = peaks[20] / peaks[5]
        checks.append({"target": "evaluate: peak memory, 20 statements within 1.5× of 5",
                       "measured": f"{ratio:.2f}×", "met": ratio <= 1.5})
    return checks


def shown_fits(fits: list[dict]) -> list[dict]:
    """The fits with their exponents as text, for the tables."""
    return [{**f, "time exponent": f"{f['time exponent']:.2f}",
             "output exponent": f"{f['output exponent']:.2f}" if "output exponent" in f else ""} for f in fits]


def plot(results: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(dict.fromkeys(row["workload"] for row in results["rows"]))
    figure, axes = plt.subplots(2, len(workloads), figsize=(3.2 * len(workloads), 6.4), squeeze=False)
    exponents = {(f["workload"], f["tool"]): f for f in results["fits"]}
    for column, workload in enumerate(workloads):
        time_axis, size_axis = axes[0][column], axes[1][column]
        for tool in dict.fromkeys(r["tool"] for r in results["rows"] if r["workload"] == workload):
            series = [r for r in results["rows"] if r["workload"] == workload and r["tool"] == tool]
            fit = exponents.get((workload, tool), {})
            sizes = [r["size"] for r in series]
            label = f"{tool}" + (f" (n^{fit['time exponent']:.2f})" if "time exponent" in fit else "")
            time_axis.plot(sizes, [r["seconds"] for r in series], "o-", label=label)
            if "output exponent" in fit:
                size_axis.plot(sizes, [r["output"] for r in series], "o-",
                               label=f"{tool} (n^{fit['output exponent']:.2f})")
        time_axis.set(title=workload, xscale="log", yscale="log", ylabel="CPU seconds" if column == 0 else None)
        size_axis.set(xscale="log", yscale="log", xlabel="input size",
                      ylabel=("printed characters (evaluate: peak bytes)" if column == 0 else None))
        for axis in (time_axis, size_axis):
            axis.grid(True, which="both", alpha=0.3)
            if axis.lines:
                axis.legend(fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def _arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--plot", default=None, help="where to draw the figure (default bench/scaling_large.png "
                                                      "for a run of every workload, none for --only)")
    parser.add_argument("--only", action="append", choices=WORKLOADS, help="run this workload only (repeatable)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    from run import table

    arguments = _arguments()
    results = run_all(quick=arguments.quick, only=tuple(arguments.only or WORKLOADS))
    results["targets"] = targets(results)
    print(table(results["rows"], ["workload", "size", "tool", "seconds", "output"]))
    print(table(shown_fits(results["fits"]), ["workload", "tool", "sizes", "time exponent", "output exponent"]))
    print(table(results["targets"], ["target", "measured", "met"]))
    if arguments.plot or not arguments.only:
        plot(results, arguments.plot or os.path.join(os.path.dirname(__file__), "scaling_large.png"))
